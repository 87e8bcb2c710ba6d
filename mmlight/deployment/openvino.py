"""Deprecated: the conversion moved to :mod:`mmlight.deployment.openvino_ir`, the runner to
:mod:`mmlight.deployment.backends.openvino`."""

from ._deprecated import forward

_IR = 'mmlight.deployment.openvino_ir'
MOVED = {
    'convert_to_openvino': (_IR, 'convert_to_openvino'),
    'quantize_to_int8': (_IR, 'quantize_to_int8'),
    'PRECISIONS': (_IR, 'PRECISIONS'),
    'OpenVINODetector': ('mmlight.deployment.backends.openvino', 'OpenVINORunner'),
}


def __getattr__(name):
    return forward(__name__, MOVED, name)
