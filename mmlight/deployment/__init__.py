"""Deployment: the export-friendly inference path of mmdet detectors (:mod:`.detector`), ONNX
export (:mod:`.export`), OpenVINO conversion (:mod:`.openvino_ir`) and the backend table with
one runner per runtime (:mod:`.backends`).

The names below are imported when first used, so that the backend table and the metadata
(numpy only) load without torch, as :mod:`mmlight.runtime` needs.
"""

import importlib

__all__ = ['DeployableDetector', 'DetectorKind', 'detector_kind', 'detector_layout']


def __getattr__(name):
    if name in __all__:
        return getattr(importlib.import_module('.detector', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
