"""Official GhostNet / GhostNetV2 checkpoints and timm's ghostnet*/ghostnetv2* to mmlight."""

import re
from collections import OrderedDict

from mmlight.models.backbones.ghostnet import GHOSTNET_ARCH

# (timm/official sub-key, mmlight sub-key) inside one bottleneck
_BLOCK_RENAMES = [
    (r'^ghost(\d)\.(primary_conv|cheap_operation)\.0\.', r'ghost\1.\2.conv.'),
    (r'^ghost(\d)\.(primary_conv|cheap_operation)\.1\.', r'ghost\1.\2.bn.'),
    (r'^ghost1\.short_conv\.0\.', 'ghost1.dfc.reduce.conv.'),
    (r'^ghost1\.short_conv\.1\.', 'ghost1.dfc.reduce.bn.'),
    (r'^ghost1\.short_conv\.2\.', 'ghost1.dfc.horizontal.conv.'),
    (r'^ghost1\.short_conv\.3\.', 'ghost1.dfc.horizontal.bn.'),
    (r'^ghost1\.short_conv\.4\.', 'ghost1.dfc.vertical.conv.'),
    (r'^ghost1\.short_conv\.5\.', 'ghost1.dfc.vertical.bn.'),
    (r'^conv_dw\.', 'conv_dw.conv.'),
    (r'^bn_dw\.', 'conv_dw.bn.'),
    (r'^shortcut\.0\.', 'shortcut.0.conv.'),
    (r'^shortcut\.1\.', 'shortcut.0.bn.'),
    (r'^shortcut\.2\.', 'shortcut.1.conv.'),
    (r'^shortcut\.3\.', 'shortcut.1.bn.'),
    (r'^se\.', 'se.'),
]
_HEAD_KEYS = ('conv_head.', 'classifier.')


def _ghostnet_keys(keys) -> bool:
    return 'conv_stem.weight' in keys and any(k.startswith('blocks.') for k in keys)


def detect_ghostnet_layout(keys):
    """'official' for the official GhostNet files and timm's (the same names)."""
    keys = list(keys)
    if _ghostnet_keys(keys) and not any('.short_conv.' in k for k in keys):
        return 'official'
    return None


def detect_ghostnetv2_layout(keys):
    """'official' for the official GhostNetV2 files and timm's: GhostNet's names with the
    DFC attention's ``short_conv``."""
    keys = list(keys)
    if _ghostnet_keys(keys) and any('.short_conv.' in k for k in keys):
        return 'official'
    return None


def _block_positions():
    """Flat bottleneck index -> (level, index inside the level)."""
    return [(level, i) for level, rows in enumerate(GHOSTNET_ARCH) for i in range(len(rows))]


def convert_ghostnet(state_dict):
    positions = _block_positions()
    # Official and timm group bottlenecks differently (9 groups + final conv); the flat order
    # of bottlenecks is the same, so count them in that order.
    groups = sorted(
        {int(m.group(1)) for k in state_dict for m in [re.match(r'^blocks\.(\d+)\.', k)] if m}
    )
    final_group = groups[-1]
    flat_index = {}
    for key in state_dict:
        m = re.match(r'^blocks\.(\d+)\.(\d+)\.', key)
        if m and int(m.group(1)) != final_group:
            flat_index.setdefault((int(m.group(1)), int(m.group(2))), None)
    for i, group_block in enumerate(sorted(flat_index)):
        flat_index[group_block] = i
    if len(flat_index) != len(positions):
        raise ValueError(
            f'expected {len(positions)} Ghost bottlenecks, the checkpoint has '
            f'{len(flat_index)}: is it a GhostNet/GhostNetV2 checkpoint?'
        )

    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(_HEAD_KEYS) or 'total_ops' in key or 'total_params' in key:
            continue
        new_key = None
        if key.startswith('conv_stem.'):
            new_key = 'stem.conv.' + key[len('conv_stem.') :]
        elif key.startswith('bn1.'):
            new_key = 'stem.bn.' + key[len('bn1.') :]
        else:
            m = re.match(r'^blocks\.(\d+)\.(\d+)\.(.*)$', key)
            if m and int(m.group(1)) == final_group:
                rest = m.group(3)
                rest = re.sub(r'^bn1\.', 'bn.', rest)
                new_key = f'stages.{len(GHOSTNET_ARCH)}.{rest}'
            elif m:
                level, index = positions[flat_index[(int(m.group(1)), int(m.group(2)))]]
                rest = m.group(3)
                for pattern, replacement in _BLOCK_RENAMES:
                    if re.match(pattern, rest):
                        rest = re.sub(pattern, replacement, rest)
                        break
                else:
                    raise KeyError(f'unrecognised GhostNet key {key!r}')
                new_key = f'stages.{level}.{index}.{rest}'
        if new_key is None:
            raise KeyError(f'unrecognised GhostNet key {key!r}')
        converted[new_key] = value
    return converted
