"""The onnxruntime backend: the ONNX export itself, run on the CPU in FP32.

The graph holds only standard ONNX operators (NonMaxSuppression, RoiAlign, NonZero, TopK,
GridSample, ...): plain onnxruntime runs it, no custom-op library.
"""

from __future__ import annotations

import json
import os
import os.path as osp
import shutil
import tempfile
from collections.abc import Sequence

import numpy as np

from ..metadata import METADATA_KEY
from .base import Backend, DetectorRunner, ExecutedNode, import_runtime, usable_cores


class OnnxRuntimeRunner(DetectorRunner):
    """An exported detector in onnxruntime (:class:`DetectorRunner`'s contract).

    Args:
        onnx_file: a file written by :func:`mmlight.deployment.export.export_onnx`.
        precision: 'fp32' (the only one; None means it).
        num_threads: onnxruntime's intra-op threads (0: its default, all cores).
        profile: record onnxruntime's per-operator profile of every call until
            :meth:`end_profiling` (a JSON trace in the temporary directory).
    """

    backend = 'onnxruntime'

    def __init__(
        self,
        onnx_file: str,
        precision: str | None = None,
        num_threads: int = 0,
        profile: bool = False,
    ):
        ort = import_runtime('onnxruntime', 'onnxruntime')
        BACKEND.check_precision(precision)
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'{self.name}: no ONNX file at {onnx_file}')
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        if profile:
            options.enable_profiling = True
            options.profile_file_prefix = osp.join(tempfile.gettempdir(), 'mmlight_ort_profile')
        self.path = onnx_file
        self.num_threads = num_threads
        self.session = ort.InferenceSession(onnx_file, options, providers=['CPUExecutionProvider'])
        inputs = self.session.get_inputs()
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self.check_signature(onnx_file, [i.name for i in inputs])
        self.input_shape = tuple(
            size if isinstance(size, int) else None for size in inputs[0].shape
        )

    def metadata_text(self) -> str | None:
        return self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(None, {'image': image}), strict=True))

    def for_requests(self, requests: int) -> list[DetectorRunner]:
        """One session per request, at most one per core, the cores divided between them
        (``num_threads`` each where it was given); more requests than sessions share them
        (a session runs several calls at once, on its one thread pool)."""
        self.check_requests(requests)
        if requests == 1:
            return [self]
        count = min(requests, usable_cores())
        threads = self.num_threads or max(1, usable_cores() // count)
        sessions = [OnnxRuntimeRunner(self.path, num_threads=threads) for _ in range(count)]
        return [sessions[i % count] for i in range(requests)]

    def end_profiling(self) -> str:
        """Stop the profiler started by ``profile=True``; the path of its JSON trace."""
        return self.session.end_profiling()


def convert(
    onnx_file: str,
    out_file: str,
    precision: str = 'fp32',
    calibration: Sequence[np.ndarray] | None = None,
    metadata: dict | None = None,
) -> str:
    """The model file of onnxruntime is the ONNX export: copied to ``out_file`` where that
    is another path."""
    BACKEND.check_precision(precision)
    if not (osp.exists(out_file) and osp.samefile(onnx_file, out_file)):
        if osp.dirname(out_file):
            os.makedirs(osp.dirname(out_file), exist_ok=True)
        shutil.copyfile(onnx_file, out_file)
    return out_file


def profile(
    onnx_file: str, image: np.ndarray, iters: int = 3, precision: str | None = None
) -> tuple[list[ExecutedNode], float]:
    """onnxruntime's profiler over ``iters`` runs after one warm-up: each executed node (its
    exported name and ONNX operator type) with its seconds, and the runs' total seconds."""
    session = OnnxRuntimeRunner(onnx_file, precision, profile=True)
    for _ in range(iters + 1):
        session(image)
    trace = session.end_profiling()
    try:
        with open(trace) as f:
            events = json.load(f)
    finally:
        os.remove(trace)
    runs = sorted((e['ts'], e['dur']) for e in events if e.get('name') == 'model_run')
    if len(runs) != iters + 1:
        raise RuntimeError(
            f'onnxruntime profile of {onnx_file}: expected {iters + 1} runs, found {len(runs)}'
        )
    nodes: list[ExecutedNode] = [
        ((event['name'][: -len('_kernel_time')],), event['args']['op_name'], event['dur'] * 1e-6)
        for event in events
        if (
            event.get('cat') == 'Node'
            and event['name'].endswith('_kernel_time')
            and event['ts'] >= runs[1][0]
        )
    ]  # the warm-up run does not count
    return nodes, float(sum(dur for _, dur in runs[1:]) * 1e-6)


BACKEND = Backend(
    name='onnxruntime',
    suffix='.onnx',
    precisions=('fp32',),
    runner=OnnxRuntimeRunner,
    convert=convert,
    profile=profile,
    requires=('onnxruntime',),
)
