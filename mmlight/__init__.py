"""mmlight: efficient backbones for MMDetection 3.x.

``import mmlight`` (or ``custom_imports = dict(imports=['mmlight'])`` in a config) registers
every backbone, layer, neck and hook into mmdet's registries, each family's checkpoint
converter as the filter of its backbones' Pretrained loading, and the ``mmlight://NAME``
checkpoint scheme, and lets configs inherit mmlight's (``_base_ = 'mmlight::NAME.py'``). It
changes nothing about how other checkpoints or configs are loaded.

Where the training stack (torch, mmengine, mmdet) is not installed, as with
``pip install mmlight[runtime]``, it registers nothing: :mod:`mmlight.runtime` runs exported
models with numpy, OpenCV and onnxruntime or OpenVINO alone.
"""

import importlib.util

from .version import __version__

TRAINING_STACK = ('torch', 'mmengine', 'mmdet')


def _has_training_stack() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in TRAINING_STACK)


if _has_training_stack():
    # importing these registers mmlight's modules, checkpoint filters and the mmlight:// scheme
    from . import converters, engine, evaluation, models, weights  # noqa: F401
    from .utils.package_configs import register_config_bases

    register_config_bases()

__all__ = ['__version__']
