"""The benchmark's runtimes by label, without torch: 'eager' and 'eager_fused' (the PyTorch
model) and one label per (backend, precision) pair of the deployment backend table
(:attr:`mmlight.deployment.backends.Runtime.label`: 'onnxruntime', 'openvino_int8'); where each
keeps its model file; what a runtime achieves of the CPU's peak; and the peak memory of an
exported runtime, which a benchmark worker measures in a process without the training stack
(:mod:`mmlight.analysis.benchmark_worker`)."""

import os.path as osp
from collections.abc import Sequence

from mmlight.deployment.backends import Runtime, get_backend, runtimes

# the runtimes that run the PyTorch model
EAGER_RUNTIMES = ('eager', 'eager_fused')
# the runtime the exported ones are compared with, and whose FP32 graph they convert
EXPORT_REFERENCE = 'onnxruntime'
# mmdet's own configs, the references a user would pick instead
REFERENCES = {
    'mmdet_faster_rcnn_r50': 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mmdet_retinanet_r50': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'mmdet_rtmdet_tiny': 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
}


def exported_runtimes(available_only: bool = False) -> dict[str, Runtime]:
    """Label -> (backend, precision) of every exported runtime in the backend table."""
    return {runtime.label: runtime for runtime in runtimes(available_only)}


def runtime_labels() -> list[str]:
    """Every runtime the benchmark knows: the eager ones, then the table's pairs."""
    return list(EAGER_RUNTIMES) + list(exported_runtimes())


def available_runtimes() -> list[str]:
    """The runtimes this environment can run (a backend's need its packages)."""
    return list(EAGER_RUNTIMES) + list(exported_runtimes(available_only=True))


def runtime_precision(label: str) -> str:
    """The precision of a runtime's arithmetic ('fp32' for the eager ones)."""
    return 'fp32' if label in EAGER_RUNTIMES else exported_runtimes()[label].precision


def peak_share(row: dict, runtime: str) -> tuple[float, float] | None:
    """(achieved GFLOP/s, the CPU's peak GFLOP/s in the precision the runtime computed in) of a
    benchmark row (two FLOPs per multiply-add: mmengine's count is of multiply-adds).

    The precision is the one the row says the runtime ran in (``RUNTIME_arithmetic``: OpenVINO's
    bf16 runs f32 on a CPU without BF16 units), else the runtime's own. None where the row has
    no time or no peak for it, or where torch's product in that precision was slower than in
    fp32: the CPU has no units for it, or torch no fast kernel (int8 on an AVX2-only CPU), and
    that measurement is no peak of the CPU's."""
    peaks = row.get('peak_gflops', {})
    precision = row.get(f'{runtime}_arithmetic', runtime_precision(runtime))
    peak = peaks.get(precision)
    if f'{runtime}_s' not in row or not peak:
        return None
    if precision != 'fp32' and peak < peaks.get('fp32', 0):
        return None
    return 2 * row['gflops'] / row[f'{runtime}_s'], peak


def model_file(onnx_file: str, runtime: Runtime) -> str:
    """Where the benchmark keeps the model file that ``runtime`` runs, beside ``onnx_file``
    (one file per backend and file precision: OpenVINO's bf16 runs the fp32 IR)."""
    backend = get_backend(runtime.backend)
    precision = backend.file_precision(runtime.precision)
    if backend.suffix == osp.splitext(onnx_file)[1] and precision == backend.default_precision:
        return onnx_file  # the export itself is this backend's model file
    return f'{osp.splitext(onnx_file)[0]}.{backend.name}.{precision}{backend.suffix}'


def exported_peak_memory(onnx_file: str, label: str, shape: Sequence[int]) -> dict[str, float]:
    """The peak memory of an exported runtime: its runner built on the model file
    :func:`model_file` names, and one random image of ``shape`` through it, above the process
    before (MiB, as ``LABEL_peak_mib``).

    Args:
        onnx_file: the exported graph the benchmark's model files sit beside.
        label: an exported runtime's label.
        shape: the image's height and width.

    Returns:
        ``{'LABEL_peak_mib': MiB}``.
    """
    import numpy as np

    from mmlight.deployment.backends import load_runner
    from mmlight.utils.benchmark import PeakMemory

    runtime = exported_runtimes()[label]
    with PeakMemory() as memory:
        runner = load_runner(runtime.backend, model_file(onnx_file, runtime), runtime.precision)
        image = np.random.default_rng(0).integers(0, 256, (1, 3, *shape), dtype=np.uint8)
        runner(image.astype(np.float32))
    return {f'{label}_peak_mib': memory.mib}
