"""Official HorNet (raoyongming/HorNet) and mmpretrain HorNet checkpoints to mmlight."""
import re
from collections import OrderedDict


def convert_hornet(state_dict):
    if any(k.startswith('backbone.') for k in state_dict):  # mmpretrain ImageClassifier
        state_dict = OrderedDict((k[len('backbone.'):], v) for k, v in state_dict.items()
                                 if k.startswith('backbone.'))
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
