from mmcv.cnn import DepthwiseSeparableConvModule

from .ghost import DFCAttention, GhostModule
from .gnconv import GlobalLocalFilter, LayerNorm2d, gnConv
from .odconv import ODConv2d, odconv_temperature, set_odconv_temperature
from .se import SqueezeExcite
from .shuffle import channel_shuffle

# The depthwise-separable block shared by ShuffleNetV2 and the YOLOv4 neck is mmcv's
# (3x3 depthwise conv + norm + act, 1x1 pointwise conv + norm + act, each configurable).
__all__ = [
    'DFCAttention',
    'DepthwiseSeparableConvModule',
    'GhostModule',
    'GlobalLocalFilter',
    'LayerNorm2d',
    'ODConv2d',
    'SqueezeExcite',
    'channel_shuffle',
    'gnConv',
    'odconv_temperature',
    'set_odconv_temperature',
]
