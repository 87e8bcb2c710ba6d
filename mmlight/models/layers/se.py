import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmdet.models.utils import make_divisible
from mmengine.model import BaseModule
from mmengine.registry import MODELS

# torch's hard sigmoid, relu6(x + 3) / 6 (mmcv's HSigmoid computes the same but warns)
if 'Hardsigmoid' not in MODELS.module_dict:
    MODELS.register_module(module=nn.Hardsigmoid)


class SqueezeExcite(BaseModule):
    """Squeeze-and-excitation with the rounding and gate of MobileNetV3/GhostNet.

    Args:
        channels (int): Input (and output) channels.
        se_ratio (float): Squeeze channels are ``make_divisible(channels * se_ratio, divisor)``.
        divisor (int): Rounding of the squeeze channels. Default: 4 (GhostNet).
        act_cfg (dict): Activation between the two 1x1 convs. Default: ReLU.
        gate_cfg (dict): Gate. Default: hard sigmoid, relu6(x + 3) / 6.
        init_cfg (dict, optional): Initialization config dict.
    """

    def __init__(
        self,
        channels: int,
        se_ratio: float = 0.25,
        divisor: int = 4,
        act_cfg: dict = dict(type='ReLU'),
        gate_cfg: dict = dict(type='Hardsigmoid'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        squeeze_channels = make_divisible(channels * se_ratio, divisor)
        self.conv_reduce = nn.Conv2d(channels, squeeze_channels, 1, bias=True)
        self.act = build_activation_layer(act_cfg)
        self.conv_expand = nn.Conv2d(squeeze_channels, channels, 1, bias=True)
        self.gate = build_activation_layer(gate_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.conv_expand(self.act(self.conv_reduce(scale)))
        return x * self.gate(scale)
