"""Model analysis: parameters and FLOPs of whole detectors and their backbones; inference
callables per runtime for the benchmark (:mod:`mmlight.analysis.inference`) and where their
time goes (:mod:`mmlight.analysis.profile`)."""

from .complexity import detector_complexity

__all__ = ['detector_complexity']
