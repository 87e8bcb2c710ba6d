"""Deprecated: the export moved to :mod:`mmlight.deployment.export`, the onnxruntime runner to
:mod:`mmlight.deployment.backends.onnxruntime`."""

from ._deprecated import forward

MOVED = {
    'export_onnx': ('mmlight.deployment.export', 'export_onnx'),
    'dynamic_example_shape': ('mmlight.deployment.export', 'dynamic_example_shape'),
    'OnnxDetector': ('mmlight.deployment.backends.onnxruntime', 'OnnxRuntimeRunner'),
}


def __getattr__(name):
    return forward(__name__, MOVED, name)
