from .base import MultiScaleBackbone
from .ghostnet import GhostNet, GhostNetV2
from .shufflenet import ShuffleNetV1, ShuffleNetV2

__all__ = ['MultiScaleBackbone', 'GhostNet', 'GhostNetV2', 'ShuffleNetV1', 'ShuffleNetV2']
