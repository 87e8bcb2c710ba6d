"""torchvision shufflenet_v2_x* and mmpretrain ShuffleNetV1/V2 checkpoints to mmlight."""

import re
from collections import OrderedDict

from mmlight.utils.state_dict import keys_without_prefix, strip_key_prefix

_TORCHVISION_V2 = [
    (r'^conv1\.0\.', 'stem.conv.'),
    (r'^conv1\.1\.', 'stem.bn.'),
    (r'^conv5\.0\.', 'stages.4.conv.'),
    (r'^conv5\.1\.', 'stages.4.bn.'),
    (r'^stage(\d)\.(\d+)\.branch1\.0\.', 'stages.{s}.\\2.branch1.depthwise_conv.conv.'),
    (r'^stage(\d)\.(\d+)\.branch1\.1\.', 'stages.{s}.\\2.branch1.depthwise_conv.bn.'),
    (r'^stage(\d)\.(\d+)\.branch1\.2\.', 'stages.{s}.\\2.branch1.pointwise_conv.conv.'),
    (r'^stage(\d)\.(\d+)\.branch1\.3\.', 'stages.{s}.\\2.branch1.pointwise_conv.bn.'),
    (r'^stage(\d)\.(\d+)\.branch2\.0\.', 'stages.{s}.\\2.branch2.0.conv.'),
    (r'^stage(\d)\.(\d+)\.branch2\.1\.', 'stages.{s}.\\2.branch2.0.bn.'),
    (r'^stage(\d)\.(\d+)\.branch2\.3\.', 'stages.{s}.\\2.branch2.1.depthwise_conv.conv.'),
    (r'^stage(\d)\.(\d+)\.branch2\.4\.', 'stages.{s}.\\2.branch2.1.depthwise_conv.bn.'),
    (r'^stage(\d)\.(\d+)\.branch2\.5\.', 'stages.{s}.\\2.branch2.1.pointwise_conv.conv.'),
    (r'^stage(\d)\.(\d+)\.branch2\.6\.', 'stages.{s}.\\2.branch2.1.pointwise_conv.bn.'),
]
_MMPRETRAIN_V2_BLOCK = [
    (r'^branch1\.0\.', 'branch1.depthwise_conv.'),
    (r'^branch1\.1\.', 'branch1.pointwise_conv.'),
    (r'^branch2\.0\.', 'branch2.0.'),
    (r'^branch2\.1\.', 'branch2.1.depthwise_conv.'),
    (r'^branch2\.2\.', 'branch2.1.pointwise_conv.'),
]


def _strip_mmpretrain(state_dict):
    """mmpretrain ImageClassifier checkpoints hold 'backbone.*' and 'head.*'."""
    return strip_key_prefix(state_dict, 'backbone.', only_if_any=True)


def _rename(key, rules):
    for pattern, replacement in rules:
        m = re.match(pattern, key)
        if m:
            if '{s}' in replacement:
                # torchvision's stage2..4 are mmlight's levels 1..3
                replacement = replacement.replace('{s}', str(int(m.group(1)) - 1))
            return re.sub(pattern, replacement, key)
    return None


def _convert_mmpretrain(state_dict, num_layers, block_rules):
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('conv1.'):
            converted['stem.' + key[len('conv1.') :]] = value
            continue
        m = re.match(r'^layers\.(\d+)\.(.*)$', key)
        if not m:
            raise KeyError(f'unrecognised mmpretrain ShuffleNet key {key!r}')
        layer, rest = int(m.group(1)), m.group(2)
        if layer == num_layers:  # ShuffleNetV2's conv5
            converted[f'stages.4.{rest}'] = value
            continue
        bm = re.match(r'^(\d+)\.(.*)$', rest)
        block, rest = bm.group(1), bm.group(2)
        renamed = _rename(rest, block_rules) if block_rules else rest
        converted[f'stages.{layer + 1}.{block}.{renamed or rest}'] = value
    return converted


def detect_shufflenetv2_layout(keys):
    keys = keys_without_prefix(keys, 'backbone.')
    if 'conv1.0.weight' in keys and any(k.startswith('stage2.') for k in keys):
        return 'torchvision'
    if any(k.startswith('layers.') and '.branch2.' in k for k in keys):
        return 'mmpretrain'
    return None


def detect_shufflenetv1_layout(keys):
    if any(
        k.startswith('layers.') and '.g_conv_1x1_' in k
        for k in keys_without_prefix(keys, 'backbone.')
    ):
        return 'mmpretrain'
    return None


def convert_shufflenetv2(state_dict):
    state_dict = _strip_mmpretrain(state_dict)
    if any(k.startswith('layers.') for k in state_dict):
        return _convert_mmpretrain(state_dict, 3, _MMPRETRAIN_V2_BLOCK)
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            continue
        new_key = _rename(key, _TORCHVISION_V2)
        if new_key is None:
            raise KeyError(f'unrecognised ShuffleNetV2 key {key!r}')
        converted[new_key] = value
    return converted


def convert_shufflenetv1(state_dict):
    return _convert_mmpretrain(_strip_mmpretrain(state_dict), 3, None)
