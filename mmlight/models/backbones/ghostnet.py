"""GhostNet (CVPR 2020) and GhostNetV2 (NeurIPS 2022) as multi-scale detection backbones."""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.utils import make_divisible
from mmdet.registry import MODELS
from mmengine.model import BaseModule

from mmlight.family import BackboneFamily, Paper, PretrainedWeights, WeightSource, register_family
from mmlight.utils.validators import check_widen_factor

from ..layers import GhostModule, SqueezeExcite
from .base import MultiScaleBackbone

# One row per bottleneck: depthwise kernel, expansion channels, output channels, SE ratio,
# stride. Rows are grouped by output level (strides 4, 8, 16, 32); the final 1x1 conv (level
# 4) has the last row's expansion channels. Same table for V1 and V2 (GhostNet paper, Table 1).
GHOSTNET_ARCH = [
    [[3, 16, 16, 0, 1], [3, 48, 24, 0, 2], [3, 72, 24, 0, 1]],
    [[5, 72, 40, 0.25, 2], [5, 120, 40, 0.25, 1]],
    [
        [3, 240, 80, 0, 2],
        [3, 200, 80, 0, 1],
        [3, 184, 80, 0, 1],
        [3, 184, 80, 0, 1],
        [3, 480, 112, 0.25, 1],
        [3, 672, 112, 0.25, 1],
    ],
    [
        [5, 672, 160, 0.25, 2],
        [5, 960, 160, 0, 1],
        [5, 960, 160, 0.25, 1],
        [5, 960, 160, 0, 1],
        [5, 960, 160, 0.25, 1],
    ],
]
STEM_CHANNELS = 16
# GhostNetV2 gates ghost1 with DFC attention in every bottleneck but the first two.
V2_PLAIN_BLOCKS = 2


class GhostBottleneck(BaseModule):
    """Ghost bottleneck: Ghost module, (strided depthwise conv), (SE), linear Ghost module,
    plus a shortcut that is identity or depthwise + pointwise conv.

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Expansion channels.
        out_channels (int): Output channels.
        dw_kernel_size (int): Kernel of the depthwise convs. Default: 3.
        stride (int): 1 or 2. Default: 1.
        se_ratio (float): SE ratio; 0 disables SE. Default: 0.
        with_dfc (bool): DFC attention in the first Ghost module (GhostNetV2). Default: False.
        norm_cfg (dict): Norm config. Default: BN.
        act_cfg (dict): Activation config. Default: ReLU.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        dw_kernel_size: int = 3,
        stride: int = 1,
        se_ratio: float = 0.0,
        with_dfc: bool = False,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        pad = (dw_kernel_size - 1) // 2
        self.ghost1 = GhostModule(
            in_channels, mid_channels, with_dfc=with_dfc, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.conv_dw = (
            ConvModule(
                mid_channels,
                mid_channels,
                dw_kernel_size,
                stride,
                pad,
                groups=mid_channels,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=None,
            )
            if stride > 1
            else None
        )
        self.se = SqueezeExcite(mid_channels, se_ratio) if se_ratio > 0 else None
        self.ghost2 = GhostModule(
            mid_channels, out_channels, with_act=False, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        if in_channels == out_channels and stride == 1:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                ConvModule(
                    in_channels,
                    in_channels,
                    dw_kernel_size,
                    stride,
                    pad,
                    groups=in_channels,
                    bias=False,
                    norm_cfg=norm_cfg,
                    act_cfg=None,
                ),
                ConvModule(
                    in_channels, out_channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None
                ),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.ghost1(x)
        if self.conv_dw is not None:
            out = self.conv_dw(out)
        if self.se is not None:
            out = self.se(out)
        return self.ghost2(out) + self.shortcut(x)


class _GhostNetBase(MultiScaleBackbone):
    dfc = False

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
        self.widen_factor = check_widen_factor(widen_factor, owner=type(self).__name__)

        def width(channels):
            return make_divisible(channels * self.widen_factor, 4)

        in_channels = width(STEM_CHANNELS)
        self.stem = ConvModule(
            3, in_channels, 3, 2, 1, bias=False, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        stages, level_channels, block_index = [], [], 0
        for rows in GHOSTNET_ARCH:
            blocks = []
            for kernel, expansion, channels, se_ratio, stride in rows:
                blocks.append(
                    GhostBottleneck(
                        in_channels,
                        width(expansion),
                        width(channels),
                        kernel,
                        stride,
                        se_ratio,
                        with_dfc=self.dfc and block_index >= V2_PLAIN_BLOCKS,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                    )
                )
                in_channels = width(channels)
                block_index += 1
            stages.append(nn.Sequential(*blocks))
            level_channels.append(in_channels)
        final_channels = width(GHOSTNET_ARCH[-1][-1][1])
        stages.append(
            ConvModule(
                in_channels, final_channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=act_cfg
            )
        )
        level_channels.append(final_channels)
        self.stages = nn.ModuleList(stages)
        self._init_contract(
            level_channels=level_channels,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )


@MODELS.register_module()
class GhostNet(_GhostNetBase):
    """GhostNet backbone (`GhostNet: More Features from Cheap Operations
    <https://arxiv.org/abs/1911.11907>`_).

    Args:
        widen_factor (float): Width multiplier, any positive number (the paper reports 0.5,
            1.0 and 1.3). Channels are rounded to multiples of 4. Default: 1.0.
        out_indices (Sequence[int]): Levels to output: 0-3 are the last features at strides
            4/8/16/32 (24/40/112/160 channels at 1.0x), 4 is the final 1x1 conv (960).
            Default: (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and levels 0..k-1
            (eval mode, no gradient). Default: -1.
        norm_cfg (dict): Norm config. Default: BN.
        act_cfg (dict): Activation config. Default: ReLU.
        norm_eval (bool): Keep every BN in eval mode while training. Default: False.
        with_cp (bool): Gradient checkpointing per bottleneck. Default: False.
        init_cfg (dict, optional): Initialization config; ``dict(type='Pretrained',
            checkpoint='mmlight://NAME' or a file, prefix=...)`` loads strictly (official / timm
            files are converted on load).
    """


@MODELS.register_module()
class GhostNetV2(_GhostNetBase):
    """GhostNetV2 backbone (`GhostNetV2: Enhance Cheap Operation with Long-Range Attention
    <https://arxiv.org/abs/2211.12905>`_): GhostNet with DFC attention gating the first Ghost
    module of every bottleneck after the first two.

    Args:
        widen_factor (float): Width multiplier (the paper reports 1.0, 1.3 and 1.6).
            Default: 1.0.
        out_indices, frozen_stages, norm_cfg, act_cfg, norm_eval, with_cp, init_cfg:
            as :class:`GhostNet`.
    """

    dfc = True


# The family records: what the tools and docs say of GhostNet and GhostNetV2.
GHOSTNET_FINAL_CHANNELS = GHOSTNET_ARCH[-1][-1][1]
_V1_RELEASE = 'https://github.com/huawei-noah/CV-backbones/releases/download/ghostnet_pth/'
_V2_RELEASE = 'https://github.com/huawei-noah/Efficient-AI-Backbones/releases/download/GhostNetV2/'
_V2_README = (
    'GhostNetV2 paper, Table 1 (Efficient-AI-Backbones ghostnetv2_pytorch README links these files)'
)


def _ghostnet_variants(type_name):
    def variants(state_dict) -> list[dict]:
        final = state_dict.get('stages.4.conv.weight')
        if final is None:
            return []
        # make_divisible(960 * w, 4): w to within 4 / 960; the papers' widths have one or two
        # decimals
        exact = final.shape[0] / GHOSTNET_FINAL_CHANNELS
        widths = list(dict.fromkeys([round(exact, 2), round(exact, 1), round(exact, 3)]))
        return [dict(type=type_name, widen_factor=w) for w in widths]

    return variants


def _ghostnetv2_weights(width: float, tag: str, top1: float, params: float):
    return PretrainedWeights(
        name=f'ghostnetv2_{width}x',
        family='ghostnetv2',
        model=dict(type='GhostNetV2', widen_factor=width),
        sources=(
            WeightSource(
                url=_V2_RELEASE + f'ck_ghostnetv2_{tag}.pth.tar',
                filename=f'ck_ghostnetv2_{tag}.pth.tar',
                layout='official',
            ),
        ),
        top1=top1,
        top1_source=_V2_README,
        params=params,
        licence='BSD-3-Clause',
    )


register_family(
    BackboneFamily(
        key='ghostnet',
        name='GhostNet',
        paper=Paper(
            'GhostNet: More Features from Cheap Operations', 'https://arxiv.org/abs/1911.11907'
        ),
        backbones=('GhostNet',),
        variants=_ghostnet_variants('GhostNet'),
        contract_variants={'GhostNet': dict(widen_factor=0.25)},
        weights=(
            PretrainedWeights(
                name='ghostnet_1.0x',
                family='ghostnet',
                model=dict(type='GhostNet', widen_factor=1.0),
                sources=(
                    WeightSource(
                        url=_V1_RELEASE + 'ghostnet_1x.pth',
                        filename='ghostnet_1x.pth',
                        layout='official',
                    ),
                ),
                top1=73.9,
                top1_source='GhostNet paper, Table 7',
                params=5.2,
                licence='Apache-2.0',
            ),
        ),
        published=(
            'Han et al., CVPR 2020, Table 8: Faster R-CNN + FPN, 1x, GhostNet **1.1x**: 26.9 '
            'mAP; the same table has RetinaNet + FPN, also with GhostNet **1.1x**. There is no '
            'published number for 1.0x, the width of `faster_rcnn_ghostnet_fpn_1x` and '
            '`retinanet_ghostnet_fpn_1x`; `widen_factor=1.1` builds the paper\'s width (no '
            'ImageNet weights are released for it).'
        ),
    )
)
register_family(
    BackboneFamily(
        key='ghostnetv2',
        name='GhostNetV2',
        paper=Paper(
            'GhostNetV2: Enhance Cheap Operation with Long-Range Attention',
            'https://arxiv.org/abs/2211.12905',
        ),
        backbones=('GhostNetV2',),
        variants=_ghostnet_variants('GhostNetV2'),
        contract_variants={'GhostNetV2': dict(widen_factor=0.25)},
        weights=(
            _ghostnetv2_weights(1.0, '10', 75.3, 6.1),
            _ghostnetv2_weights(1.3, '13', 76.9, 8.9),
            _ghostnetv2_weights(1.6, '16', 77.8, 12.3),
        ),
        published=(
            'Tang et al., NeurIPS 2022: COCO results are for YOLOv3 detectors, not for these '
            'configs: no published number.'
        ),
    )
)
