"""Timing and peak memory, shared by the benchmark tools (tools/analysis/).

torch is imported where a function needs it (a CUDA device, the matrix-product peak), so that
the runtime's benchmark times its rounds without the training stack.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any


def _proc_status_bytes(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f'{field} not in /proc/self/status')


def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets the peak resident set (VmHWM) to the current."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def sync(device: Any = None) -> None:
    """Wait for a CUDA device's queued work (nothing to wait for on the CPU)."""
    if device is not None and device.type == 'cuda':
        import torch

        torch.cuda.synchronize()


def timed(fn, iters, warmup, device=None):
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / max(iters, 1)


# the precisions whose matrix-product peak the benchmarks measure (torch dtype names)
PEAK_DTYPES = {'fp32': 'float32', 'bf16': 'bfloat16', 'int8': 'int8'}


def matmul_peak_gflops(
    size: int = 2048, iters: int = 10, budget_s: float = 2.0
) -> dict[str, float]:
    """GFLOP/s of a square matrix product (2 n^3 FLOPs) per precision in torch, with torch's
    threads: the CPU's measured compute peak for FP32, BF16 (the AMX / AVX512-BF16 units where
    there are some) and INT8 (``torch._int_mm``, int32 accumulation; VNNI / AMX). A precision
    this torch build cannot multiply is left out.

    The side grows from 256 to ``size`` while a measurement stays within ``budget_s``: a
    precision the CPU has no units for (BF16 on an AVX2-only CPU runs about 400 times slower
    than FP32) is measured on a smaller product instead of taking minutes."""
    import torch

    peaks = {}
    for name, dtype_name in PEAK_DTYPES.items():
        dtype = getattr(torch, dtype_name)
        fn = getattr(torch, '_int_mm', None) if dtype == torch.int8 else torch.matmul
        if fn is None:
            continue
        side = 256
        try:
            while True:
                a, b = _matmul_operands(side, dtype)
                once = timed(lambda fn=fn, a=a, b=b: fn(a, b), 1, warmup=1, device=None)
                # the next side costs 8 times as much
                if side * 2 > size or once * 8 * (iters + 1) > budget_s:
                    break
                side *= 2
            runs = max(1, min(iters, int(budget_s / max(once, 1e-9))))
            seconds = timed(lambda fn=fn, a=a, b=b: fn(a, b), runs, warmup=1, device=None)
        except RuntimeError:  # not implemented for this dtype on this CPU / build
            continue
        peaks[name] = 2 * side**3 / seconds / 1e9
    return peaks


def _matmul_operands(side: int, dtype):
    import torch

    generator = torch.Generator().manual_seed(0)
    if dtype == torch.int8:
        return tuple(
            torch.randint(-64, 64, (side, side), dtype=dtype, generator=generator) for _ in range(2)
        )
    return tuple(torch.randn(side, side, generator=generator).to(dtype) for _ in range(2))


class PeakMemory:
    """The peak memory of what runs inside the block, above the memory before it (``mib``):
    a CUDA device's allocations, else the process's peak resident set.

    Args:
        device: a torch device; None (no torch needed) or a CPU device for the process.
    """

    def __init__(self, device: Any = None):
        self.cuda = getattr(device, 'type', 'cpu') == 'cuda'

    def __enter__(self):
        if self.cuda:
            import torch

            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.resettable = reset_peak_rss()
            self.base = _proc_status_bytes('VmRSS')
        return self

    def __exit__(self, *exc):
        if self.cuda:
            import torch

            peak = torch.cuda.max_memory_allocated()
        elif self.resettable:
            peak = _proc_status_bytes('VmHWM')
        else:  # the peak since the process started: an upper bound
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.mib = max(peak - self.base, 0) / 2**20


def alternating_rounds(
    fns: dict[str, Callable],
    iters: int,
    warmup: int = 1,
    device: Any = None,
    rounds: int = 5,
):
    """Median seconds per call of each function, timed in one process in alternating rounds
    (a, b, b, a, a, b, ...): drifts of a shared machine hit every function alike."""
    rounds = max(1, min(iters, rounds))
    per_round = max(1, iters // rounds)
    for fn in fns.values():
        timed(fn, 0, warmup, device)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for name in order:
            samples[name].append(timed(fns[name], per_round, 0, device))
    return {name: sorted(times)[len(times) // 2] for name, times in samples.items()}


RESULT_PREFIX = 'RESULT '


def emit_result(result: dict):
    """A worker's answer to :func:`run_isolated`: one line on stdout."""
    import json

    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_isolated(cmd, what: str) -> dict:
    """Run a worker command (a fresh Python process: its peak memory is its own) and return
    the dict it printed with :func:`emit_result`."""
    import json
    import subprocess

    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'{what} failed:\n{out.stderr[-3000:]}')
    lines = [line for line in out.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise RuntimeError(f'{what} printed no result:\n{out.stdout[-2000:]}')
    return json.loads(lines[-1][len(RESULT_PREFIX) :])
