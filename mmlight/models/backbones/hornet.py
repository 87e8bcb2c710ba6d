"""HorNet (Rao et al., NeurIPS 2022) as a multi-scale detection backbone."""

from collections import OrderedDict

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmdet.registry import MODELS

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
