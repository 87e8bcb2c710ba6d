"""Deployment: the export-friendly inference path of mmdet detectors, ONNX export with
torch's exporter and inference in onnxruntime."""

from .detector import DeployableDetector, DetectorKind, detector_kind, detector_layout

__all__ = ['DeployableDetector', 'DetectorKind', 'detector_kind', 'detector_layout']
