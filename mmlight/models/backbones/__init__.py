from .base import MultiScaleBackbone
from .ghostnet import GhostNet, GhostNetV2
from .hornet import HorNet
from .odnet import ODMobileNetV2, ODResNet
from .shufflenet import ShuffleNetV1, ShuffleNetV2

__all__ = [
    'GhostNet',
    'GhostNetV2',
    'HorNet',
    'MultiScaleBackbone',
    'ODMobileNetV2',
    'ODResNet',
    'ShuffleNetV1',
    'ShuffleNetV2',
]
