"""HorNet (Rao et al., NeurIPS 2022) as a multi-scale detection backbone."""

from collections import OrderedDict

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmdet.registry import MODELS

from mmlight.family import BackboneFamily, Paper, PretrainedWeights, WeightSource, register_family
from mmlight.utils.validators import check_choice

from ..layers import LayerNorm2d, gnConv
from .base import MultiScaleBackbone

HORNET_DEPTHS = (2, 3, 18, 2)
HORNET_ORDERS = (2, 3, 4, 5)
_DW = dict(type='DWConv', kernel_size=7)


def _gf(h, w):
    return dict(type='GlobalLocalFilter', h=h, w=w)


# arch: (base dim, spatial mixer of each stage). GF variants filter stages 3 and 4; the gf384
# filter sizes are those of the official 384-pixel (ImageNet-22k) large models.
HORNET_ARCH = {
    'tiny': (64, (_DW, _DW, _DW, _DW)),
    'tiny-gf': (64, (_DW, _DW, _gf(14, 8), _gf(7, 4))),
    'small': (96, (_DW, _DW, _DW, _DW)),
    'small-gf': (96, (_DW, _DW, _gf(14, 8), _gf(7, 4))),
    'base': (128, (_DW, _DW, _DW, _DW)),
    'base-gf': (128, (_DW, _DW, _gf(14, 8), _gf(7, 4))),
    'base-gf384': (128, (_DW, _DW, _gf(24, 13), _gf(12, 7))),
    'large': (192, (_DW, _DW, _DW, _DW)),
    'large-gf': (192, (_DW, _DW, _gf(14, 8), _gf(7, 4))),
    'large-gf384': (192, (_DW, _DW, _gf(24, 13), _gf(12, 7))),
}


class HorNetBlock(nn.Module):
    """x + gamma1 * gnConv(LN(x)), then x + gamma2 * MLP(LN(x)) (4x expansion, GELU), each
    branch with stochastic depth; gamma1/gamma2 are the layer scales (None without)."""

    def __init__(self, dim, order, mixer, scale, drop_path_rate, layer_scale_init_value):
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=1e-6)
        self.gnconv = gnConv(dim, order, mixer, scale)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        if layer_scale_init_value > 0:
            self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
            self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
        else:
            self.gamma1 = self.gamma2 = None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x):
        y = self.gnconv(self.norm1(x))
        if self.gamma1 is not None:
            y = y * self.gamma1.view(-1, 1, 1)
        x = x + self.drop_path(y)
        y = self.pwconv2(self.act(self.pwconv1(self.norm2(x.permute(0, 2, 3, 1)))))
        if self.gamma2 is not None:
            y = y * self.gamma2
        return x + self.drop_path(y.permute(0, 3, 1, 2))


@MODELS.register_module()
class HorNet(MultiScaleBackbone):
    """HorNet backbone (`HorNet: Efficient High-Order Spatial Interactions with Recursive
    Gated Convolutions <https://arxiv.org/abs/2207.14284>`_).

    Args:
        arch (str): One of ``HORNET_ARCH``: 'tiny', 'tiny-gf', 'small', 'small-gf', 'base',
            'base-gf', 'base-gf384', 'large', 'large-gf', 'large-gf384'. Default: 'tiny'.
        out_indices (Sequence[int]): 0-3 = the stage outputs at strides 4/8/16/32
            (C, 2C, 4C, 8C for base dim C). Default: (0, 1, 2, 3).
        drop_path_rate (float): Stochastic depth, linearly increasing over the blocks.
            Default: 0.
        layer_scale_init_value (float): Initial layer scale; 0 disables it. Default: 1e-6.
        gnconv_scale (float): s of gnConv. Default: 1/3.
        out_norm (bool): A LayerNorm on each output level, as the official detection backbone
            (not part of ImageNet checkpoints). Default: True.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and stages 0..k-1
            (each with its downsampling layer and its output norm). Default: -1.
        with_cp (bool): Gradient checkpointing per block. Default: False.
        init_cfg (dict, optional): Initialization config; Pretrained loads strictly, except
            for the detection-only output norms, which ImageNet checkpoints do not have.
    """

    detection_only_prefixes = ('out_norms.',)
    # gnConv's and the global filter's reshapes of the padded feature maps give guards such as
    # ``1 % (128 * (W_padded // 4)) != 0`` that torch.export cannot prove over the size range
    # (it gives up after tracing the whole detector, 17 s for Mask R-CNN HorNet-T-GF)
    export_checks_sizes_at_run_time = True

    def __init__(
        self,
        arch: str = 'tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        gnconv_scale: float = 1 / 3,
        out_norm: bool = True,
        frozen_stages: int = -1,
        with_cp: bool = False,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        check_choice('arch', arch, list(HORNET_ARCH))
        if not 0 <= drop_path_rate < 1:
            raise ValueError(f'drop_path_rate must be in [0, 1), got {drop_path_rate!r}')
        self.arch = arch
        base_dim, mixers = HORNET_ARCH[arch]
        dims = [base_dim * 2**i for i in range(4)]
        self.stem = nn.Sequential(
            nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6)
        )
        # on the CPU whatever the default device (the backbone may be built on 'meta')
        rates = torch.linspace(0, drop_path_rate, sum(HORNET_DEPTHS), device='cpu').tolist()
        stages = []
        for i, depth in enumerate(HORNET_DEPTHS):
            layers = OrderedDict()
            if i > 0:
                layers['downsample'] = nn.Sequential(
                    LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dims[i], 2, stride=2)
                )
            for j in range(depth):
                layers[str(j)] = HorNetBlock(
                    dims[i],
                    HORNET_ORDERS[i],
                    mixers[i],
                    gnconv_scale,
                    rates.pop(0),
                    layer_scale_init_value,
                )
            stages.append(nn.Sequential(layers))
        self.stages = nn.ModuleList(stages)
        self.out_norm = out_norm
        self._init_contract(
            level_channels=dims,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            with_cp=with_cp,
        )

    def _make_output_norm(self, level, channels):
        return LayerNorm2d(channels, eps=1e-6) if self.out_norm else None

    def init_weights(self):
        super().init_weights()
        if self.init_cfg is None:
            # the official init: truncated normal (std 0.02) linear/conv weights, zero biases
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)


# The family record: what the tools and docs say of HorNet. The official files (Tsinghua
# Cloud, a direct download) first, then mmpretrain's conversion of each (the OpenMMLab file
# name ends in its sha256's first 8 hex digits).
_MMPRETRAIN = 'https://download.openmmlab.com/mmclassification/v0/hornet/'
_OFFICIAL_README = 'HorNet README (raoyongming/HorNet), ImageNet-1K model zoo'


def _hornet_weights(arch, official_name, official_url, mmpretrain_file, top1, params):
    return PretrainedWeights(
        name=f'hornet-{arch}',
        family='hornet',
        model=dict(type='HorNet', arch=arch),
        sources=(
            WeightSource(
                url=official_url,
                filename=official_name,
                layout='official',
                page='https://github.com/raoyongming/HorNet#model-zoo',
            ),
            WeightSource(
                url=_MMPRETRAIN + mmpretrain_file,
                filename=mmpretrain_file,
                layout='mmpretrain',
                sha256=mmpretrain_file.rsplit('-', 1)[1].split('.')[0],
            ),
        ),
        top1=top1,
        top1_source=_OFFICIAL_README,
        params=params,
        licence='MIT (mmpretrain\'s conversion: Apache-2.0)',
    )


_CLOUD = 'https://cloud.tsinghua.edu.cn/f/{}/?dl=1'
register_family(
    BackboneFamily(
        key='hornet',
        name='HorNet',
        paper=Paper(
            'HorNet: Efficient High-Order Spatial Interactions with Recursive Gated Convolutions',
            'https://arxiv.org/abs/2207.14284',
        ),
        backbones=('HorNet',),
        variants=lambda state_dict: [dict(type='HorNet', arch=arch) for arch in HORNET_ARCH],
        contract_variants={'HorNet': dict(arch='tiny')},
        weights=(
            _hornet_weights(
                'tiny',
                'hornet_tiny_7x7.pth',
                _CLOUD.format('762f05c3c8cd4743b534'),
                'hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth',
                82.8,
                22,
            ),
            _hornet_weights(
                'tiny-gf',
                'hornet_tiny_gf.pth',
                _CLOUD.format('395dd6c443ed4a339739'),
                'hornet-tiny-gf_3rdparty_in1k_20220915-4c35a66b.pth',
                83.0,
                23,
            ),
            _hornet_weights(
                'small',
                'hornet_small_7x7.pth',
                _CLOUD.format('9d7043023da14e4b8b2e'),
                'hornet-small_3rdparty_in1k_20220915-5935f60f.pth',
                84.0,
                50,
            ),
            _hornet_weights(
                'small-gf',
                'hornet_small_gf.pth',
                _CLOUD.format('19eef725b2e64692b8b0'),
                'hornet-small-gf_3rdparty_in1k_20220915-649ca492.pth',
                84.2,
                50,
            ),
            _hornet_weights(
                'base',
                'hornet_base_7x7.pth',
                _CLOUD.format('836ab04898c646c389ce'),
                'hornet-base_3rdparty_in1k_20220915-a06176bb.pth',
                84.3,
                87,
            ),
            _hornet_weights(
                'base-gf',
                'hornet_base_gf.pth',
                _CLOUD.format('60f706e36f6b4098a1f9'),
                'hornet-base-gf_3rdparty_in1k_20220915-82c06fa7.pth',
                84.5,
                88,
            ),
        ),
        published=(
            '[raoyongming/HorNet `object_detection/README.md`][hornet]: Cascade Mask R-CNN, 3x '
            'schedule only: HorNet-T 51.7 / 44.8, HorNet-T-GF 52.4 / 45.6, HorNet-S 52.7 / 45.6, '
            'HorNet-S-GF 53.3 / 46.3 (box / mask); 80M parameters for HorNet-T (79.9M here). '
            '`cascade_mask_rcnn_hornet-t_fpn_3x` is that recipe, file by file (its header names '
            "each value's source), and its row carries the published number. The paper's HorFPN "
            'study (arXiv 2207.14284) trains Mask R-CNN + FPN, HorNet-S 7x7, 1x as the baseline '
            'of its decoder comparison; the official repository holds that config '
            '(`object_detection/configs/horfpn/fpn_mask_rcnn_hornet_small_7x7_1x_coco_in1k.py`) '
            "and `mask_rcnn_hornet-s_fpn_1x` is it, value for value: its COCO AP is the FPN row "
            "of the paper's HorFPN table (the README does not list it). The other Faster / Mask "
            'R-CNN + FPN configs (HorNet-T, -T-GF, -S-GF) are that recipe with another backbone '
            '([backbones.md](backbones.md#hornet)): no published number. The README counts 730 '
            "GFLOPs at 1280x800 with its own counter; mmengine's count at 800x1344 (2170) "
            "includes the three stages' 4-conv box heads over all 1000 proposals."
        ),
        published_ap={
            'cascade_mask_rcnn_hornet-t_fpn_3x': '51.7 box / 44.8 mask ([HorNet][hornet])',
            'mask_rcnn_hornet-s_fpn_1x': (
                "in the paper's HorFPN table, its FPN row ([HorNet paper][hornetpaper])"
            ),
        },
    )
)
