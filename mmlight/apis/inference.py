"""Inference on images with mmdet's own machinery, reading checkpoints the safe way.

mmdet's ``DetInferencer`` and ``init_detector`` read checkpoints with ``torch.load``'s defaults,
which on torch >= 2.6 refuse the message hub that mmengine saves in every checkpoint. Here they
run inside :func:`mmlight.utils.safe_load.safe_checkpoint_loading` (``weights_only=True`` with
mmlight's allow-list), and mmlight config names are accepted where mmdet takes a config.
"""

import os.path as osp
from typing import Any

from mmdet.apis import DetInferencer as _MMDetInferencer
from mmdet.apis import inference_detector

from mmlight.utils.safe_load import safe_checkpoint_loading

from .config import resolve_config

__all__ = ['DetInferencer', 'inference_detector']


def _config_or_name(model):
    """An mmlight config name or ``PACKAGE::PATH`` as its file; anything else (a file, a
    Config, a name of mmdet's model zoo) unchanged."""
    if not isinstance(model, str) or osp.isfile(model):
        return model
    try:
        return resolve_config(model)
    except FileNotFoundError:
        return model


class DetInferencer(_MMDetInferencer):
    """mmdet's ``DetInferencer`` (same arguments, same call) that loads ``weights`` through
    mmlight's safe loader and takes mmlight config names.

    Example::

        from mmlight.apis import DetInferencer
        inferencer = DetInferencer('demo/faster_rcnn_ghostnet_fpn_demo', 'epoch_16.pth')
        result = inferencer('image.png', out_dir='outputs', pred_score_thr=0.5)

    Args:
        model (str | Config, optional): a config file, an mmlight config name, a Config or a
            name from mmdet's model zoo.
        weights (str, optional): the checkpoint.
        **kwargs: the other arguments of mmdet's ``DetInferencer`` (device, scope, palette,
            show_progress).
    """

    def __init__(self, model=None, weights=None, **kwargs: Any):
        with safe_checkpoint_loading():
            super().__init__(model=_config_or_name(model), weights=weights, **kwargs)
