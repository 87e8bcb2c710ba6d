"""Whole detectors to ONNX with torch's exporter (``torch.export`` + ``torch.onnx``): the graph
every backend of :mod:`mmlight.deployment.backends` starts from.

The graph holds only standard ONNX operators (NonMaxSuppression, RoiAlign, NonZero, TopK,
GridSample, ...): plain onnxruntime runs it, no custom-op library.
"""

import contextlib
import os
import os.path as osp
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from mmlight.utils.validators import check_integer
from mmlight.version import __version__

from .detector import DeployableDetector
from .metadata import (
    METADATA_KEY,
    DecodeSpec,
    DeployMetadata,
    InputSpec,
    PadSpec,
    PreprocessSpec,
    ResizeSpec,
    dumps,
)

OPSET = 18
# The smallest side a dynamic graph accepts: the exporter proves facts about the feature maps
# (e.g. that the stride-64 level of an FPN has at least 2 rows) over the whole range it is given.
DYNAMIC_MIN_SIDE = 128
DYNAMIC_MAX_SIDE = 4096


def check_shape(shape: Sequence[int], owner: str = 'export') -> tuple:
    """Check an export size.

    Args:
        shape: (height, width), each an integer >= 32.
        owner: who asks, for the error.

    Returns:
        (height, width) as a tuple of ints.
    """
    if len(shape) != 2:
        raise ValueError(f'{owner}: shape must be (height, width), got {tuple(shape)}')
    return tuple(
        check_integer(name, side, minimum=32, owner=owner)
        for name, side in zip(('height', 'width'), shape, strict=True)
    )


def export_onnx(
    detector: nn.Module,
    out_file: str,
    shape: Sequence[int] = (800, 1344),
    dynamic: bool = False,
    verbose: bool = False,
    with_proposals: bool = False,
    metadata: DeployMetadata | None = None,
    reparameterize: bool = True,
) -> str:
    """Export a built mmdet detector's inference for one image to ``out_file``.

    Args:
        detector: the detector (or a :class:`DeployableDetector`), weights loaded.
        out_file: the .onnx file to write.
        shape: (height, width) of the example image; with ``dynamic=False`` the only size
            the graph accepts. A dynamic graph is traced at this size or, where a feature
            map would have a side of 1 there, at the smallest size where none has
            (:func:`dynamic_example_shape`).
        dynamic: height and width symbolic, from ``DYNAMIC_MIN_SIDE`` to ``DYNAMIC_MAX_SIDE``.
        verbose: print the exporter's report.
        with_proposals: a two-stage detector's graph also outputs ``proposals``
            (:class:`DeployableDetector`); ignored when ``detector`` is one already.
        metadata: what the file says about itself (:mod:`mmlight.deployment.metadata`).
            Default: made from the detector's ``cfg`` (set by
            :func:`mmlight.apis.init_detector`) and its classes; none without a ``cfg``.
        reparameterize: fold the backbone's training-time branches (RepViT, FastViT) before
            exporting; ignored when ``detector`` is a :class:`DeployableDetector` already.

    Returns:
        ``out_file``.
    """
    height, width = check_shape(shape)
    model = (
        detector
        if isinstance(detector, DeployableDetector)
        else DeployableDetector(
            detector, with_proposals=with_proposals, reparameterize=reparameterize
        )
    )
    model.eval()
    if dynamic and not (
        DYNAMIC_MIN_SIDE <= height <= DYNAMIC_MAX_SIDE
        and DYNAMIC_MIN_SIDE <= width <= DYNAMIC_MAX_SIDE
    ):
        raise ValueError(
            f'export: with dynamic=True the example shape must lie in '
            f'[{DYNAMIC_MIN_SIDE}, {DYNAMIC_MAX_SIDE}], got {(height, width)}'
        )
    if dynamic:
        height, width = dynamic_example_shape(model, height, width)
    example = (torch.rand(1, 3, height, width) * 255,)
    with torch.no_grad(), out_of_place_activations(model):
        # non-strict: Python runs as Python (mmdet's modules, configs), tensors are traced
        program = _export_program(model, example, dynamic)
        onnx_program = torch.onnx.export(
            program,
            example,
            input_names=['image'],
            output_names=list(model.output_names),
            opset_version=OPSET,
            dynamo=True,
            verbose=verbose,
            optimize=True,
        )
    if onnx_program is None:  # torch.onnx.export returns None only for the legacy exporter
        raise RuntimeError('export: torch.onnx.export (dynamo=True) returned no ONNX program')
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    onnx_program.save(out_file)
    cfg = getattr(model.detector, 'cfg', None)
    if metadata is None and cfg is not None:
        metadata = deploy_metadata(
            cfg,
            model,
            (height, width),
            dynamic,
            (DYNAMIC_MIN_SIDE, DYNAMIC_MAX_SIDE),
            class_names(model.detector),
        )
    if metadata is not None:
        write_onnx_metadata(out_file, metadata)
    return out_file


def _pipeline_step(pipeline: list, *types: str) -> dict | None:
    return next((dict(step) for step in pipeline if step.get('type') in types), None)


def pad_metadata(pad: dict) -> PadSpec:
    """A test pipeline's ``Pad`` step as the runtime repeats it.

    Args:
        pad: the step's config (mmdet's ``Pad``: ``size`` (width, height), ``size_divisor``,
            ``pad_to_square``, ``pad_val``, ``padding_mode``).

    Returns:
        The same settings, ``value`` being the image's pad value.
    """
    value = pad.get('pad_val', dict(img=0, seg=255))
    if isinstance(value, dict):
        value = value.get('img', 0)
    size = pad.get('size')
    return PadSpec(
        size=None if size is None else [int(v) for v in size],  # (width, height)
        size_divisor=pad.get('size_divisor'),
        pad_to_square=bool(pad.get('pad_to_square', False)),
        # kept as the config gives it: mmcv spreads an int over the channels and hands a tuple
        # or a float to cv2 as it is
        value=list(value) if isinstance(value, (list, tuple)) else value,
        padding_mode=pad.get('padding_mode', 'constant'),
    )


def deploy_metadata(
    cfg: Any,
    deployable: Any,
    shape: tuple[int, int],
    dynamic: bool,
    dynamic_range: tuple[int, int],
    class_names: list[str] | None,
) -> DeployMetadata:
    """The metadata of a detector's export.

    Args:
        cfg: the detector config (its test pipeline and test_cfg).
        deployable: the :class:`~mmlight.deployment.detector.DeployableDetector` exported.
        shape: (height, width) the graph was traced at.
        dynamic: whether height and width are symbolic.
        dynamic_range: (smallest, largest) side of a dynamic graph.
        class_names: the detector's classes, in label order (None: unknown).

    Returns:
        The record (:class:`~mmlight.deployment.metadata.DeployMetadata`).

    Raises:
        ValueError: the test pipeline has no image loading or resize the runtime can repeat.
    """
    from mmdet.utils import get_test_pipeline_cfg

    pipeline = [dict(step) for step in get_test_pipeline_cfg(cfg)]
    load = _pipeline_step(pipeline, 'LoadImageFromFile', 'mmdet.LoadImageFromFile')
    if load is None:
        raise ValueError(f'export metadata: the test pipeline has no LoadImageFromFile: {pipeline}')
    resize = _pipeline_step(pipeline, 'Resize', 'mmdet.Resize')
    if resize is None or resize.get('scale') is None:
        raise ValueError(
            f'export metadata: the test pipeline has no Resize with a scale: {pipeline}'
        )
    pad = _pipeline_step(pipeline, 'Pad', 'mmdet.Pad')
    preprocessor = deployable.detector.data_preprocessor
    mean = [float(v) for v in preprocessor.mean.flatten()] if deployable.normalize else [0.0] * 3
    std = [float(v) for v in preprocessor.std.flatten()] if deployable.normalize else [1.0] * 3
    if deployable.swap_channels:  # the graph flips BGR to RGB first: mean/std are RGB
        mean, std = mean[::-1], std[::-1]
    test_cfg = deployable.detector.test_cfg
    return DeployMetadata(
        mmlight_version=__version__,
        task='mask' if deployable.with_mask else 'bbox',
        detector_kind=deployable.kind.name,
        classes=list(class_names) if class_names else None,
        score_thr=float(test_cfg.get('rcnn', test_cfg).get('score_thr', 0.0)),
        input=InputSpec(
            shape=None if dynamic else list(shape),
            dynamic_range=list(dynamic_range) if dynamic else None,
            # the value of a padded input pixel (BGR, 0-255) that normalizes to the
            # preprocessor's pad value: padding the input to a fixed graph's size then equals
            # mmdet's own padding
            pad_value=[m + deployable.pad_value * s for m, s in zip(mean, std, strict=True)],
        ),
        preprocess=PreprocessSpec(
            decode=DecodeSpec(
                color_type=load.get('color_type', 'color'),
                backend=load.get('imdecode_backend', 'cv2'),
            ),
            resize=ResizeSpec(
                scale=[int(v) for v in resize['scale']],  # (width, height), as mmcv's
                keep_ratio=bool(resize.get('keep_ratio', False)),
                interpolation=resize.get('interpolation', 'bilinear'),
            ),
            pad=None if pad is None else pad_metadata(pad),
            size_divisor=deployable.pad_divisor,
            steps=[str(step.get('type')) for step in pipeline],
        ),
        outputs=list(deployable.output_names),
        source=cfg.filename if getattr(cfg, 'filename', None) else None,
    )


def class_names(detector: nn.Module) -> list[str] | None:
    """A detector's classes in label order.

    Args:
        detector: an mmdet detector from :func:`mmlight.apis.init_detector`.

    Returns:
        Those its checkpoint was trained on, else its config's test set's (its metainfo, else
        its dataset type's own); None where neither says.
    """
    meta = getattr(detector, 'dataset_meta', None) or {}
    if meta.get('classes'):
        return list(meta['classes'])
    cfg = getattr(detector, 'cfg', None)
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') if cfg is not None else None
    if not dataset:
        return None
    if (dataset.get('metainfo') or {}).get('classes'):
        return list(dataset['metainfo']['classes'])
    from mmdet.registry import DATASETS

    dataset_type = DATASETS.get(dataset.get('type', ''))
    classes = getattr(dataset_type, 'METAINFO', {}).get('classes')
    return list(classes) if classes else None


def write_onnx_metadata(onnx_file: str, metadata: DeployMetadata | dict) -> None:
    """Store ``metadata`` in the .onnx's ``metadata_props`` under ``mmlight`` (replacing any).

    Args:
        onnx_file: the exported file, rewritten in place.
        metadata: the record (or a dict in its JSON layout).
    """
    import onnx

    model = onnx.load(onnx_file, load_external_data=False)
    kept = [prop for prop in model.metadata_props if prop.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=METADATA_KEY, value=dumps(metadata))
    onnx.save(model, onnx_file)


def dynamic_example_shape(model: DeployableDetector, height: int, width: int):
    """The size to trace a dynamic graph at.

    Each side is raised where needed above the detector's largest stride, so that every feature
    map has at least 2 rows and columns. A size that is 1 at trace time is taken as the constant
    1 (the exporter specializes sizes 0 and 1), and the graph then fails at every size where that
    map is larger (RetinaNet's stride-128 level at 128x160). Two raised sides are kept apart:
    equal sizes at trace time may be taken as one symbol.

    Args:
        model: the detector to export.
        height: the asked height.
        width: the asked width.

    Returns:
        (height, width) to trace at.
    """
    side = model.largest_stride + 1
    raised_h, raised_w = max(height, side), max(width, side)
    if raised_h == raised_w and (raised_h, raised_w) != (height, width):
        raised_w += max(model.pad_divisor, 1)
    return raised_h, raised_w


@contextlib.contextmanager
def out_of_place_activations(model: nn.Module) -> Iterator[list[nn.Module]]:
    """The model's activations that write into their input (torch's ``inplace=True``, as
    mmcv's ConvModule builds ReLU and ReLU6) compute out of place inside the block, and in
    place again after it, also after an error.

    The exported graph is the same either way: the exporter turns in-place writes into new
    values. But torch decomposes an in-place hardtanh (ReLU6) through its Python reference,
    which derives every symbolic size again: half the export time of a YOLOv4 with dynamic
    sizes went there.

    Args:
        model: the module whose activations to switch.

    Yields:
        The switched modules.
    """
    switched = [
        module
        for module in model.modules()
        if type(module).__module__ == nn.ReLU.__module__ and getattr(module, 'inplace', False)
    ]
    for module in switched:
        setattr(module, 'inplace', False)  # noqa: B010 (nn.Module's attribute type is Tensor | Module)
    try:
        yield switched
    finally:
        for module in switched:
            setattr(module, 'inplace', True)  # noqa: B010


def named_dims_first(model: DeployableDetector) -> bool:
    """Whether a dynamic export first tries named height and width dims, which the exporter
    checks over the whole range, before ``Dim.DYNAMIC``, which keeps what it cannot prove as
    run-time checks. Not where that first try is known to fail, tracing the whole detector
    twice: a backbone that says its size facts are out of reach
    (``export_checks_sizes_at_run_time``: HorNet's reshapes of maps padded to a multiple of
    32), or heads whose coarsest level is one row or column at the smallest size
    (``largest_stride >= DYNAMIC_MIN_SIDE``: the stride-128 level of FCOS, ATSS and RetinaNet;
    their code branches on that size, which the exporter will not decide for a range).

    Args:
        model: the wrapped detector to export.

    Returns:
        True where the named dims are worth a try.
    """
    backbone = getattr(model.detector, 'backbone', None)
    if getattr(backbone, 'export_checks_sizes_at_run_time', False):
        return False
    return model.largest_stride < DYNAMIC_MIN_SIDE


def _export_program(model, example, dynamic):
    if not dynamic:
        return torch.export.export(model, example, strict=False)
    dim = torch.export.Dim
    named = {
        'image': {
            2: dim('height', min=DYNAMIC_MIN_SIDE, max=DYNAMIC_MAX_SIDE),
            3: dim('width', min=DYNAMIC_MIN_SIDE, max=DYNAMIC_MAX_SIDE),
        }
    }
    if named_dims_first(model):
        try:
            return torch.export.export(model, example, dynamic_shapes=named, strict=False)
        except torch._dynamo.exc.UserError as err:
            if err.error_type != torch._dynamo.exc.UserErrorType.CONSTRAINT_VIOLATION:
                raise
    # The exporter could not prove a fact that holds over the whole range, or
    # named_dims_first knew it would not. Dim.DYNAMIC keeps such facts as run-time checks
    # instead (and still refuses to specialize the size to the example's). It is the second
    # choice: for YOLOv4-GhostNet it records a check whose bound (2.8e19) overflows ONNX's
    # int64 and fails the translation.
    side = dim.DYNAMIC(min=DYNAMIC_MIN_SIDE, max=DYNAMIC_MAX_SIDE)
    return torch.export.export(
        model, example, dynamic_shapes={'image': {2: side, 3: side}}, strict=False
    )


def default_model_path(config: str, backend: str, suffix: str) -> str:
    """Where the tools write a config's model file when ``--out`` is not given.

    Args:
        config: the config's path or name.
        backend: the backend's name.
        suffix: its model file's suffix ('.onnx', '.xml').

    Returns:
        ``work_dirs/BACKEND/CONFIG_NAME.SUFFIX``.
    """
    return osp.join('work_dirs', backend, osp.splitext(osp.basename(config))[0] + suffix)
