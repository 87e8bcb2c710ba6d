"""Model analysis: parameters and FLOPs of whole detectors and their backbones."""
from .complexity import detector_complexity

__all__ = ['detector_complexity']
