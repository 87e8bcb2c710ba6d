"""Deployment: the export-friendly inference path of mmdet detectors (:mod:`.detector`), ONNX
export (:mod:`.export`), the export's metadata (:mod:`.metadata`) and the backend table
(:mod:`.backends`): one module per runtime, each with its conversion and its runner. The
backends import from the rest of the package, never the other way: :mod:`.predict` and
:mod:`.evaluate` take any backend's runner.

The names below are imported when first used, so that the backend table and the metadata
(numpy only) load without torch, as :mod:`mmlight.runtime` needs.
"""

import importlib

__all__ = ['DeployableDetector', 'DetectorKind', 'detector_kind']


def __getattr__(name):
    if name in __all__:
        return getattr(importlib.import_module('.detector', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
