"""Deployment: the export-friendly inference path of mmdet detectors, ONNX export with
torch's exporter and inference in onnxruntime."""
from .detector import DeployableDetector, detector_layout

__all__ = ['DeployableDetector', 'detector_layout']
