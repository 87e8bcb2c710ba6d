import math

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule


class DFCAttention(BaseModule):
    """Decoupled fully connected attention of GhostNetV2.

    As the official code computes it: a 2x2 average pool (the paper's ablation prefers max
    pooling; the released models use average pooling, and so does this layer), a conv with
    the Ghost module's kernel and stride + BN, a (1, k) and a (k, 1) depthwise conv each with
    BN, sigmoid, and nearest upsampling to the size of the features it gates.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Channels of the gated features.
        kernel_size (int): Kernel of the first conv (the Ghost module's). Default: 1.
        stride (int): Stride of the first conv. Default: 1.
        fc_kernel_size (int): Length of the horizontal and vertical kernels. Default: 5.
        norm_cfg (dict): Norm after each conv. Default: BN.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        fc_kernel_size: int = 5,
        norm_cfg: dict = dict(type='BN'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        pad = fc_kernel_size // 2
        self.reduce = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )
        self.horizontal = ConvModule(
            out_channels,
            out_channels,
            (1, fc_kernel_size),
            1,
            (0, pad),
            groups=out_channels,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )
        self.vertical = ConvModule(
            out_channels,
            out_channels,
            (fc_kernel_size, 1),
            1,
            (pad, 0),
            groups=out_channels,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        # The official code floors odd sizes; only maps too small to pool (where it would
        # crash) keep their last partial window.
        too_small = bool(x.shape[-2] < 2 or x.shape[-1] < 2)
        pooled = F.avg_pool2d(x, kernel_size=2, stride=2, ceil_mode=too_small)
        gate = torch.sigmoid(self.vertical(self.horizontal(self.reduce(pooled))))
        return F.interpolate(gate, size=size, mode='nearest')


class GhostModule(BaseModule):
    """Ghost module: a primary conv makes ``ceil(out / ratio)`` intrinsic maps, a cheap
    depthwise conv makes the rest; optionally gated by DFC attention (GhostNetV2).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel of the primary conv. Default: 1.
        ratio (int): Output channels per intrinsic channel. Default: 2.
        dw_size (int): Kernel of the cheap depthwise conv. Default: 3.
        stride (int): Stride of the primary conv. Default: 1.
        with_act (bool): Activation after both convs. Default: True.
        with_dfc (bool): Multiply the output by DFC attention. Default: False.
        conv_cfg (dict, optional): Config of the convs.
        norm_cfg (dict): Norm config. Default: BN.
        act_cfg (dict): Activation config. Default: ReLU.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_size: int = 3,
        stride: int = 1,
        with_act: bool = True,
        with_dfc: bool = False,
        conv_cfg=None,
        norm_cfg: dict = dict(type='BN'),
        act_cfg: dict = dict(type='ReLU'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.out_channels = out_channels
        init_channels = math.ceil(out_channels / ratio)
        new_channels = init_channels * (ratio - 1)
        act_cfg = act_cfg if with_act else None
        self.primary_conv = ConvModule(
            in_channels,
            init_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.cheap_operation = ConvModule(
            init_channels,
            new_channels,
            dw_size,
            1,
            dw_size // 2,
            groups=init_channels,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.dfc = (
            DFCAttention(in_channels, out_channels, kernel_size, stride, norm_cfg=norm_cfg)
            if with_dfc
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        intrinsic = self.primary_conv(x)
        out = torch.cat([intrinsic, self.cheap_operation(intrinsic)], dim=1)
        if out.shape[1] != self.out_channels:
            out = out[:, : self.out_channels]
        if self.dfc is not None:
            out = out * self.dfc(x, out.shape[-2:])
        return out
