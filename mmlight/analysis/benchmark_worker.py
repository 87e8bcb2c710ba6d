"""The measurement a ``tools/analysis/benchmark_inference.py --worker`` process makes, each
in a fresh process (its peak memory is its own).

The peak memory of an exported runtime imports neither torch nor mmdet, and the CPU's
matrix-product peak imports torch alone: what a worker imports is not what it measures, and
such a worker starts in about a second instead of eight. The workers that build the detector
(timing, profile, an eager runtime's memory) run
:func:`mmlight.analysis.inference_benchmark.model_worker`.
"""

from __future__ import annotations

from typing import Any

from .runtimes import exported_peak_memory, exported_runtimes


def worker(args: Any) -> dict[str, Any]:
    """The result of the worker ``args.worker`` names.

    Args:
        args: the tool's parsed arguments (``worker``, ``configs``, ``shape``, ``onnx``, ...).

    Returns:
        What the worker measured, as the row's keys.
    """
    if args.worker == 'peak':
        from mmlight.utils.benchmark import matmul_peak_gflops

        return {'peak_gflops': matmul_peak_gflops()}
    label = args.worker[len('memory-') :] if args.worker.startswith('memory-') else None
    if label in exported_runtimes():
        return exported_peak_memory(args.onnx, label, args.shape[0])
    from .inference_benchmark import model_worker

    return model_worker(args)
