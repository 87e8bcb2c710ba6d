"""The OpenVINO backend: the ONNX export converted to OpenVINO IR (:mod:`..openvino_ir`) and run
on the CPU in FP32, BF16 or INT8."""

from __future__ import annotations

import copy
import os.path as osp
import time
from collections.abc import Sequence

import numpy as np

from ..metadata import METADATA_KEY
from ..openvino_ir import (
    COMPUTE_LAYERS,
    HINTS,
    PRECISIONS,
    _openvino,
    check_precision,
    convert_to_openvino,
    count_fake_quantize,
    model_metadata,
)
from .base import Backend, DetectorRunner, ExecutedNode, usable_cores


def onnx_metadata_text(path: str) -> str | None:
    """mmlight's metadata of an .onnx file (OpenVINO runs those too), where the onnx package
    is there to read it."""
    if not path.endswith('.onnx'):
        return None
    try:
        import onnx
    except ImportError:
        return None
    props = onnx.load(path, load_external_data=False).metadata_props
    return next((prop.value for prop in props if prop.key == METADATA_KEY), None)


class OpenVINORunner(DetectorRunner):
    """An exported detector in OpenVINO on the CPU (:class:`DetectorRunner`'s contract).

    Args:
        path: an OpenVINO IR ``.xml`` written by
            :func:`~mmlight.deployment.openvino_ir.convert_to_openvino` (or
            ``tools/deployment/export_onnx.py --backend openvino``), or an mmlight ``.onnx``
            export.
        precision: 'fp32' or 'bf16' for a float IR, 'int8' for a quantized one. Default: the
            precision in the IR's metadata, else 'fp32'.
        num_threads: OpenVINO's inference threads (0: its default, all cores).
        profile: turn on OpenVINO's per-layer performance counters (``PERF_COUNT``) for
            :meth:`layer_times`.
    """

    backend = 'openvino'

    def __init__(
        self, path: str, precision: str | None = None, num_threads: int = 0, profile: bool = False
    ):
        ov = _openvino()
        if precision is not None:
            check_precision(precision, self.name)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{self.name}: no model file at {path}')
        core = ov.Core()
        model = core.read_model(path)
        self.path = path
        self.num_threads = num_threads
        self._core, self._model = core, model
        self._metadata_text = model_metadata(model, 'deploy') or onnx_metadata_text(path)
        self.output_names = tuple(output.get_any_name() for output in model.outputs)
        self.check_signature(path, [i.get_any_name() for i in model.inputs])
        shape = model.inputs[0].get_partial_shape()
        self.input_shape = tuple(dim.get_length() if dim.is_static else None for dim in shape)
        self.precision = check_precision(
            precision or model_metadata(model, 'precision') or 'fp32', self.name
        )
        quantized = count_fake_quantize(model) > 0
        if quantized and self.precision != 'int8':
            raise ValueError(
                f'{self.name}: {path} is quantized: it runs as int8, not {self.precision}'
            )
        if not quantized and self.precision == 'int8':
            raise ValueError(
                f'{self.name}: int8 needs a quantized IR (export_onnx.py '
                f'--backend openvino --precision int8); {path} holds no '
                f'FakeQuantize node'
            )
        config = self._compile_config()
        if profile:
            config['PERF_COUNT'] = True
        self.compiled = core.compile_model(model, 'CPU', config)
        self.request = self.compiled.create_infer_request()

    def _compile_config(self) -> dict[str, object]:
        config: dict[str, object] = {'INFERENCE_PRECISION_HINT': HINTS[self.precision]}
        if self.num_threads:
            config['INFERENCE_NUM_THREADS'] = int(self.num_threads)
        return config

    def metadata_text(self) -> str | None:
        return self._metadata_text

    def for_requests(self, requests: int) -> list[DetectorRunner]:
        """The model compiled once more for throughput (OpenVINO's ``THROUGHPUT`` hint with one
        stream per request, at most one per core, the cores divided between the streams), one
        infer request each: requests of the latency-compiled model would take turns on one
        stream, and more streams than cores would take turns on the cores."""
        self.check_requests(requests)
        if requests == 1:
            return [self]
        config = self._compile_config()
        streams = min(requests, usable_cores())
        config.update({'PERFORMANCE_HINT': 'THROUGHPUT', 'NUM_STREAMS': streams})
        compiled = self._core.compile_model(self._model, 'CPU', config)
        runners: list[DetectorRunner] = []
        for _ in range(requests):
            runner = copy.copy(self)
            runner.compiled = compiled
            runner.request = compiled.create_infer_request()
            runners.append(runner)
        return runners

    def for_another_thread(self) -> OpenVINORunner:
        """The same compiled model with an infer request of its own (one request runs one
        image at a time)."""
        other = copy.copy(self)
        other.request = self.compiled.create_infer_request()
        return other

    @property
    def precision_used(self) -> str:
        """The inference precision the compiled model runs ('f32' or 'bf16'): 'bf16' falls back
        to 'f32' on a CPU without BF16 support."""
        hint = self.compiled.get_property('INFERENCE_PRECISION_HINT')
        return hint.get_type_name() if hasattr(hint, 'get_type_name') else str(hint)

    def compute_precisions(self) -> dict[str, int]:
        """How many convolutions and matrix products (OpenVINO's executed layers) run in each
        precision ('u8', 'i8', 'bf16', 'f32', ...): an int8 IR that silently ran in float, or a
        bf16 hint that fell back, shows here."""
        counts: dict[str, int] = {}
        for op in self.compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            layer = info['layerType'].astype(str) if 'layerType' in info else ''
            if layer in COMPUTE_LAYERS and 'runtimePrecision' in info:
                precision = info['runtimePrecision'].astype(str)
                counts[precision] = counts.get(precision, 0) + 1
        return counts

    def describe(self) -> str:
        layers = ', '.join(
            f'{count} in {precision}'
            for precision, count in sorted(self.compute_precisions().items())
        )
        return (
            f'OpenVINO: {self.precision} asked for; inference precision '
            f'{self.precision_used}; convolutions and matrix products: {layers}'
        )

    def layer_times(self) -> list[ExecutedNode]:
        """The layers the last call executed (needs ``profile=True``): for each, the names of
        the IR's nodes it was built from (OpenVINO fuses several into one layer), its type with
        the precision it ran in (e.g. ``'Convolution i8'``) and its seconds."""
        fused = {
            op.get_friendly_name(): op.get_rt_info()['originalLayersNames'].astype(str)
            for op in self.compiled.get_runtime_model().get_ops()
        }
        layers = []
        for info in self.request.get_profiling_info():
            if info.status != info.Status.EXECUTED:
                continue
            names = tuple(fused.get(info.node_name, info.node_name).split(','))
            # the kernel's name ends in its precision: brgconv_avx512_amx_i8, jit_avx512_f32
            precision = info.exec_type.rsplit('_', 1)[-1].lower()
            layers.append((names, f'{info.node_type} {precision}', info.real_time.total_seconds()))
        return layers

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        results = self.request.infer({'image': image})
        return {output.get_any_name(): np.array(value) for output, value in results.items()}


def convert(
    onnx_file: str,
    out_file: str,
    precision: str = 'fp32',
    calibration: Sequence[np.ndarray] | None = None,
    metadata: dict | None = None,
) -> str:
    """:func:`~mmlight.deployment.openvino_ir.convert_to_openvino`; ``metadata['source']``
    names what the IR came from, the rest (where the calibration images came from) goes into
    its metadata with int8."""
    info = dict(metadata or {})
    source = info.pop('source', None)
    return convert_to_openvino(
        onnx_file,
        out_file,
        precision,
        source=source,
        calibration=calibration,
        calibration_info=info or None,
    )


def profile(
    xml_file: str, image: np.ndarray, iters: int = 3, precision: str | None = None
) -> tuple[list[ExecutedNode], float]:
    """OpenVINO's performance counters (``PERF_COUNT``) over ``iters`` runs after one warm-up:
    the executed layers (the IR nodes each was fused from, OpenVINO's layer type with the
    precision it ran in: 'Convolution i8', 'Subgraph f32') and the runs' total seconds."""
    runner = OpenVINORunner(xml_file, precision, profile=True)
    runner(image)  # warm-up
    nodes: list[ExecutedNode] = []
    total = 0.0
    for _ in range(iters):
        started = time.perf_counter()
        runner(image)
        total += time.perf_counter() - started
        nodes += runner.layer_times()
    return nodes, total


BACKEND = Backend(
    name='openvino',
    suffix='.xml',
    precisions=PRECISIONS,
    runner=OpenVINORunner,
    convert=convert,
    profile=profile,
    requires=('openvino', 'nncf'),
    calibrated=('int8',),
    shared_files={'bf16': 'fp32'},
)
