"""Parameters and FLOPs of a detector config, without its dataset: one synthetic image goes
through the detector's own data preprocessor and its ``mode='tensor'`` forward (backbone, neck
and heads; for two-stage detectors the RPN proposals and the RoI head as at test time)."""

import logging
from collections.abc import Sequence

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info


class _TensorForward(nn.Module):
    """``detector(inputs, data_samples, mode='tensor')`` as a one-argument module."""

    def __init__(self, detector, data_samples):
        super().__init__()
        self.detector = detector
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.detector(inputs, self.data_samples, mode='tensor')


def _complexity(module, inputs):
    logging.getLogger('mmengine').setLevel(logging.ERROR)  # unsupported-op warnings
    info = get_model_complexity_info(module, inputs=(inputs,), show_table=False, show_arch=False)
    return dict(flops=float(info['flops']), params=float(info['params']))


def detector_complexity(config, shape: Sequence[int] = (800, 1333)):
    """``dict(detector=dict(params, flops), backbone=dict(params, flops), shape=...)`` for a
    config (path or Config) at one ``(H, W)`` input. Pretrained weights are not loaded."""
    from mmlight.apis import init_detector, load_detector_config

    from .inference import image_sample

    cfg = load_detector_config(config)
    if len(shape) != 2 or min(shape) < 32:
        raise ValueError(f'shape must be (H, W) of at least 32 pixels, got {tuple(shape)}')
    detector = init_detector(cfg)
    height, width = map(int, shape)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
    sample = image_sample(height, width)
    with torch.no_grad():
        data = detector.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        whole = _complexity(_TensorForward(detector, data['data_samples']), data['inputs'])
        backbone = _complexity(detector.backbone, data['inputs'])
    whole['params'] = float(sum(p.numel() for p in detector.parameters()))
    backbone['params'] = float(sum(p.numel() for p in detector.backbone.parameters()))
    return dict(detector=whole, backbone=backbone, shape=tuple(data['inputs'].shape[-2:]))
