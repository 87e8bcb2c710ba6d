"""Official HorNet (raoyongming/HorNet) and mmpretrain HorNet checkpoints to mmlight."""
import re
from collections import OrderedDict

from mmlight.utils.state_dict import keys_without_prefix, strip_key_prefix

from .table import PretrainedWeights, WeightSource, register_weights

_MMPRETRAIN = 'https://download.openmmlab.com/mmclassification/v0/hornet/'
_OFFICIAL_README = 'HorNet README (raoyongming/HorNet), ImageNet-1K model zoo'


def _hornet(arch: str, official_name: str, official_url: str, mmpretrain_file: str,
            top1: float, params: float):
    """The official file (Tsinghua Cloud, a direct download) first, then mmpretrain's
    conversion of it (the OpenMMLab file name ends in its sha256's first 8 hex digits)."""
    return PretrainedWeights(
        name=f'hornet-{arch}', family='hornet', model=dict(type='HorNet', arch=arch),
        sources=(WeightSource(url=official_url, filename=official_name, layout='official',
                              page='https://github.com/raoyongming/HorNet#model-zoo'),
                 WeightSource(url=_MMPRETRAIN + mmpretrain_file, filename=mmpretrain_file,
                              layout='mmpretrain',
                              sha256=mmpretrain_file.rsplit('-', 1)[1].split('.')[0])),
        top1=top1, top1_source=_OFFICIAL_README, params=params)


register_weights(
    _hornet('tiny', 'hornet_tiny_7x7.pth',
            'https://cloud.tsinghua.edu.cn/f/762f05c3c8cd4743b534/?dl=1',
            'hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth', 82.8, 22),
    _hornet('tiny-gf', 'hornet_tiny_gf.pth',
            'https://cloud.tsinghua.edu.cn/f/395dd6c443ed4a339739/?dl=1',
            'hornet-tiny-gf_3rdparty_in1k_20220915-4c35a66b.pth', 83.0, 23),
    _hornet('small', 'hornet_small_7x7.pth',
            'https://cloud.tsinghua.edu.cn/f/9d7043023da14e4b8b2e/?dl=1',
            'hornet-small_3rdparty_in1k_20220915-5935f60f.pth', 84.0, 50),
    _hornet('small-gf', 'hornet_small_gf.pth',
            'https://cloud.tsinghua.edu.cn/f/19eef725b2e64692b8b0/?dl=1',
            'hornet-small-gf_3rdparty_in1k_20220915-649ca492.pth', 84.2, 50),
    _hornet('base', 'hornet_base_7x7.pth',
            'https://cloud.tsinghua.edu.cn/f/836ab04898c646c389ce/?dl=1',
            'hornet-base_3rdparty_in1k_20220915-a06176bb.pth', 84.3, 87),
    _hornet('base-gf', 'hornet_base_gf.pth',
            'https://cloud.tsinghua.edu.cn/f/60f706e36f6b4098a1f9/?dl=1',
            'hornet-base-gf_3rdparty_in1k_20220915-82c06fa7.pth', 84.5, 88),
)


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
