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

from mmlight.family import BackboneFamily, Paper, PretrainedWeights, WeightSource, register_family
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


# The family records: what the tools and docs say of OD-ResNet and OD-MobileNetV2 (one paper).
# The official ODConv releases are Google Drive pages that no program can download from; the
# plain baselines come from torchvision first.
ODCONV_PAPER = Paper('Omni-Dimensional Dynamic Convolution', 'https://arxiv.org/abs/2209.07947')
ODCONV_REDUCTION = 0.0625  # the official configs' reduction of every ODConv attention
_ODCONV_README = 'ODConv README (OSVAI/ODConv), ImageNet results table'
_DRIVE = 'https://drive.google.com/file/d/{}/view?usp=sharing'
_TORCHVISION = 'https://download.pytorch.org/models/'


def _od_cfg(state_dict) -> dict | None:
    if not any('.attention.' in k for k in state_dict):
        return None
    kernel_fc = [v for k, v in state_dict.items() if k.endswith('attention.kernel_fc.weight')]
    kernel_num = int(kernel_fc[0].shape[0]) if kernel_fc else 1
    return dict(kernel_num=kernel_num, reduction=ODCONV_REDUCTION)


def _od_weights(name: str, model: dict, drive_id: str, top1: float, params: float):
    """An official ODConv release. Drive does not show the file's name to mmlight, so the file
    is looked for under ``NAME.pth.tar`` (the format of the official main.py's checkpoints)."""
    return PretrainedWeights(
        name=name,
        family=model['type'].lower(),
        model=model,
        sources=(
            WeightSource(
                url=None,
                filename=f'{name}.pth.tar',
                layout='official',
                page=_DRIVE.format(drive_id),
            ),
        ),
        top1=top1,
        top1_source=_ODCONV_README,
        params=params,
        licence='MIT',
    )


def _baseline_weights(name, model, torchvision_file, drive_id, top1, weights_enum, params):
    """A plain baseline: torchvision's file (its name ends in its sha256's first hex digits),
    then the ODConv authors' own baseline on Google Drive (put that file in
    MMLIGHT_WEIGHTS_DIR under its name to use it instead)."""
    return PretrainedWeights(
        name=name,
        family=model['type'].lower(),
        model=model,
        sources=(
            WeightSource(
                url=_TORCHVISION + torchvision_file,
                filename=torchvision_file,
                layout='torchvision',
                sha256=torchvision_file.rsplit('-', 1)[1].split('.')[0],
            ),
            WeightSource(
                url=None,
                filename=f'odconv_{name}_baseline.pth.tar',
                layout='official',
                page=_DRIVE.format(drive_id),
            ),
        ),
        top1=top1,
        top1_source=f'torchvision model docs ({weights_enum}.IMAGENET1K_V1)',
        params=params,
        licence='BSD-3-Clause (the Drive baseline: MIT)',
    )


def _odresnet(depth, kernel_num):
    od_cfg = dict(kernel_num=kernel_num, reduction=ODCONV_REDUCTION)
    return dict(type='ODResNet', depth=depth, od_cfg=od_cfg)


def _odmobilenetv2(kernel_num):
    od_cfg = dict(kernel_num=kernel_num, reduction=ODCONV_REDUCTION)
    return dict(type='ODMobileNetV2', widen_factor=1.0, od_cfg=od_cfg)


_ODCONV_RESULTS = '[OSVAI/ODConv `object_detection/README.md`][odconv] (mmdet 2.x, 1x schedule): '
register_family(
    BackboneFamily(
        key='odresnet',
        name='OD-ResNet',
        paper=ODCONV_PAPER,
        backbones=('ODResNet',),
        variants=lambda sd: [
            dict(type='ODResNet', depth=depth, od_cfg=_od_cfg(sd)) for depth in ODRESNET_ARCH
        ],
        contract_variants={'ODResNet': dict(depth=18, od_cfg=dict(kernel_num=4))},
        weights=(
            _od_weights(
                'od_resnet18_1x',
                _odresnet(18, 1),
                '1AxCKAHJve3fbe2SnvoHsSucNvjv5Dxow',
                73.05,
                11.94,
            ),
            _od_weights(
                'od_resnet18_4x',
                _odresnet(18, 4),
                '1Krsaa0fBKluFCyO7nmg-R9LlsoSUjJj2',
                74.19,
                44.90,
            ),
            _od_weights(
                'od_resnet50_1x',
                _odresnet(50, 1),
                '1Aqwv6uQ9iI8a8Z5vjqmKuSTar0U8gfVJ',
                77.87,
                28.64,
            ),
            _od_weights(
                'od_resnet50_4x',
                _odresnet(50, 4),
                '1uO774twnIYLiDV2BAsVM136k4EAhs6oh',
                78.50,
                90.67,
            ),
            _baseline_weights(
                'resnet50',
                dict(type='ODResNet', depth=50, od_cfg=None),
                'resnet50-0676ba61.pth',
                '1dFMbV1QkKQOain1_4JhAuHAW9Xq_ZzCS',
                76.130,
                'ResNet50_Weights',
                25.56,
            ),
        ),
        published=_ODCONV_RESULTS
        + (
            'Faster R-CNN R50 37.4, + ODConv 4x 39.4; Mask R-CNN R50 38.2 / 34.6, + ODConv 4x '
            '40.2 / 36.1 (box / mask). The OD-ResNet-50 1x configs have no published number. The '
            "README's parameter counts are larger than the table's by the backbone's ImageNet "
            'classifier, which a detector never runs (R50: 2.05M, e.g. 43.80M vs 41.75M for the '
            "plain R50 Faster R-CNN). The plain R50 baseline is mmdet's own "
            '`mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py` (the same network as '
            '`ODResNet(od_cfg=None)`).'
        ),
        published_ap={
            'faster_rcnn_odconv4x_r50_fpn_1x': '39.4 box ([ODConv][odconv])',
            'mask_rcnn_odconv4x_r50_fpn_1x': '40.2 box / 36.1 mask ([ODConv][odconv])',
        },
    )
)
register_family(
    BackboneFamily(
        key='odmobilenetv2',
        name='OD-MobileNetV2',
        paper=ODCONV_PAPER,
        backbones=('ODMobileNetV2',),
        variants=lambda sd: [
            dict(type='ODMobileNetV2', widen_factor=width, od_cfg=_od_cfg(sd))
            for width in MOBILENETV2_WIDTHS
        ],
        contract_variants={'ODMobileNetV2': dict(widen_factor=0.5, od_cfg=dict(kernel_num=1))},
        weights=(
            _od_weights(
                'od_mobilenetv2_1x',
                _odmobilenetv2(1),
                '1Du_AH_pvtFE8ABg_FLjtPccVypw5AajU',
                74.74,
                4.94,
            ),
            _od_weights(
                'od_mobilenetv2_4x',
                _odmobilenetv2(4),
                '1HfwoBWOGsiiuhoOyetoQeJ8iXrCi5lJv',
                75.29,
                11.51,
            ),
            _baseline_weights(
                'mobilenetv2_1.0x',
                dict(type='ODMobileNetV2', widen_factor=1.0, od_cfg=None),
                'mobilenet_v2-b0353104.pth',
                '1bcqVXDLqHW3cid4eMZ_992QHBRMalrMZ',
                71.878,
                'MobileNet_V2_Weights',
                3.50,
            ),
        ),
        published=_ODCONV_RESULTS
        + (
            'Faster R-CNN MobileNetV2 (1.0x) 31.8, + ODConv 4x 35.5; Mask R-CNN MobileNetV2 '
            '32.4 / 29.8, + ODConv 4x 36.0 / 33.0 (box / mask). The OD-MobileNetV2 configs here '
            'use ODConv **1x** (`od_mobilenetv2_1x`) and the README reports 4x only, so they have '
            "no published number. The README's parameter counts include the ImageNet "
            'classifier (MobileNetV2: 1.28M), which a detector never runs.'
        ),
        published_ap={
            'faster_rcnn_mobilenetv2_fpn_1x': '31.8 box ([ODConv][odconv])',
            'mask_rcnn_mobilenetv2_fpn_1x': '32.4 box / 29.8 mask ([ODConv][odconv])',
        },
    )
)
