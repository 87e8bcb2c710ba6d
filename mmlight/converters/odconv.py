"""Official ODConv (OSVAI/ODConv) and torchvision ResNet / MobileNetV2 checkpoints to mmlight.

The official OD-ResNet and OD-MobileNetV2 follow torchvision's module names, with each
ODConv's weight bank [K, C_out, C_in/g, k, k] under the conv's name (flattened to
mmlight's [K * C_out, C_in/g, k, k]) and its attention under
``<conv>.attention.{fc,bn,channel_fc,filter_fc,spatial_fc,kernel_fc}``; so one converter per
architecture reads both (a plain torchvision checkpoint is the ``od_cfg=None`` baseline).
"""

import re
from collections import OrderedDict

from ..models.backbones.odnet import MOBILENETV2_LEVEL_ROWS, MOBILENETV2_SETTINGS


def detect_odresnet_layout(keys):
    """torchvision ResNet and the official OD-ResNet share the module names."""
    if 'conv1.weight' in keys and any(k.startswith('layer1.') for k in keys):
        return 'official' if any('.attention.' in k for k in keys) else 'torchvision'
    return None


def detect_odmobilenetv2_layout(keys):
    if 'features.0.0.weight' in keys and any(k.startswith('features.1.conv.') for k in keys):
        return 'official' if any('.attention.' in k for k in keys) else 'torchvision'
    return None


def _flatten_banks(state_dict):
    """mmlight stores an ODConv bank [K, C_out, C_in/g, k, k] as [K * C_out, C_in/g, k, k]."""
    return OrderedDict((k, v.flatten(0, 1) if v.dim() == 5 else v) for k, v in state_dict.items())


def convert_odresnet(state_dict):
    state_dict = _flatten_banks(state_dict)
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            continue
        if key.startswith('conv1.'):
            converted['stem.0.' + key[len('conv1.') :]] = value
        elif key.startswith('bn1.'):
            converted['stem.1.' + key[len('bn1.') :]] = value
        else:
            m = re.match(r'^layer([1-4])\.(.+)$', key)
            if not m:
                raise KeyError(f'unrecognised (OD-)ResNet key {key!r}')
            converted[f'stages.{int(m.group(1)) - 1}.{m.group(2)}'] = value
    return converted


def _mobilenetv2_blocks():
    """(level, index in level, expand ratio) of the official features.1 .. features.17."""
    blocks = []
    for level, rows in enumerate(MOBILENETV2_LEVEL_ROWS):
        index = 0
        for row in rows:
            expand_ratio, _, repeats, _ = MOBILENETV2_SETTINGS[row]
            for _ in range(repeats):
                blocks.append((level, index, expand_ratio))
                index += 1
    return blocks


def convert_odmobilenetv2(state_dict):
    state_dict = _flatten_banks(state_dict)
    blocks = _mobilenetv2_blocks()
    last = len(blocks) + 1
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('classifier.'):
            continue
        m = re.match(r'^features\.(\d+)\.(.+)$', key)
        if not m:
            raise KeyError(f'unrecognised (OD-)MobileNetV2 key {key!r}')
        feature, rest = int(m.group(1)), m.group(2)
        if feature in (0, last):  # the stem and the final 1x1 conv: ConvBNReLU(6)
            prefix = 'stem.' if feature == 0 else 'stages.4.'
            part = re.match(r'^([01])\.(.+)$', rest)
            converted[prefix + ('conv.' if part.group(1) == '0' else 'bn.') + part.group(2)] = value
            continue
        level, index, expand_ratio = blocks[feature - 1]
        # ConvBNReLU layers conv.0 (, conv.1), then the linear conv and its BN
        linear = 1 if expand_ratio == 1 else 2
        part = re.match(r'^conv\.(\d+)\.(.+)$', rest)
        if not part:
            raise KeyError(f'unrecognised (OD-)MobileNetV2 key {key!r}')
        layer, tail = int(part.group(1)), part.group(2)
        if layer < linear:
            sub = re.match(r'^([01])\.(.+)$', tail)
            new = f'conv.{layer}.' + ('conv.' if sub.group(1) == '0' else 'bn.') + sub.group(2)
        elif layer == linear:
            new = f'conv.{layer}.conv.{tail}'
        else:
            new = f'conv.{linear}.bn.{tail}'
        converted[f'stages.{level}.{index}.{new}'] = value
    return converted
