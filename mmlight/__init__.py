"""mmlight: efficient backbones for MMDetection 3.x.

mmdet learns of mmlight's backbones, layers, necks, hooks, metric, checkpoint filters, the
``mmlight://NAME`` checkpoint scheme and ``_base_ = 'mmlight::NAME.py'`` from
:mod:`mmlight.registration`. A config names it in its one ``custom_imports`` line::

    custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

``import mmlight`` registers the same when the process already uses the training stack (one
of torch, mmcv, mmengine or mmdet is imported, as in mmdet's and mmlight's tools). Otherwise it
imports nothing heavy, so that :mod:`mmlight.runtime` runs exported models with numpy, OpenCV
and onnxruntime or OpenVINO alone, with or without the training stack installed; a script
that imports mmlight first calls :func:`mmlight.register_all_modules` (or imports
``mmlight.registration``) before building a model.
"""

import importlib
import importlib.util
import sys
from typing import Any

from .version import __version__

# the packages whose presence in a process means that it trains, tests or builds models
TRAINING_STACK = ('torch', 'mmcv', 'mmengine', 'mmdet')


def _has_training_stack() -> bool:
    required = ('torch', 'mmengine', 'mmdet')
    return all(importlib.util.find_spec(name) is not None for name in required)


def _training_stack_in_use() -> bool:
    return any(name in sys.modules for name in TRAINING_STACK)


def register_all_modules() -> None:
    """Register mmlight into mmdet's registries (see :mod:`mmlight.registration`)."""
    importlib.import_module('.registration', __name__).register_all_modules()


def __getattr__(name: str) -> Any:
    # sub-packages on first use, as ``import mmlight; mmlight.models`` did when every import
    # registered
    try:
        return importlib.import_module(f'.{name}', __name__)
    except ModuleNotFoundError as error:
        if error.name != f'{__name__}.{name}':
            raise
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}') from None


if _training_stack_in_use() and _has_training_stack():
    register_all_modules()

__all__ = ['__version__', 'register_all_modules']
