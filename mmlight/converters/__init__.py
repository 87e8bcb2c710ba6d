"""Checkpoint converters: official / timm / torchvision / mmpretrain weights to mmlight keys.

Each converter takes the source state_dict (already unwrapped from 'state_dict'/'model' and
with any 'module.' prefix removed) and returns the mmlight backbone state_dict. Classification
heads are dropped. ``tools/model_converters/convert.py`` is the command line front end.
"""
from collections import OrderedDict

from .ghostnet import convert_ghostnet
from .hornet import convert_hornet
from .odconv import convert_odmobilenetv2, convert_odresnet
from .shufflenet import convert_shufflenetv1, convert_shufflenetv2

CONVERTERS = {
    'ghostnet': convert_ghostnet,
    'hornet': convert_hornet,
    'odmobilenetv2': convert_odmobilenetv2,
    'odresnet': convert_odresnet,
    'shufflenetv1': convert_shufflenetv1,
    'shufflenetv2': convert_shufflenetv2,
}


def strip_module_prefix(state_dict):
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return OrderedDict((k[len('module.'):], v) for k, v in state_dict.items())
    return state_dict


def convert_state_dict(source: str, state_dict):
    if source not in CONVERTERS:
        raise ValueError(f'unknown converter {source!r}; valid choices: {sorted(CONVERTERS)}')
    return CONVERTERS[source](strip_module_prefix(state_dict))


__all__ = ['CONVERTERS', 'convert_state_dict', 'strip_module_prefix']
