"""ShuffleNetV1 (CVPR 2018) and ShuffleNetV2 (ECCV 2018) as multi-scale detection backbones."""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer
from mmdet.models.utils import make_divisible
from mmdet.registry import MODELS
from mmengine.model import BaseModule

from mmlight.family import BackboneFamily, Paper, PretrainedWeights, WeightSource, register_family
from mmlight.utils.validators import check_choice, check_widen_factor

from ..layers import DepthwiseSeparableConvModule, channel_shuffle
from .base import MultiScaleBackbone

STEM_CHANNELS = 24
STAGE_BLOCKS = (4, 8, 4)
# ShuffleNetV2 paper, Table 5: output channels of stages 2-4 and of conv5, per width.
SHUFFLENETV2_CHANNELS = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}
# ShuffleNetV1 paper, Table 1: output channels of stages 2-4 at 1x, per number of groups;
# other widths scale them (rounded to multiples of 8) and the stem.
SHUFFLENETV1_CHANNELS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
SHUFFLENETV1_WIDTHS = (0.5, 1.0, 1.5, 2.0)


def shufflenetv1_channels(groups, widen_factor):
    """Stem and stage channels, or None where the grouped 1x1 convs cannot split them."""
    stage_channels = [make_divisible(c * widen_factor, 8) for c in SHUFFLENETV1_CHANNELS[groups]]
    stem_channels = int(STEM_CHANNELS * widen_factor)
    in_channels = stem_channels
    for level, channels in enumerate(stage_channels):
        first_in = in_channels if level > 0 else None  # the very first 1x1 is not grouped
        for width in (channels // 4, channels - in_channels, channels, first_in):
            if width is not None and width % groups:
                return None
        in_channels = channels
    return stem_channels, stage_channels


class ShuffleUnitV1(BaseModule):
    """ShuffleNetV1 unit: 1x1 group conv, 3x3 depthwise conv, channel shuffle, 1x1 group conv.

    The official code shuffles after the depthwise conv; a depthwise conv commutes with the
    shuffle (the paper draws it before), and this order keeps the official weights' layout.
    Stride-2 units concatenate a 3x3 average-pooled shortcut, the others add the identity.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels (including the shortcut when concatenating).
        groups (int): Groups of the 1x1 convs.
        stride (int): 2 concatenates, 1 adds.
        group_first_conv (bool): False for the very first unit, whose input (the stem) is too
            narrow to group.
        norm_cfg, act_cfg (dict): Norm and activation configs.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        groups: int,
        stride: int,
        group_first_conv: bool = True,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        bottleneck = out_channels // 4
        self.concat = stride > 1
        self.groups = groups
        if self.concat:
            out_channels -= in_channels
            self.avgpool = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        self.g_conv_1x1_compress = ConvModule(
            in_channels,
            bottleneck,
            1,
            groups=groups if group_first_conv else 1,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.depthwise_conv3x3_bn = ConvModule(
            bottleneck, bottleneck, 3, stride, 1, groups=bottleneck, norm_cfg=norm_cfg, act_cfg=None
        )
        self.g_conv_1x1_expand = ConvModule(
            bottleneck, out_channels, 1, groups=groups, norm_cfg=norm_cfg, act_cfg=None
        )
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.depthwise_conv3x3_bn(self.g_conv_1x1_compress(x))
        if self.groups > 1:
            out = channel_shuffle(out, self.groups)
        out = self.g_conv_1x1_expand(out)
        if self.concat:
            return torch.cat((self.avgpool(x), self.act(out)), dim=1)
        return self.act(x + out)


class ShuffleUnitV2(BaseModule):
    """ShuffleNetV2 unit. Stride 1: split the channels in half, keep one half, run the other
    through 1x1 conv, 3x3 depthwise conv, 1x1 conv; stride 2: no split, a second branch
    (depthwise-separable) on the input. Concatenate and shuffle with 2 groups.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): 1 or 2.
        norm_cfg, act_cfg (dict): Norm and activation configs.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        branch_channels = out_channels // 2
        self.stride = stride
        if stride == 1 and in_channels != out_channels:
            raise ValueError(
                f'a stride-1 ShuffleNetV2 unit keeps its width, got {in_channels} -> {out_channels}'
            )
        if stride > 1:
            self.branch1 = DepthwiseSeparableConvModule(
                in_channels,
                branch_channels,
                3,
                stride,
                1,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                dw_act_cfg=None,
            )
        self.branch2 = nn.Sequential(
            ConvModule(
                in_channels if stride > 1 else branch_channels,
                branch_channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
            ),
            DepthwiseSeparableConvModule(
                branch_channels,
                branch_channels,
                3,
                stride,
                1,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                dw_act_cfg=None,
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            kept, transformed = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(transformed)), dim=1)
        return channel_shuffle(out, 2)


class _ShuffleNetBase(MultiScaleBackbone):
    def _build_stem(self, stem_channels, norm_cfg, act_cfg):
        self.stem = ConvModule(3, stem_channels, 3, 2, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        # level 0 (stride 4) is the stem's max-pool
        return [nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]


@MODELS.register_module()
class ShuffleNetV2(_ShuffleNetBase):
    """ShuffleNetV2 backbone (`ShuffleNet V2: Practical Guidelines for Efficient CNN
    Architecture Design <https://arxiv.org/abs/1807.11164>`_).

    Args:
        widen_factor (float): 0.5, 1.0, 1.5 or 2.0 (the paper's table). Default: 1.0.
        out_indices (Sequence[int]): 0 = stride 4 (the stem max-pool, 24 channels), 1-3 =
            the stage outputs at strides 8/16/32 (116/232/464 at 1.0x), 4 = conv5 (1024).
            Default: (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and levels 0..k-1.
            Default: -1.
        norm_cfg (dict): Norm config. Default: BN.
        act_cfg (dict): Activation config. Default: ReLU.
        norm_eval (bool): Keep every BN in eval mode while training. Default: False.
        with_cp (bool): Gradient checkpointing per unit. Default: False.
        init_cfg (dict, optional): Initialization config; Pretrained loads strictly.
    """

    def __init__(
        self,
        widen_factor: float = 1.0,
        out_indices=(0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.widen_factor = check_widen_factor(
            widen_factor, SHUFFLENETV2_CHANNELS, owner='ShuffleNetV2'
        )
        *stage_channels, final_channels = SHUFFLENETV2_CHANNELS[self.widen_factor]
        stages = self._build_stem(STEM_CHANNELS, norm_cfg, act_cfg)
        in_channels = STEM_CHANNELS
        for channels, num_units in zip(stage_channels, STAGE_BLOCKS, strict=False):
            stages.append(
                nn.Sequential(
                    *[
                        ShuffleUnitV2(
                            in_channels if i == 0 else channels,
                            channels,
                            2 if i == 0 else 1,
                            norm_cfg=norm_cfg,
                            act_cfg=act_cfg,
                        )
                        for i in range(num_units)
                    ]
                )
            )
            in_channels = channels
        stages.append(
            ConvModule(in_channels, final_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        )
        self.stages = nn.ModuleList(stages)
        self._init_contract(
            level_channels=[STEM_CHANNELS, *stage_channels, final_channels],
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )


@MODELS.register_module()
class ShuffleNetV1(_ShuffleNetBase):
    """ShuffleNetV1 backbone (`ShuffleNet: An Extremely Efficient Convolutional Neural
    Network for Mobile Devices <https://arxiv.org/abs/1707.01083>`_).

    Args:
        groups (int): Groups of the 1x1 convs: 1, 2, 3, 4 or 8. Default: 3.
        widen_factor (float): 0.5, 1.0, 1.5 or 2.0. Default: 1.0.
        out_indices (Sequence[int]): 0 = stride 4 (the stem max-pool, 24 channels at 1.0x),
            1-3 = the stage outputs at strides 8/16/32 (240/480/960 for g=3 at 1.0x).
            ShuffleNetV1 has no final 1x1 conv. Default: (0, 1, 2, 3).
        frozen_stages, norm_cfg, act_cfg, norm_eval, with_cp, init_cfg: as ShuffleNetV2.
    """

    def __init__(
        self,
        groups: int = 3,
        widen_factor: float = 1.0,
        out_indices=(0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.groups = check_choice('groups', groups, tuple(SHUFFLENETV1_CHANNELS))
        self.widen_factor = check_widen_factor(
            widen_factor, SHUFFLENETV1_WIDTHS, owner='ShuffleNetV1'
        )
        channels = shufflenetv1_channels(groups, self.widen_factor)
        if channels is None:
            valid = [w for w in SHUFFLENETV1_WIDTHS if shufflenetv1_channels(groups, w)]
            raise ValueError(
                f'ShuffleNetV1 with groups={groups} has no channel layout at '
                f'widen_factor {widen_factor} (its channels do not divide into '
                f'{groups} groups); valid widen_factor for groups={groups}: {valid}'
            )
        stem_channels, stage_channels = channels
        stages = self._build_stem(stem_channels, norm_cfg, act_cfg)
        in_channels = stem_channels
        for level, (channels, num_units) in enumerate(
            zip(stage_channels, STAGE_BLOCKS, strict=False)
        ):
            units = []
            for i in range(num_units):
                units.append(
                    ShuffleUnitV1(
                        in_channels,
                        channels,
                        groups,
                        2 if i == 0 else 1,
                        group_first_conv=not (level == 0 and i == 0),
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                    )
                )
                in_channels = channels
            stages.append(nn.Sequential(*units))
        self.stages = nn.ModuleList(stages)
        self._init_contract(
            level_channels=[stem_channels, *stage_channels],
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )


# The family records: what the tools and docs say of ShuffleNetV2 (torchvision's weights) and
# ShuffleNetV1 (mmpretrain's).
_TORCHVISION = 'https://download.pytorch.org/models/'
_TORCHVISION_DOCS = 'torchvision model docs (ShuffleNet_V2_X*_Weights.IMAGENET1K_V1)'


def _shufflenetv2_weights(width: float, filename: str, sha256: str, top1: float, params: float):
    # torchvision's file names end in the first hex digits of the file's sha256
    return PretrainedWeights(
        name=f'shufflenetv2_{width}x',
        family='shufflenetv2',
        model=dict(type='ShuffleNetV2', widen_factor=width),
        sources=(
            WeightSource(
                url=_TORCHVISION + filename, filename=filename, layout='torchvision', sha256=sha256
            ),
        ),
        top1=top1,
        top1_source=_TORCHVISION_DOCS,
        params=params,
        licence='BSD-3-Clause',
    )


register_family(
    BackboneFamily(
        key='shufflenetv2',
        name='ShuffleNetV2',
        paper=Paper(
            'ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design',
            'https://arxiv.org/abs/1807.11164',
        ),
        backbones=('ShuffleNetV2',),
        variants=lambda sd: [
            dict(type='ShuffleNetV2', widen_factor=width) for width in SHUFFLENETV2_CHANNELS
        ],
        contract_variants={'ShuffleNetV2': dict(widen_factor=0.5)},
        # torchvision's weights are the official PyTorch ShuffleNetV2 weights (the paper's code
        # is Megvii's Caffe/MegEngine); the paper reports 60.3 / 69.4 / 72.6 / 74.9.
        weights=(
            _shufflenetv2_weights(
                0.5, 'shufflenetv2_x0.5-f707e7126e.pth', 'f707e7126e', 60.552, 1.37
            ),
            _shufflenetv2_weights(
                1.0, 'shufflenetv2_x1-5666bf0f80.pth', '5666bf0f80', 69.362, 2.28
            ),
            _shufflenetv2_weights(1.5, 'shufflenetv2_x1_5-3c479a10.pth', '3c479a10', 72.996, 3.50),
            _shufflenetv2_weights(2.0, 'shufflenetv2_x2_0-8be3c8ee.pth', '8be3c8ee', 76.230, 7.39),
        ),
        published=(
            "The paper's detection results (Table 7) use Light-Head R-CNN: no published number "
            'for these configs.'
        ),
    )
)
register_family(
    BackboneFamily(
        key='shufflenetv1',
        name='ShuffleNetV1',
        paper=Paper(
            'ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices',
            'https://arxiv.org/abs/1707.01083',
        ),
        backbones=('ShuffleNetV1',),
        variants=lambda sd: [
            dict(type='ShuffleNetV1', groups=groups, widen_factor=width)
            for groups in SHUFFLENETV1_CHANNELS
            for width in SHUFFLENETV1_WIDTHS
            if shufflenetv1_channels(groups, width)
        ],
        contract_variants={'ShuffleNetV1': dict(groups=3, widen_factor=0.5)},
        weights=(
            PretrainedWeights(
                name='shufflenetv1_g3_1.0x',
                family='shufflenetv1',
                model=dict(type='ShuffleNetV1', groups=3, widen_factor=1.0),
                # OpenMMLab's file names end in the first 8 hex digits of the file's sha256
                sources=(
                    WeightSource(
                        url='https://download.openmmlab.com/mmclassification/v0/shufflenet_v1/'
                        'shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth',
                        filename='shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth',
                        layout='mmpretrain',
                        sha256='5d6cec73',
                    ),
                ),
                top1=68.13,
                top1_source='mmpretrain model zoo (configs/shufflenet_v1/README.md)',
                params=1.87,
                licence='Apache-2.0',
            ),
        ),
        published=(
            'The paper reports Faster R-CNN without FPN at small input sizes: no published '
            'number for these configs.'
        ),
    )
)
