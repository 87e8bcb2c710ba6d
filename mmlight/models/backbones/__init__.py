from .base import MultiScaleBackbone
from .ghostnet import GhostNet, GhostNetV2
from .hornet import HorNet
from .odnet import ODMobileNetV2, ODResNet
from .shufflenet import ShuffleNetV1, ShuffleNetV2
from .timm_backbone import FasterNet, FastViT, MobileNetV4, RepViT, StarNet, TimmBackbone

__all__ = [
    'FastViT',
    'FasterNet',
    'GhostNet',
    'GhostNetV2',
    'HorNet',
    'MobileNetV4',
    'MultiScaleBackbone',
    'ODMobileNetV2',
    'ODResNet',
    'RepViT',
    'ShuffleNetV1',
    'ShuffleNetV2',
    'StarNet',
    'TimmBackbone',
]
