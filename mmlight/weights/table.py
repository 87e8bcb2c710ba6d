"""Pretrained weights as data (torchvision's ``WeightsEnum`` idea): where a family's ImageNet
weights come from, in which layout, and what they score.

Each family declares its weights in its record beside its backbone
(:class:`mmlight.family.BackboneFamily`, in :mod:`mmlight.models.backbones`); this table is made
from those records. The ``mmlight://NAME`` checkpoint scheme (:mod:`mmlight.weights`)
downloads, converts and caches an entry by name.
"""

from mmlight.family import (
    WEIGHTS,
    PretrainedWeights,
    WeightSource,
    get_weights,
    register_weights,
    weights_for_backbone,
)

__all__ = [
    'WEIGHTS',
    'PretrainedWeights',
    'WeightSource',
    'get_weights',
    'register_weights',
    'weights_for_backbone',
]
