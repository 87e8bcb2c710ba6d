"""OpenVINO IR from an mmlight ONNX export: the graph converted to ``.xml`` + ``.bin`` for the CPU
in FP32, BF16 or INT8 (:mod:`mmlight.deployment.backends.openvino` runs it).

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

import json
import logging
import os
import os.path as osp
from collections.abc import Sequence

import numpy as np

from .backends.base import import_runtime
from .metadata import dumps

PRECISIONS = ('fp32', 'bf16', 'int8')
# OpenVINO's inference precision for what is not quantized: an int8 IR keeps its float parts
# (the post-processing among them) in f32
HINTS = {'fp32': 'f32', 'bf16': 'bf16', 'int8': 'f32'}
# the operations whose inputs int8 quantizes; NNCF ignores every other type in the graph
QUANTIZED_TYPES = ('Convolution', 'GroupConvolution', 'ConvolutionBackpropData', 'MatMul')
# OpenVINO's CPU layers that do the arithmetic of those
COMPUTE_LAYERS = ('Convolution', 'GroupConvolution', 'Deconvolution', 'FullyConnected', 'MatMul')
METADATA = 'mmlight'


def _openvino():
    return import_runtime('openvino', 'OpenVINO')


def check_precision(precision: str, owner: str = 'OpenVINO') -> str:
    """Check an OpenVINO precision.

    Args:
        precision: 'fp32', 'bf16' or 'int8'.
        owner: who asks, for the error.

    Returns:
        ``precision``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'{owner}: precision must be one of {list(PRECISIONS)}, got {precision!r}')
    return precision


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
    check_precision(precision, 'convert_to_openvino')
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
            model.set_rt_info(str(value), [METADATA, key])
    model.set_rt_info(precision, [METADATA, 'precision'])
    model.set_rt_info(str(source or osp.basename(onnx_file)), [METADATA, 'source'])
    deploy = _onnx_deploy_metadata(onnx_file)
    if deploy is not None:  # the export's own, with what the conversion added
        deploy['precision'] = precision
        deploy['calibration'] = info if precision == 'int8' else None
        model.set_rt_info(dumps(deploy), [METADATA, 'deploy'])
    if osp.dirname(xml_file):
        os.makedirs(osp.dirname(xml_file), exist_ok=True)
    ov.save_model(model, xml_file, compress_to_fp16=False)
    return xml_file


def _onnx_deploy_metadata(onnx_file: str) -> dict | None:
    import onnx

    props = onnx.load(onnx_file, load_external_data=False).metadata_props
    text = next((prop.value for prop in props if prop.key == METADATA), None)
    return None if text is None else json.loads(text)


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
    if model.has_rt_info([METADATA, key]):
        return str(model.get_rt_info([METADATA, key]).astype(str))
    return None
