"""torchvision shufflenet_v2_x* and mmpretrain ShuffleNetV1/V2 checkpoints to mmlight."""
import re
from collections import OrderedDict

from mmlight.utils.state_dict import keys_without_prefix, strip_key_prefix

from .table import PretrainedWeights, WeightSource, register_weights

_TORCHVISION = 'https://download.pytorch.org/models/'
_TORCHVISION_DOCS = 'torchvision model docs (ShuffleNet_V2_X*_Weights.IMAGENET1K_V1)'


def _shufflenetv2(width: float, filename: str, sha256: str, top1: float, params: float):
    # torchvision's file names end in the first hex digits of the file's sha256
    return PretrainedWeights(
        name=f'shufflenetv2_{width}x', family='shufflenetv2',
        model=dict(type='ShuffleNetV2', widen_factor=width),
        sources=(WeightSource(url=_TORCHVISION + filename, filename=filename,
                              layout='torchvision', sha256=sha256), ),
        top1=top1, top1_source=_TORCHVISION_DOCS, params=params)


register_weights(
    # torchvision's weights are the official PyTorch ShuffleNetV2 weights (the paper's code
    # is Megvii's Caffe/MegEngine); the paper reports 60.3 / 69.4 / 72.6 / 74.9.
    _shufflenetv2(0.5, 'shufflenetv2_x0.5-f707e7126e.pth', 'f707e7126e', 60.552, 1.37),
    _shufflenetv2(1.0, 'shufflenetv2_x1-5666bf0f80.pth', '5666bf0f80', 69.362, 2.28),
    _shufflenetv2(1.5, 'shufflenetv2_x1_5-3c479a10.pth', '3c479a10', 72.996, 3.50),
    _shufflenetv2(2.0, 'shufflenetv2_x2_0-8be3c8ee.pth', '8be3c8ee', 76.230, 7.39),
    PretrainedWeights(
        name='shufflenetv1_g3_1.0x', family='shufflenetv1',
        model=dict(type='ShuffleNetV1', groups=3, widen_factor=1.0),
        # OpenMMLab's file names end in the first 8 hex digits of the file's sha256
        sources=(WeightSource(
            url='https://download.openmmlab.com/mmclassification/v0/shufflenet_v1/'
            'shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth',
            filename='shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth',
            layout='mmpretrain', sha256='5d6cec73'), ),
        top1=68.13, top1_source='mmpretrain model zoo (configs/shufflenet_v1/README.md)',
        params=1.87),
)

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
            converted['stem.' + key[len('conv1.'):]] = value
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
    if any(k.startswith('layers.') and '.g_conv_1x1_' in k
           for k in keys_without_prefix(keys, 'backbone.')):
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
