"""Exported mmlight detectors on images, without the training stack.

Needs numpy, OpenCV and one runtime, onnxruntime or OpenVINO (``pip install mmlight[runtime]``);
imports no torch, mmcv, mmengine or mmdet. The model file (``tools/deployment/export_onnx.py``)
carries its preprocessing, classes and input size, so no config is needed::

    from mmlight.runtime import Detector
    detector = Detector('det.xml')
    found = detector('image.jpg')

The command line: ``python -m mmlight.runtime MODEL IMAGE_OR_FOLDER ...`` (also
``mmlight-detect``).
"""

from .detector import Detections, Detector
from .image import ImageReadError, read_image

__all__ = ['Detections', 'Detector', 'ImageReadError', 'read_image']
