"""Images through a deployed detector: the config's test pipeline, the exported model in its
runtime, the detections in the original image's coordinates (what mmdet's
``inference_detector`` gives for the PyTorch model)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from mmengine.config import Config

# a deployed detector: a backend's runner (mmlight.deployment.backends.DetectorRunner), called
# on one float32 [1, 3, H, W] image; the export's side of the house does not import the
# backends that run it
Runner = Callable[[Any], dict[str, np.ndarray]]


def result_to_sample(outputs: dict[str, np.ndarray], data_sample, rescale: bool = True):
    """The outputs of one image as an mmdet DetDataSample with ``pred_instances``.

    Args:
        outputs: a runner's ``dets``, ``labels`` (and ``masks``).
        data_sample: the image's DetDataSample from the test pipeline (its metainfo).
        rescale: to the original image's coordinates, as mmdet's ``predict(rescale=True)``.

    Returns:
        ``data_sample`` with ``pred_instances``.
    """
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
                masks[None].float(), size=tuple(meta['ori_shape']), mode='nearest'
            )[0]
        pred.masks = masks.bool()
    data_sample.pred_instances = pred
    return data_sample


def deployed_predict(cfg: Config, detector: Runner, image_path: str):
    """One image file through the config's test pipeline and a deployed detector.

    Args:
        cfg: the detector config.
        detector: a runner of any backend
            (:func:`~mmlight.deployment.backends.load_runner`).
        image_path: the image file.

    Returns:
        A DetDataSample with ``pred_instances`` in the original image's coordinates.
    """
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    pipeline = Compose(get_test_pipeline_cfg(cfg))
    data = pipeline(dict(img_path=image_path, img_id=0))
    return result_to_sample(detector(data['inputs'][None].float()), data['data_samples'])
