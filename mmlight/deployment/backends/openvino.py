"""The OpenVINO backend: an mmlight ONNX export converted to OpenVINO IR (``.xml`` + ``.bin``) for
the CPU in FP32, BF16 or INT8, and run there.

OpenVINO reads what :func:`mmlight.deployment.export.export_onnx` writes (NonZero,
NonMaxSuppression, RoiAlign, TopK, GridSample) without custom operators.

- ``fp32`` and ``bf16`` run the same FP32 IR; ``bf16`` sets OpenVINO's
  ``INFERENCE_PRECISION_HINT`` to bf16 (the matrix units of CPUs with AMX-BF16 or AVX512-BF16).
  On a CPU without BF16 support the hint falls back to f32, and
  :attr:`OpenVINORunner.precision_used` says what ran.
- ``int8`` is post-training quantization with NNCF (:func:`quantize_to_int8`) on calibration
  images: the inputs of every convolution and matrix product get FakeQuantize nodes and run in
  INT8 (AMX-INT8, AVX512-VNNI); every other operation, the post-processing (box decoding, NMS,
  RoIAlign, TopK, mask pasting) included, stays in float, inferred in f32.

The precision an IR was made for, and for int8 the calibration settings, are kept in its
metadata; the precision is the runner's default.
"""

from __future__ import annotations

import copy
import logging
import os
import os.path as osp
import time
from collections.abc import Sequence

import numpy as np

from ..metadata import METADATA_KEY, DeployMetadata
from .base import Backend, DetectorRunner, ExecutedNode, import_runtime, usable_cores


def onnx_metadata_text(path: str) -> str | None:
    """mmlight's metadata of an .onnx file (OpenVINO runs those too).

    Args:
        path: the model file.

    Returns:
        The JSON it holds under ``mmlight``; None for another file, or where the onnx package
        is not there to read it.
    """
    if not path.endswith('.onnx'):
        return None
    try:
        import onnx
    except ImportError:
        return None
    props = onnx.load(path, load_external_data=False).metadata_props
    return next((prop.value for prop in props if prop.key == METADATA_KEY), None)


PRECISIONS = ('fp32', 'bf16', 'int8')
# OpenVINO's inference precision for what is not quantized: an int8 IR keeps its float parts
# (the post-processing among them) in f32
HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'int8': 'f32'}
# the operations whose inputs int8 quantizes; NNCF ignores every other type in the graph
QUANTIZED_TYPES = ('Convolution', 'GroupConvolution', 'ConvolutionBackpropData', 'MatMul')
# OpenVINO's CPU layers that do the arithmetic of those
COMPUTE_LAYERS = ('Convolution', 'GroupConvolution', 'Deconvolution', 'FullyConnected', 'MatMul')


def _openvino():
    return import_runtime('openvino', 'OpenVINO')


def cpu_capabilities():
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of this CPU ('FP32', 'BF16', 'INT8', ...)."""
    return [str(c) for c in _openvino().Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')]


def convert_to_openvino(
    onnx_file: str,
    xml_file: str,
    precision: str = 'fp32',
    source: str | None = None,
    calibration: Sequence[np.ndarray] | None = None,
    calibration_info: dict | None = None,
) -> str:
    """Convert an mmlight ONNX export to OpenVINO IR (``xml_file`` and the ``.bin`` beside it).

    Args:
        onnx_file: the export.
        xml_file: the IR to write.
        precision: the precision the IR runs in by default, kept in its metadata; 'int8'
            quantizes it on ``calibration`` (NNCF).
        source: what it came from (e.g. the config), kept in its metadata.
        calibration: int8's calibration images, float32 ``[1, 3, H, W]`` each, as the runner
            takes them.
        calibration_info: where the images came from, recorded beside NNCF's settings.

    Returns:
        ``xml_file``.
    """
    ov = _openvino()
    BACKEND.check_precision(precision)
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'convert_to_openvino: no ONNX file at {onnx_file}')
    model = ov.convert_model(onnx_file)
    if precision == 'int8':
        if not calibration:
            raise ValueError('convert_to_openvino: int8 needs calibration images, got none')
        model = quantize_to_int8(model, calibration)
        info = dict(
            calibration_info or {},
            calibration_images=len(calibration),
            quantized_types=','.join(QUANTIZED_TYPES),
        )
        for key, value in info.items():
            model.set_rt_info(str(value), [METADATA_KEY, key])
    model.set_rt_info(precision, [METADATA_KEY, 'precision'])
    model.set_rt_info(str(source or osp.basename(onnx_file)), [METADATA_KEY, 'source'])
    text = onnx_metadata_text(onnx_file)
    if text is not None:  # the export's own, with what the conversion added
        deploy = DeployMetadata.from_json(text, onnx_file)
        deploy.precision = precision
        deploy.calibration = info if precision == 'int8' else None
        model.set_rt_info(deploy.to_json(), [METADATA_KEY, 'deploy'])
    if osp.dirname(xml_file):
        os.makedirs(osp.dirname(xml_file), exist_ok=True)
    ov.save_model(model, xml_file, compress_to_fp16=False)
    return xml_file


def quantize_to_int8(model, images: Sequence[np.ndarray]):
    """NNCF post-training quantization of an OpenVINO model.

    Statistics from ``images``, FakeQuantize on the inputs of ``QUANTIZED_TYPES``, every other
    operation type in the ignored scope (kept in float).

    Args:
        model: the OpenVINO model (``openvino.convert_model``'s).
        images: the calibration images, float32 ``[1, 3, H, W]`` each.

    Returns:
        The quantized model.
    """
    try:
        import nncf
    except ImportError as err:
        raise ImportError(
            'int8 needs the nncf package: pip install nncf (or bash tools/ensure_env.sh)'
        ) from err
    kept_float = sorted({op.get_type_name() for op in model.get_ops()} - set(QUANTIZED_TYPES))
    dataset = nncf.Dataset(list(images), lambda image: {'image': image})
    # NNCF logs a line for each operation of the ignored scope at INFO (hundreds of them);
    # its warnings still show, and its logger is as it was afterwards
    logger = logging.getLogger('nncf')
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        return nncf.quantize(
            model,
            dataset,
            subset_size=len(images),
            ignored_scope=nncf.IgnoredScope(types=kept_float, validate=False),
        )
    finally:
        logger.setLevel(level)


def count_fake_quantize(model) -> int:
    """The FakeQuantize nodes of a model (an int8 IR has one per quantized input).

    Args:
        model: an OpenVINO model.

    Returns:
        Their number.
    """
    return sum(op.get_type_name() == 'FakeQuantize' for op in model.get_ops())


def model_metadata(model, key: str) -> str | None:
    """A value mmlight wrote into an IR's metadata.

    Args:
        model: an OpenVINO model.
        key: 'precision', 'source', 'calibration_images', ...

    Returns:
        The value as a string, or None where the model has none.
    """
    if model.has_rt_info([METADATA_KEY, key]):
        return str(model.get_rt_info([METADATA_KEY, key]).astype(str))
    return None


class OpenVINORunner(DetectorRunner):
    """An exported detector in OpenVINO on the CPU (:class:`DetectorRunner`'s contract).

    Args:
        path: an OpenVINO IR ``.xml`` written by
            :func:`convert_to_openvino` (or
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
        BACKEND.check_precision(precision)
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
        self.precision = precision or model_metadata(model, 'precision') or 'fp32'
        BACKEND.check_precision(self.precision)
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

    @property
    def arithmetic(self) -> str:
        """'fp32' where bf16 was asked for and the CPU has no BF16 units (OpenVINO then runs
        f32), else the runner's precision."""
        if self.precision == 'bf16' and self.precision_used != 'bf16':
            return 'fp32'
        return self.precision

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
    """The backend table's conversion: :func:`convert_to_openvino`.

    Args:
        onnx_file: the export.
        out_file: the IR to write.
        precision: 'fp32', 'bf16' or 'int8'.
        calibration: int8's calibration images.
        metadata: ``source`` names what the IR came from; the rest (where the calibration
            images came from) goes into an int8 IR's metadata.

    Returns:
        ``out_file``.
    """
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
    """OpenVINO's performance counters (``PERF_COUNT``) over ``iters`` runs after one warm-up.

    Args:
        xml_file: the IR (or an .onnx export).
        image: float32 ``[1, 3, H, W]``.
        iters: the timed runs.
        precision: the precision to run in (None: the IR's own).

    Returns:
        The executed layers (the IR nodes each was fused from, OpenVINO's layer type with the
        precision it ran in: 'Convolution i8', 'Subgraph f32', seconds) and the runs' total
        seconds.
    """
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
