"""Whole detectors to ONNX with torch's exporter (``torch.export`` + ``torch.onnx``), and their
inference in onnxruntime.

The graph holds only standard ONNX operators (NonMaxSuppression, RoiAlign, NonZero, TopK,
GridSample, ...): plain onnxruntime runs it, no custom-op library.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import nn

from mmlight.utils.validators import check_integer

from .detector import DeployableDetector

OPSET = 18
# The smallest side a dynamic graph accepts: the exporter proves facts about the feature maps
# (e.g. that the stride-64 level of an FPN has at least 2 rows) over the whole range it is given.
DYNAMIC_MIN_SIDE = 128
DYNAMIC_MAX_SIDE = 4096


def check_shape(shape: Sequence[int], owner: str = 'export') -> tuple:
    if len(shape) != 2:
        raise ValueError(f'{owner}: shape must be (height, width), got {tuple(shape)}')
    return tuple(check_integer(name, side, minimum=32, owner=owner)
                 for name, side in zip(('height', 'width'), shape, strict=True))


def export_onnx(detector: nn.Module, out_file: str, shape: Sequence[int] = (800, 1344),
                dynamic: bool = False, verbose: bool = False) -> str:
    """Export a built mmdet detector's inference for one image to ``out_file``.

    Args:
        detector: the detector (or a :class:`DeployableDetector`), weights loaded.
        out_file: the .onnx file to write.
        shape: (height, width) of the example image; with ``dynamic=False`` the only size
            the graph accepts.
        dynamic: height and width symbolic, from ``DYNAMIC_MIN_SIDE`` to ``DYNAMIC_MAX_SIDE``.
    Returns:
        ``out_file``.
    """
    height, width = check_shape(shape)
    model = detector if isinstance(detector, DeployableDetector) else \
        DeployableDetector(detector)
    model.eval()
    if dynamic and not (DYNAMIC_MIN_SIDE <= height <= DYNAMIC_MAX_SIDE and
                        DYNAMIC_MIN_SIDE <= width <= DYNAMIC_MAX_SIDE):
        raise ValueError(f'export: with dynamic=True the example shape must lie in '
                         f'[{DYNAMIC_MIN_SIDE}, {DYNAMIC_MAX_SIDE}], got {(height, width)}')
    example = (torch.rand(1, 3, height, width) * 255, )
    with torch.no_grad():
        # non-strict: Python runs as Python (mmdet's modules, configs), tensors are traced
        program = _export_program(model, example, dynamic)
        onnx_program = torch.onnx.export(
            program, example, input_names=['image'], output_names=list(model.output_names),
            opset_version=OPSET, dynamo=True, verbose=verbose, optimize=True)
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    onnx_program.save(out_file)
    return out_file


def _export_program(model, example, dynamic):
    if not dynamic:
        return torch.export.export(model, example, strict=False)
    dim = torch.export.Dim
    named = {'image': {2: dim('height', min=DYNAMIC_MIN_SIDE, max=DYNAMIC_MAX_SIDE),
                       3: dim('width', min=DYNAMIC_MIN_SIDE, max=DYNAMIC_MAX_SIDE)}}
    try:
        return torch.export.export(model, example, dynamic_shapes=named, strict=False)
    except torch._dynamo.exc.UserError as err:
        if err.error_type != torch._dynamo.exc.UserErrorType.CONSTRAINT_VIOLATION:
            raise
    # The exporter could not prove a fact that holds over the whole range (HorNet: reshapes
    # after the padding to a multiple of 32). Dim.DYNAMIC keeps such facts as run-time checks
    # instead (and still refuses to specialize the size to the example's). It is the second
    # choice: for YOLOv4-GhostNet it records a check whose bound (2.8e19) overflows ONNX's
    # int64 and fails the translation.
    side = dim.DYNAMIC(min=DYNAMIC_MIN_SIDE, max=DYNAMIC_MAX_SIDE)
    return torch.export.export(model, example, dynamic_shapes={'image': {2: side, 3: side}},
                               strict=False)


class OnnxDetector:
    """An exported detector in onnxruntime.

    Args:
        onnx_file: a file written by :func:`export_onnx`.
        num_threads: onnxruntime's intra-op threads (0: its default, all cores).
        profile: record onnxruntime's per-operator profile of every call until
            :meth:`end_profiling` (a JSON trace in the temporary directory).
    """

    def __init__(self, onnx_file: str, num_threads: int = 0, profile: bool = False):
        import onnxruntime as ort
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'OnnxDetector: no ONNX file at {onnx_file}')
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        if profile:
            options.enable_profiling = True
            options.profile_file_prefix = osp.join(tempfile.gettempdir(), 'mmlight_ort_profile')
        self.session = ort.InferenceSession(onnx_file, options,
                                            providers=['CPUExecutionProvider'])
        inputs = self.session.get_inputs()
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        if [i.name for i in inputs] != ['image'] or self.output_names not in (
                ('dets', 'labels'), ('dets', 'labels', 'masks')):
            raise ValueError(
                f'OnnxDetector: {onnx_file} is not an mmlight detector export: expected input '
                f"'image' and outputs (dets, labels[, masks]), got inputs "
                f'{[i.name for i in inputs]} and outputs {list(self.output_names)}')
        self.input_shape = tuple(inputs[0].shape)

    @property
    def with_mask(self) -> bool:
        return 'masks' in self.output_names

    def __call__(self, image) -> Dict[str, np.ndarray]:
        """``image``: float32 [1, 3, H, W] (BGR, 0-255), a numpy array or a tensor."""
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise ValueError('OnnxDetector: expected one image as float32 [1, 3, H, W] '
                             f'(BGR, 0-255), got shape {image.shape}')
        fixed = [(axis, size) for axis, size in zip(('height', 'width'), self.input_shape[2:])
                 if isinstance(size, int)]
        for (axis, size), found in zip(fixed, image.shape[2:]):
            if size != found:
                raise ValueError(f'OnnxDetector: this graph was exported for {axis} '
                                 f'{size} (no --dynamic), got an image of shape {image.shape}')
        return dict(zip(self.output_names, self.session.run(None, {'image': image}),
                        strict=True))

    def end_profiling(self) -> str:
        """Stop the profiler started by ``profile=True``; the path of its JSON trace."""
        return self.session.end_profiling()


def onnx_result_to_sample(outputs: Dict[str, np.ndarray], data_sample,
                          rescale: bool = True):
    """The outputs of one image as an mmdet DetDataSample with ``pred_instances``, in the
    original image's coordinates (mmdet's ``predict(rescale=True)``) when ``rescale``."""
    from mmengine.structures import InstanceData
    dets = torch.from_numpy(outputs['dets'])
    pred = InstanceData()
    bboxes = dets[:, :4]
    meta = data_sample.metainfo
    if rescale and 'scale_factor' in meta:
        scale_w, scale_h = meta['scale_factor']
        bboxes = bboxes / bboxes.new_tensor([scale_w, scale_h, scale_w, scale_h])
    pred.bboxes = bboxes
    pred.scores = dets[:, 4]
    pred.labels = torch.from_numpy(outputs['labels']).long()
    if 'masks' in outputs:
        masks = torch.from_numpy(outputs['masks'].astype(np.uint8))
        if rescale and 'ori_shape' in meta and masks.shape[-2:] != tuple(meta['ori_shape']):
            masks = torch.nn.functional.interpolate(
                masks[None].float(), size=tuple(meta['ori_shape']), mode='nearest')[0]
        pred.masks = masks.bool()
    data_sample.pred_instances = pred
    return data_sample


def default_onnx_path(config: str, out: Optional[str] = None) -> str:
    return out or osp.join('work_dirs', 'onnx', osp.splitext(osp.basename(config))[0] + '.onnx')
