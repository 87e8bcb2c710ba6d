"""Official HorNet (raoyongming/HorNet) and mmpretrain HorNet checkpoints to mmlight."""

import re
from collections import OrderedDict

from mmlight.utils.state_dict import keys_without_prefix, strip_key_prefix


def detect_hornet_layout(keys):
    keys = keys_without_prefix(keys, 'backbone.')
    if not any(k.startswith('downsample_layers.0.') for k in keys):
        return None
    if not any('.gnconv.' in k for k in keys):
        return None  # a ConvNeXt checkpoint has the same stem and stage names
    return 'official' if any('.gnconv.pws.' in k for k in keys) else 'mmpretrain'


def convert_hornet(state_dict):
    # an mmpretrain ImageClassifier holds backbone.* (and head.*)
    state_dict = strip_key_prefix(state_dict, 'backbone.', only_if_any=True)
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(('head.', 'norm.')):  # the classifier and its final norm
            continue
        m = re.match(r'^downsample_layers\.(\d)\.(.+)$', key)
        if m:
            stage, rest = int(m.group(1)), m.group(2)
            converted[('stem.' if stage == 0 else f'stages.{stage}.downsample.') + rest] = value
            continue
        m = re.match(r'^norm(\d)\.(.+)$', key)  # mmpretrain's per-level output norms
        if m:
            converted[f'out_norms.{m.group(1)}.{m.group(2)}'] = value
            continue
        if not key.startswith('stages.'):
            raise KeyError(f'unrecognised HorNet key {key!r}')
        key = key.replace('.gnconv.pws.', '.gnconv.projs.')  # official name of the projections
        key = re.sub(r'\.(gamma[12])\.weight$', r'.\1', key)  # mmpretrain's LayerScale
        converted[key] = value
    return converted
