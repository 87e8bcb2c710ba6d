"""Model analysis: parameters and FLOPs of whole detectors and their backbones; inference
callables per runtime for the benchmark (:mod:`mmlight.analysis.inference`) and where their
time goes (:mod:`mmlight.analysis.profile`).

:func:`detector_complexity` is imported on first use: the torch-free modules here
(:mod:`mmlight.analysis.runtimes`, :mod:`mmlight.analysis.benchmark_worker`) import neither
torch nor mmdet through this package.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .complexity import detector_complexity


def __getattr__(name: str) -> Any:
    if name == 'detector_complexity':
        from .complexity import detector_complexity

        return detector_complexity
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['detector_complexity']
