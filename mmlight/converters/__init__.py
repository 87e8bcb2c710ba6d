"""Checkpoint converters: official / timm / torchvision / mmpretrain weights to mmlight keys
(the table of named pretrained weights is :mod:`mmlight.weights.table`).

Each family module holds its key mapping and a detector of the layouts it reads. A converter
takes the source state_dict (unwrapped from 'state_dict'/'model', any 'module.' prefix
removed) and returns the mmlight backbone state_dict; classification heads are dropped.
Importing this package registers each family as the checkpoint filter of its backbones, so
``init_cfg=dict(type='Pretrained', checkpoint=...)`` accepts unconverted files
(``tools/model_converters/convert.py`` is the offline front end).
"""

from collections.abc import Callable
from typing import NamedTuple

from mmlight.utils.pretrained import register_checkpoint_filter
from mmlight.utils.state_dict import strip_key_prefix

from .ghostnet import convert_ghostnet, detect_ghostnet_layout
from .hornet import convert_hornet, detect_hornet_layout
from .odconv import (
    convert_odmobilenetv2,
    convert_odresnet,
    detect_odmobilenetv2_layout,
    detect_odresnet_layout,
)
from .shufflenet import (
    convert_shufflenetv1,
    convert_shufflenetv2,
    detect_shufflenetv1_layout,
    detect_shufflenetv2_layout,
)
from .variants import infer_backbone


class Family(NamedTuple):
    convert: Callable
    detect: Callable  # keys -> layout name, or None when the keys are not this family's
    backbones: tuple[str, ...]
    expected: str  # what its files look like, for error messages


FAMILIES = {
    'ghostnet': Family(
        convert_ghostnet,
        detect_ghostnet_layout,
        ('GhostNet', 'GhostNetV2'),
        'official/timm GhostNet keys (conv_stem.weight, blocks.N.M.ghost1...)',
    ),
    'hornet': Family(
        convert_hornet,
        detect_hornet_layout,
        ('HorNet',),
        'official or mmpretrain HorNet keys (downsample_layers.0..., stages.N.M.gnconv...)',
    ),
    'odmobilenetv2': Family(
        convert_odmobilenetv2,
        detect_odmobilenetv2_layout,
        ('ODMobileNetV2',),
        'official OD-MobileNetV2 or torchvision MobileNetV2 keys '
        '(features.0.0.weight, features.N.conv...)',
    ),
    'odresnet': Family(
        convert_odresnet,
        detect_odresnet_layout,
        ('ODResNet',),
        'official OD-ResNet or torchvision ResNet keys (conv1.weight, layer1.0.conv1...)',
    ),
    'shufflenetv1': Family(
        convert_shufflenetv1,
        detect_shufflenetv1_layout,
        ('ShuffleNetV1',),
        'mmpretrain ShuffleNetV1 keys (layers.N.M.g_conv_1x1_...)',
    ),
    'shufflenetv2': Family(
        convert_shufflenetv2,
        detect_shufflenetv2_layout,
        ('ShuffleNetV2',),
        'torchvision (conv1.0.weight, stage2...) or mmpretrain '
        '(layers.N.M.branch2...) ShuffleNetV2 keys',
    ),
}
CONVERTERS = {name: family.convert for name, family in FAMILIES.items()}


def strip_module_prefix(state_dict):
    return strip_key_prefix(state_dict, 'module.', only_if_all=True)


def is_mmlight_layout(keys) -> bool:
    return any(k.startswith('stem.') for k in keys) and any(k.startswith('stages.') for k in keys)


def guess_family(keys):
    """(family, layout) of the first family whose detector recognises these keys."""
    for name, family in FAMILIES.items():
        layout = family.detect(keys)
        if layout is not None:
            return name, layout
    return None, None


def _describe_keys(keys, limit=4):
    keys = list(keys)
    return ', '.join(keys[:limit]) + (f' ... ({len(keys)} keys)' if len(keys) > limit else '')


def convert_state_dict(source: str, state_dict, origin: str = 'the checkpoint'):
    """Convert ``state_dict`` with family ``source``'s converter, after checking that its keys
    are that family's: a file of another family (or another network) is a clear error naming
    what was expected and what was found, never an error from inside the key mapping."""
    if source not in FAMILIES:
        raise ValueError(f'unknown converter {source!r}; valid choices: {sorted(FAMILIES)}')
    family = FAMILIES[source]
    state_dict = strip_module_prefix(state_dict)
    if not state_dict:
        raise ValueError(f'{origin} holds no tensors')
    keys = list(state_dict)
    if family.detect(keys) is None:
        other, layout = guess_family(keys)
        found = f'{layout} {other} keys' if other else f'keys {_describe_keys(keys)}'
        if other is None and is_mmlight_layout(keys):
            found = 'mmlight keys (it is converted already)'
        raise ValueError(
            f'{origin} is not a {source} checkpoint: expected {family.expected}; found {found}'
        )
    return family.convert(state_dict)


def _family_filter(name):

    def checkpoint_filter(state_dict, source='the checkpoint'):
        if is_mmlight_layout(state_dict):
            return state_dict
        return convert_state_dict(name, state_dict, origin=source)

    return checkpoint_filter


for _name, _family in FAMILIES.items():
    register_checkpoint_filter(*_family.backbones)(_family_filter(_name))

# the weights table moved to mmlight.weights.table: its old names here keep working for one
# release (looked up by name, so that this layer does not import the one above it)
_MOVED_TO_WEIGHTS = (
    'WEIGHTS',
    'PretrainedWeights',
    'WeightSource',
    'get_weights',
    'register_weights',
    'weights_for_backbone',
)


def __getattr__(name):
    if name not in _MOVED_TO_WEIGHTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    import importlib
    import warnings

    warnings.warn(
        f'mmlight.converters.{name} is deprecated and will be removed in the next '
        f'release: use mmlight.weights.{name}',
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module('mmlight.weights.table'), name)


__all__ = [
    'CONVERTERS',
    'FAMILIES',
    'convert_state_dict',
    'guess_family',
    'infer_backbone',
    'is_mmlight_layout',
    'strip_module_prefix',
]
