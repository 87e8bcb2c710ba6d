"""ODConv backbones (Li et al., ICLR 2022): OD-ResNet and OD-MobileNetV2.

As in the official code, every conv inside the residual / inverted-residual blocks is an
:class:`~mmlight.models.layers.ODConv2d`; the stems (and OD-ResNet's downsample shortcuts) stay
plain convs. OD-MobileNetV2's final 1x1 conv (level 4) is an ODConv2d too. ``od_cfg=None``
builds the plain network (ResNet / MobileNetV2, the baselines), with the same names and levels.
"""

import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer, build_norm_layer
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck
from mmdet.models.layers import ResLayer
from mmdet.models.utils import make_divisible
from mmdet.registry import MODELS
from mmengine.model import BaseModule

from mmlight.utils.validators import check_choice, check_widen_factor

from .base import MultiScaleBackbone

# depth: (block, blocks per stage); stage widths 64/128/256/512 times the block's expansion
ODRESNET_ARCH = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}
# MobileNetV2 (Sandler et al., Table 2): expand ratio t, channels c, repeats n, stride s.
MOBILENETV2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# which rows of MOBILENETV2_SETTINGS make levels 0-3 (strides 4/8/16/32)
MOBILENETV2_LEVEL_ROWS = ((0, 1), (2,), (3, 4), (5, 6))
MOBILENETV2_WIDTHS = (0.5, 0.75, 1.0)
DEFAULT_OD_CFG = dict(type='ODConv2d', kernel_num=1, reduction=0.0625)


def _od_conv_cfg(od_cfg: dict | None) -> dict | None:
    if od_cfg is None:
        return None
    if not isinstance(od_cfg, dict):
        raise ValueError(
            f'od_cfg must be a dict (e.g. {DEFAULT_OD_CFG}) or None for plain convs, got {od_cfg!r}'
        )
    cfg = dict(type='ODConv2d')
    cfg.update(od_cfg)
    return cfg


class ODBasicBlock(BasicBlock):
    """mmdet's BasicBlock with ODConv2d convs (``od_conv_cfg``); mmdet's ResLayer builds the
    downsample shortcut with its own (plain) ``conv_cfg``."""

    def __init__(self, *args, od_conv_cfg=None, conv_cfg=None, **kwargs):
        super().__init__(*args, conv_cfg=od_conv_cfg, **kwargs)


class ODBottleneck(Bottleneck):
    """mmdet's Bottleneck (pytorch style: stride in the 3x3) with ODConv2d convs."""

    def __init__(self, *args, od_conv_cfg=None, conv_cfg=None, **kwargs):
        super().__init__(*args, conv_cfg=od_conv_cfg, **kwargs)


_OD_BLOCKS = {BasicBlock: ODBasicBlock, Bottleneck: ODBottleneck}


@MODELS.register_module()
class ODResNet(MultiScaleBackbone):
    """OD-ResNet (`Omni-Dimensional Dynamic Convolution <https://arxiv.org/abs/2209.07947>`_).

    Args:
        depth (int): 18, 34, 50 or 101.
        od_cfg (dict, optional): ODConv2d settings of the block convs, e.g.
            ``dict(kernel_num=4, reduction=0.0625)`` for "ODConv 4x"; ``None`` builds the plain
            ResNet. Default: ``dict(type='ODConv2d', kernel_num=1, reduction=0.0625)`` (1x).
        out_indices (Sequence[int]): 0-3 = the outputs of layer1-4 at strides 4/8/16/32
            (256/512/1024/2048 channels for 50/101, 64/128/256/512 for 18/34). ResNet has no
            level 4. Default: (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and layer1..k.
            Default: -1.
        norm_cfg (dict): Norm of the blocks and the stem. Default: BN.
        norm_eval (bool): Keep every BN (the ODConv attentions' included) in eval mode while
            training. Default: False.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        zero_init_residual (bool): Zero-init the last norm of each block. Default: False.
        init_cfg (dict, optional): Initialization config; Pretrained loads strictly.
    """

    def __init__(
        self,
        depth: int = 50,
        od_cfg: dict | None = DEFAULT_OD_CFG,
        out_indices=(0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        norm_eval: bool = False,
        with_cp: bool = False,
        zero_init_residual: bool = False,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        check_choice('depth', depth, sorted(ODRESNET_ARCH))
        block, num_blocks = ODRESNET_ARCH[depth]
        self.depth = depth
        self.od_cfg = _od_conv_cfg(od_cfg)
        self.zero_init_residual = zero_init_residual
        self.stem = nn.Sequential(
            build_conv_layer(None, 3, 64, 7, stride=2, padding=3, bias=False),
            build_norm_layer(norm_cfg, 64)[1],
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        if self.od_cfg is not None:
            block = _OD_BLOCKS[block]
        extra = {} if self.od_cfg is None else dict(od_conv_cfg=self.od_cfg)
        stages, level_channels, in_channels = [], [], 64
        for level, blocks in enumerate(num_blocks):
            planes = 64 * 2**level
            stages.append(
                ResLayer(
                    block,
                    in_channels,
                    planes,
                    blocks,
                    stride=1 if level == 0 else 2,
                    norm_cfg=norm_cfg,
                    style='pytorch',
                    **extra,
                )
            )
            in_channels = planes * block.expansion
            level_channels.append(in_channels)
        self.stages = nn.ModuleList(stages)
        self._init_contract(
            level_channels=level_channels,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )

    def init_weights(self):
        super().init_weights()
        if self.init_cfg is None:
            # the official (and torchvision) ResNet init; it is also the init the official
            # ODConv attention gives its 1x1 convs (whose zero biases are left as they are)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if self.zero_init_residual and not (
            isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        ):
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.norm3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.norm2.weight)


class InvertedResidual(BaseModule):
    """MobileNetV2's inverted residual: 1x1 expansion (skipped for t = 1), 3x3 depthwise,
    linear 1x1 projection; identity shortcut when the shape is kept. ``conv_cfg`` applies to
    all three convs (ODConv2d in OD-MobileNetV2).

    Args:
        in_channels, out_channels (int): Channels.
        stride (int): Stride of the depthwise conv.
        expand_ratio (int): t.
        conv_cfg, norm_cfg, act_cfg (dict): Conv, norm and activation configs.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        expand_ratio: int,
        conv_cfg: dict | None = None,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU6'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == 1 and in_channels == out_channels
        layers = []
        if expand_ratio != 1:
            layers.append(
                ConvModule(
                    in_channels, hidden, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
                )
            )
        layers += [
            ConvModule(
                hidden,
                hidden,
                3,
                stride=stride,
                padding=1,
                groups=hidden,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
            ),
            ConvModule(hidden, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv(x)
        return x + out if self.use_residual else out


@MODELS.register_module()
class ODMobileNetV2(MultiScaleBackbone):
    """OD-MobileNetV2 (`Omni-Dimensional Dynamic Convolution
    <https://arxiv.org/abs/2209.07947>`_): every conv but the stem's is an ODConv2d.

    Args:
        widen_factor (float): 0.5, 0.75 or 1.0. Default: 1.0.
        od_cfg (dict, optional): ODConv2d settings, e.g. ``dict(kernel_num=4)`` for 4x;
            ``None`` builds the plain MobileNetV2. Default: ODConv 1x (kernel_num=1).
        out_indices (Sequence[int]): 0-3 = the stage outputs at strides 4/8/16/32
            (24/32/96/320 channels at 1.0x), 4 = the final 1x1 conv (1280). The official
            detection setting 24/32/96/1280 is (0, 1, 2, 4). Default: (0, 1, 2, 4).
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and levels 0..k-1.
            Default: -1.
        norm_cfg (dict): Norm config. Default: BN.
        act_cfg (dict): Activation. Default: ReLU6.
        norm_eval (bool): Keep every BN (attentions' included) in eval mode. Default: False.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        init_cfg (dict, optional): Initialization config; Pretrained loads strictly.
    """

    def __init__(
        self,
        widen_factor: float = 1.0,
        od_cfg: dict | None = DEFAULT_OD_CFG,
        out_indices=(0, 1, 2, 4),
        frozen_stages: int = -1,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU6'),
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.widen_factor = check_widen_factor(
            widen_factor, MOBILENETV2_WIDTHS, owner='ODMobileNetV2'
        )
        self.od_cfg = conv_cfg = _od_conv_cfg(od_cfg)
        in_channels = make_divisible(32 * self.widen_factor, 8)
        self.stem = ConvModule(
            3, in_channels, 3, stride=2, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        stages, level_channels = [], []
        for rows in MOBILENETV2_LEVEL_ROWS:
            blocks = []
            for row in rows:
                expand_ratio, channels, repeats, stride = MOBILENETV2_SETTINGS[row]
                channels = make_divisible(channels * self.widen_factor, 8)
                for i in range(repeats):
                    blocks.append(
                        InvertedResidual(
                            in_channels,
                            channels,
                            stride if i == 0 else 1,
                            expand_ratio,
                            conv_cfg,
                            norm_cfg,
                            act_cfg,
                        )
                    )
                    in_channels = channels
            stages.append(nn.Sequential(*blocks))
            level_channels.append(in_channels)
        final_channels = make_divisible(1280 * max(1.0, self.widen_factor), 8)
        stages.append(
            ConvModule(
                in_channels,
                final_channels,
                1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
            )
        )
        self.stages = nn.ModuleList(stages)
        self._init_contract(
            level_channels=[*level_channels, final_channels],
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )
