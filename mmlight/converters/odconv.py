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
from .table import PretrainedWeights, WeightSource, register_weights

_ODCONV_README = 'ODConv README (OSVAI/ODConv), ImageNet results table'
_DRIVE = 'https://drive.google.com/file/d/{}/view?usp=sharing'
_TORCHVISION = 'https://download.pytorch.org/models/'


def _od(name: str, arch: dict, drive_id: str, top1: float, params: float):
    """An official ODConv release: a Google Drive page that no program can download from.
    Drive does not show the file's name to mmlight, so the file is looked for under
    ``NAME.pth.tar`` (the format of the official main.py's checkpoints)."""
    return PretrainedWeights(
        name=name, family=arch["family"], model=arch["model"],
        sources=(WeightSource(url=None, filename=f'{name}.pth.tar', layout='official',
                              page=_DRIVE.format(drive_id)), ),
        top1=top1, top1_source=_ODCONV_README, params=params)


def _baseline(name: str, model: dict, torchvision_file: str, drive_id: str, top1: float,
              weights_enum: str, params: float):
    """A plain baseline: torchvision's file (its name ends in its sha256's first hex digits),
    then the ODConv authors' own baseline on Google Drive."""
    return PretrainedWeights(
        name=name, family=model['type'].lower(), model=model,
        sources=(WeightSource(url=_TORCHVISION + torchvision_file, filename=torchvision_file,
                              layout='torchvision',
                              sha256=torchvision_file.rsplit('-', 1)[1].split('.')[0]),
                 WeightSource(url=None, filename=f'odconv_{name}_baseline.pth.tar',
                              layout='official', page=_DRIVE.format(drive_id))),
        top1=top1, top1_source=f'torchvision model docs ({weights_enum}.IMAGENET1K_V1)',
        params=params)


def _odresnet(depth, kernel_num):
    return dict(family='odresnet', model=dict(
        type='ODResNet', depth=depth, od_cfg=dict(kernel_num=kernel_num, reduction=0.0625)))


def _odmobilenetv2(kernel_num):
    return dict(family='odmobilenetv2', model=dict(
        type='ODMobileNetV2', widen_factor=1.0,
        od_cfg=dict(kernel_num=kernel_num, reduction=0.0625)))


register_weights(
    _od('od_resnet18_1x', _odresnet(18, 1), '1AxCKAHJve3fbe2SnvoHsSucNvjv5Dxow', 73.05, 11.94),
    _od('od_resnet18_4x', _odresnet(18, 4), '1Krsaa0fBKluFCyO7nmg-R9LlsoSUjJj2', 74.19, 44.90),
    _od('od_resnet50_1x', _odresnet(50, 1), '1Aqwv6uQ9iI8a8Z5vjqmKuSTar0U8gfVJ', 77.87, 28.64),
    _od('od_resnet50_4x', _odresnet(50, 4), '1uO774twnIYLiDV2BAsVM136k4EAhs6oh', 78.50, 90.67),
    _od('od_mobilenetv2_1x', _odmobilenetv2(1), '1Du_AH_pvtFE8ABg_FLjtPccVypw5AajU', 74.74,
        4.94),
    _od('od_mobilenetv2_4x', _odmobilenetv2(4), '1HfwoBWOGsiiuhoOyetoQeJ8iXrCi5lJv', 75.29,
        11.51),
    # The plain baselines come from torchvision (a program can download them). The ODConv
    # paper's own baselines (MobileNetV2 71.65 %, ResNet-50 76.23 %, Google Drive) are the
    # second source: put that file in MMLIGHT_WEIGHTS_DIR under its name to use it instead.
    _baseline('mobilenetv2_1.0x', dict(type='ODMobileNetV2', widen_factor=1.0, od_cfg=None),
              'mobilenet_v2-b0353104.pth', '1bcqVXDLqHW3cid4eMZ_992QHBRMalrMZ', 71.878,
              'MobileNet_V2_Weights', 3.50),
    _baseline('resnet50', dict(type='ODResNet', depth=50, od_cfg=None), 'resnet50-0676ba61.pth',
              '1dFMbV1QkKQOain1_4JhAuHAW9Xq_ZzCS', 76.130, 'ResNet50_Weights', 25.56),
)


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
    return OrderedDict((k, v.flatten(0, 1) if v.dim() == 5 else v)
                       for k, v in state_dict.items())


def convert_odresnet(state_dict):
    state_dict = _flatten_banks(state_dict)
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            continue
        if key.startswith('conv1.'):
            converted['stem.0.' + key[len('conv1.'):]] = value
        elif key.startswith('bn1.'):
            converted['stem.1.' + key[len('bn1.'):]] = value
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
            converted[prefix + ('conv.' if part.group(1) == '0' else 'bn.') + part.group(2)] = \
                value
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
