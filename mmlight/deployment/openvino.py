"""Exported detectors in OpenVINO: the ONNX graph converted to OpenVINO IR (``.xml`` + ``.bin``)
and run on the CPU in FP32, BF16 or INT8.

OpenVINO reads what :func:`mmlight.deployment.onnx.export_onnx` writes (NonZero,
NonMaxSuppression, RoiAlign, TopK, GridSample) without custom operators.

- ``fp32`` and ``bf16`` run the same FP32 IR; ``bf16`` sets OpenVINO's
  ``INFERENCE_PRECISION_HINT`` to bf16 (the matrix units of CPUs with AMX-BF16 or AVX512-BF16).
  On a CPU without BF16 support the hint falls back to f32, and
  :attr:`OpenVINODetector.precision_used` says what ran.
- ``int8`` is post-training quantization with NNCF (:func:`quantize_to_int8`) on calibration
  images: the inputs of every convolution and matrix product get FakeQuantize nodes and run in
  INT8 (AMX-INT8, AVX512-VNNI); every other operation, the post-processing (box decoding, NMS,
  RoIAlign, TopK, mask pasting) included, stays in float, inferred in f32.

The precision an IR was made for, and for int8 the calibration settings, are kept in its
metadata; the precision is the runner's default.
"""
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .runner import DetectorRunner, register_backend

PRECISIONS = ('fp32', 'bf16', 'int8')
# OpenVINO's inference precision for what is not quantized: an int8 IR keeps its float parts
# (the post-processing among them) in f32
HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'int8': 'f32'}
# the operations whose inputs int8 quantizes; NNCF ignores every other type in the graph
QUANTIZED_TYPES = ('Convolution', 'GroupConvolution', 'ConvolutionBackpropData', 'MatMul')
# OpenVINO's CPU layers that do the arithmetic of those
COMPUTE_LAYERS = ('Convolution', 'GroupConvolution', 'Deconvolution', 'FullyConnected',
                  'MatMul')
METADATA = 'mmlight'


def _openvino():
    try:
        import openvino
    except ImportError as err:  # an optional backend: say how to get it
        raise ImportError('the OpenVINO backend needs the openvino package: pip install '
                          'openvino (or bash tools/ensure_env.sh)') from err
    return openvino


def check_precision(precision: str, owner: str = 'OpenVINO') -> str:
    if precision not in PRECISIONS:
        raise ValueError(f'{owner}: precision must be one of {list(PRECISIONS)}, got '
                         f'{precision!r}')
    return precision


def cpu_capabilities():
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of this CPU ('FP32', 'BF16', 'INT8', ...)."""
    return [str(c) for c in _openvino().Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')]


def convert_to_openvino(onnx_file: str, xml_file: str, precision: str = 'fp32',
                        source: Optional[str] = None,
                        calibration: Optional[Sequence[np.ndarray]] = None,
                        calibration_info: Optional[dict] = None) -> str:
    """Convert an mmlight ONNX export to OpenVINO IR (``xml_file`` and the ``.bin`` beside it),
    with ``precision`` (the runner's default) and ``source`` (e.g. the config) in its
    metadata. ``precision='int8'`` quantizes it on the ``calibration`` images (float32
    ``[1, 3, H, W]`` each, as the runner takes them) and records ``calibration_info`` (where the
    images came from) beside NNCF's settings. Returns ``xml_file``."""
    ov = _openvino()
    check_precision(precision, 'convert_to_openvino')
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'convert_to_openvino: no ONNX file at {onnx_file}')
    model = ov.convert_model(onnx_file)
    if precision == 'int8':
        if not calibration:
            raise ValueError('convert_to_openvino: int8 needs calibration images, got none')
        model = quantize_to_int8(model, calibration)
        info = dict(calibration_info or {}, calibration_images=len(calibration),
                    quantized_types=','.join(QUANTIZED_TYPES))
        for key, value in info.items():
            model.set_rt_info(str(value), [METADATA, key])
    model.set_rt_info(precision, [METADATA, 'precision'])
    model.set_rt_info(str(source or osp.basename(onnx_file)), [METADATA, 'source'])
    if osp.dirname(xml_file):
        os.makedirs(osp.dirname(xml_file), exist_ok=True)
    ov.save_model(model, xml_file, compress_to_fp16=False)
    return xml_file


def quantize_to_int8(model, images: Sequence[np.ndarray]):
    """NNCF post-training quantization of an OpenVINO model: statistics from ``images``,
    FakeQuantize on the inputs of ``QUANTIZED_TYPES``, every other operation type in the
    ignored scope (kept in float)."""
    try:
        import nncf
    except ImportError as err:
        raise ImportError('int8 needs the nncf package: pip install nncf (or bash '
                          'tools/ensure_env.sh)') from err
    kept_float = sorted({op.get_type_name() for op in model.get_ops()} - set(QUANTIZED_TYPES))
    dataset = nncf.Dataset(list(images), lambda image: {'image': image})
    # NNCF logs a line for each operation of the ignored scope at INFO (hundreds of them);
    # its warnings still show, and its logger is as it was afterwards
    logger = logging.getLogger('nncf')
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        return nncf.quantize(model, dataset, subset_size=len(images),
                             ignored_scope=nncf.IgnoredScope(types=kept_float, validate=False))
    finally:
        logger.setLevel(level)


def count_fake_quantize(model) -> int:
    """FakeQuantize nodes of a model (an int8 IR has one per quantized input)."""
    return sum(op.get_type_name() == 'FakeQuantize' for op in model.get_ops())


def model_metadata(model, key: str) -> Optional[str]:
    if model.has_rt_info([METADATA, key]):
        return str(model.get_rt_info([METADATA, key]).astype(str))
    return None


@register_backend('openvino')
class OpenVINODetector(DetectorRunner):
    """An exported detector in OpenVINO on the CPU (:class:`DetectorRunner`'s contract).

    Args:
        path: an OpenVINO IR ``.xml`` written by :func:`convert_to_openvino` (or
            ``tools/deployment/export_onnx.py --backend openvino``), or an mmlight ``.onnx``
            export.
        precision: 'fp32' or 'bf16' for a float IR, 'int8' for a quantized one. Default: the
            precision in the IR's metadata, else 'fp32'.
        num_threads: OpenVINO's inference threads (0: its default, all cores).
        profile: turn on OpenVINO's per-layer performance counters (``PERF_COUNT``) for
            :meth:`layer_times`.
    """

    precisions = PRECISIONS

    def __init__(self, path: str, precision: Optional[str] = None, num_threads: int = 0,
                 profile: bool = False):
        ov = _openvino()
        if precision is not None:
            check_precision(precision, 'OpenVINODetector')
        if not osp.isfile(path):
            raise FileNotFoundError(f'OpenVINODetector: no model file at {path}')
        core = ov.Core()
        model = core.read_model(path)
        self.output_names = tuple(output.get_any_name() for output in model.outputs)
        self.check_layout(path, [i.get_any_name() for i in model.inputs])
        shape = model.inputs[0].get_partial_shape()
        self.input_shape = tuple(dim.get_length() if dim.is_static else None for dim in shape)
        self.precision = check_precision(
            precision or model_metadata(model, 'precision') or 'fp32', 'OpenVINODetector')
        quantized = count_fake_quantize(model) > 0
        if quantized and self.precision != 'int8':
            raise ValueError(f'OpenVINODetector: {path} is quantized: it runs as int8, not '
                             f'{self.precision}')
        if not quantized and self.precision == 'int8':
            raise ValueError(f'OpenVINODetector: int8 needs a quantized IR (export_onnx.py '
                             f'--backend openvino --precision int8); {path} holds no '
                             f'FakeQuantize node')
        config = {'INFERENCE_PRECISION_HINT': HINTS[self.precision]}
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        if profile:
            config['PERF_COUNT'] = True
        self.compiled = core.compile_model(model, 'CPU', config)
        self.request = self.compiled.create_infer_request()

    @property
    def precision_used(self) -> str:
        """The inference precision the compiled model runs ('f32' or 'bf16'): 'bf16' falls back
        to 'f32' on a CPU without BF16 support."""
        hint = self.compiled.get_property('INFERENCE_PRECISION_HINT')
        return hint.get_type_name() if hasattr(hint, 'get_type_name') else str(hint)

    def compute_precisions(self) -> Dict[str, int]:
        """How many convolutions and matrix products (OpenVINO's executed layers) run in each
        precision ('u8', 'i8', 'bf16', 'f32', ...): an int8 IR that silently ran in float, or a
        bf16 hint that fell back, shows here."""
        counts: Dict[str, int] = {}
        for op in self.compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            layer = info['layerType'].astype(str) if 'layerType' in info else ''
            if layer in COMPUTE_LAYERS and 'runtimePrecision' in info:
                precision = info['runtimePrecision'].astype(str)
                counts[precision] = counts.get(precision, 0) + 1
        return counts

    def layer_times(self) -> List[Tuple[Tuple[str, ...], str, float]]:
        """The layers the last call executed (needs ``profile=True``): for each, the names of
        the IR's nodes it was built from (OpenVINO fuses several into one layer), its type with
        the precision it ran in (e.g. ``'Convolution i8'``) and its seconds."""
        fused = {op.get_friendly_name(): op.get_rt_info()['originalLayersNames'].astype(str)
                 for op in self.compiled.get_runtime_model().get_ops()}
        layers = []
        for info in self.request.get_profiling_info():
            if info.status != info.Status.EXECUTED:
                continue
            names = tuple(fused.get(info.node_name, info.node_name).split(','))
            # the kernel's name ends in its precision: brgconv_avx512_amx_i8, jit_avx512_f32
            precision = info.exec_type.rsplit('_', 1)[-1].lower()
            layers.append((names, f'{info.node_type} {precision}',
                           info.real_time.total_seconds()))
        return layers

    def run(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        results = self.request.infer({'image': image})
        return {output.get_any_name(): np.array(value) for output, value in results.items()}
