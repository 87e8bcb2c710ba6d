"""The YOLOv4 neck (SPP + PANet), with depthwise-separable 3x3 convs as in GhostNet-YOLOv4."""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.model import BaseModule

from mmlight.utils.validators import is_integer

from ..layers import DepthwiseSeparableConvModule


class SPP(nn.Module):
    """Spatial pyramid pooling of YOLOv4: max-pools at stride 1, concatenated with the input,
    in the order of yolov4.cfg's route (pools from the largest kernel down, then the input)."""

    def __init__(self, kernel_sizes: Sequence[int] = (5, 9, 13)):
        super().__init__()
        self.kernel_sizes = tuple(kernel_sizes)

    def forward(self, x):
        pools = [F.max_pool2d(x, k, stride=1, padding=k // 2) for k in self.kernel_sizes[::-1]]
        return torch.cat([*pools, x], dim=1)


@MODELS.register_module()
class YOLOv4Neck(BaseModule):
    """YOLOv4's neck: SPP on the top level, a top-down and a bottom-up (PANet) path.

    Top level: 1x1 / 3x3 / 1x1, SPP (max-pool 5, 9, 13), 1x1 / 3x3 / 1x1. Top-down (twice):
    1x1 + 2x nearest upsample, concatenated with a 1x1 lateral of the next lower level, then
    five convs (1x1, 3x3, 1x1, 3x3, 1x1). Bottom-up (twice): stride-2 3x3, concatenated with
    the top-down feature of that level, five convs. Concatenation orders follow yolov4.cfg.

    Args:
        in_channels (Sequence[int]): Channels of the three input levels, low to high (strides
            8/16/32): the backbone's ``out_channels``.
        channels (Sequence[int]): Width of each level's path, low to high. Default:
            (128, 256, 512), the YOLOv4 design.
        use_depthwise (bool): Every 3x3 conv (the stride-2 ones too) becomes a
            depthwise-separable block (3x3 depthwise + norm + act, 1x1 pointwise + norm + act),
            as GhostNet-YOLOv4. Default: True.
        spp_kernel_sizes (Sequence[int]): Default: (5, 9, 13).
        norm_cfg (dict): Default: BN.
        act_cfg (dict): Default: LeakyReLU 0.1 (YOLOv4); GhostNet-YOLOv4 uses ReLU6.
        init_cfg (dict, optional): Initialization config dict.

    Returns the three levels high to low (strides 32/16/8), the order of mmdet's YOLOV3Head;
    ``out_channels`` lists their channels (``channels`` reversed) for the head's in_channels.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: Sequence[int] = (128, 256, 512),
        use_depthwise: bool = True,
        spp_kernel_sizes: Sequence[int] = (5, 9, 13),
        norm_cfg: dict = dict(type='BN', requires_grad=True),
        act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.1),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels), ('channels', channels)):
            if len(value) != 3 or not all(is_integer(c) and c > 0 for c in value):
                raise ValueError(
                    f'YOLOv4Neck: {name} must list 3 positive channel counts (low '
                    f'to high level, strides 8/16/32), got {value!r}'
                )
        self.in_channels = list(in_channels)
        self.channels = list(channels)
        self.use_depthwise = use_depthwise
        self.out_channels = self.channels[::-1]
        self._norm_cfg, self._act_cfg = norm_cfg, act_cfg
        low, mid, top = self.channels

        self.top_in = nn.Sequential(
            self._conv(in_channels[2], top, 1),
            self._conv(top, 2 * top, 3),
            self._conv(2 * top, top, 1),
        )
        self.spp = SPP(spp_kernel_sizes)
        self.top_out = nn.Sequential(
            self._conv((len(spp_kernel_sizes) + 1) * top, top, 1),
            self._conv(top, 2 * top, 3),
            self._conv(2 * top, top, 1),
        )
        # top-down: index 0 feeds the middle level, 1 the low level
        self.reduce = nn.ModuleList([self._conv(top, mid, 1), self._conv(mid, low, 1)])
        self.lateral = nn.ModuleList(
            [self._conv(in_channels[1], mid, 1), self._conv(in_channels[0], low, 1)]
        )
        self.top_down_blocks = nn.ModuleList([self._five(mid), self._five(low)])
        # bottom-up: index 0 makes the middle level, 1 the top level
        self.downsample = nn.ModuleList(
            [self._conv(low, mid, 3, stride=2), self._conv(mid, top, 3, stride=2)]
        )
        self.bottom_up_blocks = nn.ModuleList([self._five(mid), self._five(top)])

    def _conv(self, in_channels, out_channels, kernel_size, stride=1):
        if kernel_size == 3 and self.use_depthwise:
            return DepthwiseSeparableConvModule(
                in_channels,
                out_channels,
                3,
                stride,
                1,
                norm_cfg=self._norm_cfg,
                act_cfg=self._act_cfg,
            )
        return ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            norm_cfg=self._norm_cfg,
            act_cfg=self._act_cfg,
        )

    def _five(self, channels):
        """Input 2C (a concatenation) -> 1x1 C, 3x3 2C, 1x1 C, 3x3 2C, 1x1 C."""
        return nn.Sequential(
            self._conv(2 * channels, channels, 1),
            self._conv(channels, 2 * channels, 3),
            self._conv(2 * channels, channels, 1),
            self._conv(channels, 2 * channels, 3),
            self._conv(2 * channels, channels, 1),
        )

    def forward(self, inputs):
        if len(inputs) != 3:
            raise ValueError(
                f'YOLOv4Neck takes 3 levels (strides 8/16/32, low to high), got '
                f'{len(inputs)}: set the backbone out_indices to three levels'
            )
        for level, (x, channels) in enumerate(zip(inputs, self.in_channels, strict=False)):
            if x.shape[1] != channels:
                raise ValueError(
                    f'YOLOv4Neck: input level {level} has {x.shape[1]} channels, '
                    f'in_channels says {channels}; set in_channels to the '
                    f"backbone's out_channels"
                )
        low_in, mid_in, top_in = inputs
        top = self.top_out(self.spp(self.top_in(top_in)))
        top_down = [top]
        for reduce, lateral, block, x in zip(
            self.reduce, self.lateral, self.top_down_blocks, (mid_in, low_in), strict=False
        ):
            up = F.interpolate(reduce(top_down[-1]), size=x.shape[-2:], mode='nearest')
            top_down.append(block(torch.cat([lateral(x), up], dim=1)))
        outs = [top_down[2]]  # the low level
        for down, block, skip in zip(
            self.downsample, self.bottom_up_blocks, (top_down[1], top_down[0]), strict=False
        ):
            outs.append(block(torch.cat([_fit(down(outs[-1]), skip.shape[-2:]), skip], dim=1)))
        return tuple(outs[::-1])


def _fit(x, size):
    """Crops (or zero-pads) the stride-2 conv's ceil-sized output to the next level's size,
    which backbones that floor odd sizes (HorNet's patchify convs) make one smaller."""
    height, width = size
    x = x[..., :height, :width]
    if x.shape[-2:] != size:
        x = F.pad(x, (0, width - x.shape[-1], 0, height - x.shape[-2]))
    return x
