"""Omni-dimensional dynamic convolution (ODConv, Li et al., ICLR 2022).

For every sample, four attentions computed from the globally pooled input scale the weight
bank ``W`` of shape [K, C_out, C_in/groups, k, k] (stored as [K * C_out, C_in/groups, k, k]):

    y = a_f * ((sum_k a_w,k * a_s * W_k) conv (x * a_c))

a_c: input channels (sigmoid), a_f: output filters (sigmoid; not built for depthwise convs),
a_s: the k x k kernel positions (sigmoid; not built for 1x1), a_w: the K kernels (softmax; not
built for K = 1). Heads that are skipped do not exist as modules, so DDP needs no
``find_unused_parameters``.

Formulations (``impl``), all computing the same function:

- ``'official'``: the official code's: multiply x by a_c, build a per-sample weight
  sum_k a_w,k a_s W_k, run one grouped conv with the batch folded into the groups, multiply
  the output by a_f (1x1 convs with K = 1 use the shared weight). Kept as the baseline.
- ``'folded'``: a_c and a_f are folded into the per-sample weight
  (a_f[o] * W_b[o, i] * a_c[i]), which removes two passes over the activations and the two
  activation-sized tensors autograd kept for them. 1x1 convs run as one batched matmul
  (NCHW or NHWC, whichever the input is), others as one grouped conv over the folded batch.
- ``'loop'``: the folded per-sample weight, one conv per sample (no copy of a channels-last
  input into the folded-batch layout).
- ``'auto'`` (default): ``'folded'``, except ``'loop'`` for channels-last inputs of k > 1.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.utils import _pair

from mmlight.utils.validators import check_integer, check_number, is_integer

ODCONV_IMPLS = ('auto', 'official', 'folded', 'loop')


def _attention_norm(norm: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """The attention's BatchNorm over pooled [B, C, 1, 1] vectors, safe at batch 1.

    With B >= 2 in training it is the paper's BatchNorm (batch statistics, running statistics
    updated). With B = 1 there are no batch statistics (torch raises, and so does the official
    code), so the running statistics normalise the sample, as in eval mode, and are left
    unchanged. The guard lives here, at the call, rather than in a BatchNorm subclass, so that
    it survives ``convert_sync_batchnorm`` (mmengine's ``sync_bn``, torch's), which swaps every
    BatchNorm for a plain SyncBatchNorm; ``norm_eval`` applies as to every other norm.
    """
    if norm.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
        return F.batch_norm(
            x, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps
        )
    return norm(x)


class ODConvAttention(nn.Module):
    """The four attentions of ODConv; module names follow the official code."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        groups: int,
        kernel_num: int,
        reduction: float,
        min_channels: int,
    ):
        super().__init__()
        hidden = max(int(in_channels * reduction), min_channels)
        self.kernel_size = kernel_size
        self.fc = nn.Conv2d(in_channels, hidden, 1, bias=False)
        self.bn = nn.BatchNorm2d(hidden)
        self.relu = nn.ReLU(inplace=True)
        self.channel_fc = nn.Conv2d(hidden, in_channels, 1)
        depthwise = groups == in_channels == out_channels
        self.filter_fc = None if depthwise else nn.Conv2d(hidden, out_channels, 1)
        self.spatial_fc = None if kernel_size == 1 else nn.Conv2d(hidden, kernel_size**2, 1)
        self.kernel_fc = None if kernel_num == 1 else nn.Conv2d(hidden, kernel_num, 1)
        self.reset_parameters()

    def reset_parameters(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, temperature: float):
        """Returns (a_c [B, C_in], a_f [B, C_out] or None, a_s [B, k, k] or None,
        a_w [B, K] or None)."""
        batch = x.shape[0]
        h = self.relu(_attention_norm(self.bn, self.fc(F.adaptive_avg_pool2d(x, 1))))
        channel = torch.sigmoid(self.channel_fc(h).view(batch, -1) / temperature)
        filter_ = (
            None
            if self.filter_fc is None
            else torch.sigmoid(self.filter_fc(h).view(batch, -1) / temperature)
        )
        spatial = (
            None
            if self.spatial_fc is None
            else torch.sigmoid(
                self.spatial_fc(h).view(batch, self.kernel_size, self.kernel_size) / temperature
            )
        )
        kernel = (
            None
            if self.kernel_fc is None
            else torch.softmax(self.kernel_fc(h).view(batch, -1) / temperature, dim=1)
        )
        return channel, filter_, spatial, kernel


def _square(name, value, minimum):
    pair = _pair(value)
    if len(pair) != 2 or any(not is_integer(v) or v < minimum for v in pair):
        raise ValueError(
            f'ODConv2d: {name} must be an int >= {minimum} or a pair of them, got {value!r}'
        )
    if pair[0] != pair[1]:
        raise ValueError(
            f'ODConv2d: only square {name} is supported (as the official code), got {value!r}'
        )
    return pair[0]


@MODELS.register_module()
class ODConv2d(nn.Module):
    """Omni-dimensional dynamic 2-D convolution, usable through any mmcv ``conv_cfg``:
    ``conv_cfg=dict(type='ODConv2d', kernel_num=4, reduction=0.0625)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple): Square kernel size.
        stride, padding, dilation (int | tuple): As ``nn.Conv2d`` (square only).
        groups (int): As ``nn.Conv2d``; ``groups == in_channels == out_channels`` is the
            depthwise case, which has no filter attention.
        bias (bool): Must be False: ODConv has no bias (follow it with a norm layer).
        kernel_num (int): K, the number of kernels in the bank. Default: 4.
        reduction (float): Attention hidden channels are
            ``max(int(in_channels * reduction), min_channels)``. Default: 0.0625.
        min_channels (int): Default: 16.
        temperature (float): Divides the attention logits; 1 at inference, annealed from 30
            by :class:`ODConvTemperatureHook` when training from scratch. Default: 1.
        impl (str): One of ``'auto'``, ``'official'``, ``'folded'``, ``'loop'`` (module
            docstring). Default: ``'auto'``.
        padding_mode (str): Only ``'zeros'``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = False,
        kernel_num: int = 4,
        reduction: float = 0.0625,
        min_channels: int = 16,
        temperature: float = 1.0,
        impl: str = 'auto',
        padding_mode: str = 'zeros',
    ):
        super().__init__()
        for name, value in (
            ('in_channels', in_channels),
            ('out_channels', out_channels),
            ('groups', groups),
            ('min_channels', min_channels),
        ):
            check_integer(name, value, minimum=1, owner='ODConv2d')
        check_integer('kernel_num', kernel_num, minimum=1, owner='ODConv2d')
        check_number('reduction', reduction, greater_than=0, owner='ODConv2d')
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f'ODConv2d: groups={groups} must divide in_channels={in_channels} '
                f'and out_channels={out_channels}'
            )
        if bias:
            raise ValueError(
                'ODConv2d has no bias (as the official code): pass bias=False and '
                'follow it with a norm layer'
            )
        if padding_mode != 'zeros':
            raise ValueError(
                f"ODConv2d: padding_mode {padding_mode!r} is not supported; valid "
                f"choices: ['zeros']"
            )
        if impl not in ODCONV_IMPLS:
            raise ValueError(
                f'ODConv2d: impl {impl!r} is not supported; valid choices: {list(ODCONV_IMPLS)}'
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _square('kernel_size', kernel_size, 1)
        self.stride = _square('stride', stride, 1)
        self.padding = _square('padding', padding, 0)
        self.dilation = _square('dilation', dilation, 1)
        self.groups = groups
        # read by mmcv's ConvModule
        self.transposed = False
        self.output_padding = (0, 0)
        self.kernel_num = kernel_num
        self.temperature = float(temperature)
        self.impl = impl
        self.attention = ODConvAttention(
            in_channels, out_channels, self.kernel_size, groups, kernel_num, reduction, min_channels
        )
        # The bank [K, C_out, C_in/g, k, k] is stored flattened to 4-D, [K * C_out, ...], so
        # that model.to(memory_format=torch.channels_last) works (torch refuses 5-D params).
        self.weight = nn.Parameter(
            torch.empty(
                kernel_num * out_channels, in_channels // groups, self.kernel_size, self.kernel_size
            )
        )
        self.reset_parameters()

    @property
    def weight_bank(self) -> torch.Tensor:
        """The kernels as [K, C_out, C_in/groups, k, k]."""
        return self.weight.reshape(self.kernel_num, self.out_channels, *self.weight.shape[1:])

    def reset_parameters(self):
        with torch.no_grad():
            for kernel in self.weight.view(
                self.kernel_num, self.out_channels, *self.weight.shape[1:]
            ):
                nn.init.kaiming_normal_(kernel, mode='fan_out', nonlinearity='relu')
        self.attention.reset_parameters()

    # mmcv's ConvModule kaiming-initialises convs without this method, which would treat the
    # 5-D bank as one conv; with it, the bank keeps the per-kernel init above.
    init_weights = reset_parameters

    def extra_repr(self):
        return (
            f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
            f'stride={self.stride}, padding={self.padding}, dilation={self.dilation}, '
            f'groups={self.groups}, kernel_num={self.kernel_num}, '
            f'temperature={self.temperature:g}, impl={self.impl!r}'
        )

    def _conv(self, x, weight, groups):
        return F.conv2d(x, weight, None, self.stride, self.padding, self.dilation, groups)

    def _kernel_mix(self, spatial, kernel):
        """sum_k a_w,k * a_s * W_k per sample: [B, C_out, C_in/g, k, k] (None if shared)."""
        if kernel is None:
            if spatial is None:
                return None
            return self.weight.unsqueeze(0) * spatial[:, None, None]
        mixed = torch.einsum('bk,koihw->boihw', kernel, self.weight_bank)
        return mixed if spatial is None else mixed * spatial[:, None, None]

    def _forward_official(self, x, channel, filter_, spatial, kernel):
        batch, _, height, width = x.shape
        x = x * channel[:, :, None, None]
        weight = self._kernel_mix(spatial, kernel)
        if weight is None:
            out = self._conv(x, self.weight, self.groups)
        else:
            out = self._conv(
                x.reshape(1, -1, height, width), weight.flatten(0, 1), self.groups * batch
            )
            out = out.view(batch, self.out_channels, *out.shape[-2:])
        return out if filter_ is None else out * filter_[:, :, None, None]

    def _folded_weight(self, channel, filter_, spatial, kernel):
        batch = channel.shape[0]
        weight = self._kernel_mix(spatial, kernel)
        if weight is None:
            weight = self.weight.unsqueeze(0)
        # a_c[i] scales input channel i of the group that output channel o reads from
        per_group_in = self.in_channels // self.groups
        channel = (
            channel.view(batch, self.groups, 1, per_group_in)
            .expand(-1, -1, self.out_channels // self.groups, -1)
            .reshape(batch, self.out_channels, per_group_in)
        )
        scale = channel if filter_ is None else channel * filter_[:, :, None]
        return weight * scale[..., None, None]

    def _forward_folded(self, x, weight, loop):
        batch, _, height, width = x.shape
        if self.kernel_size == 1 and self.groups == 1 and self.padding == 0:
            if self.stride > 1:
                x = x[:, :, :: self.stride, :: self.stride]
            matrix = weight.flatten(2)  # [B, C_out, C_in]
            if x.is_contiguous():
                out = torch.bmm(matrix, x.flatten(2))
                return out.view(batch, self.out_channels, *x.shape[-2:])
            # channels-last: [B, HW, C_in] @ [B, C_in, C_out] stays channels-last
            rows = x.permute(0, 2, 3, 1).reshape(batch, -1, self.in_channels)
            out = torch.bmm(rows, matrix.transpose(1, 2))
            return out.view(batch, *x.shape[-2:], self.out_channels).permute(0, 3, 1, 2)
        if loop:
            return torch.cat(
                [self._conv(x[i : i + 1], weight[i], self.groups) for i in range(batch)]
            )
        out = self._conv(x.reshape(1, -1, height, width), weight.flatten(0, 1), self.groups * batch)
        return out.view(batch, self.out_channels, *out.shape[-2:])

    def resolved_impl(self, x: torch.Tensor) -> str:
        if self.impl != 'auto':
            return self.impl
        channels_last = (
            x.dim() == 4
            and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last)
        )
        return 'loop' if channels_last and self.kernel_size > 1 else 'folded'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'ODConv2d expects [B, {self.in_channels}, H, W] input, got {tuple(x.shape)}'
            )
        attentions = self.attention(x, self.temperature)
        impl = self.resolved_impl(x)
        if impl == 'official':
            return self._forward_official(x, *attentions)
        return self._forward_folded(x, self._folded_weight(*attentions), loop=impl == 'loop')


def odconv_modules(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, ODConv2d)]


def set_odconv_temperature(model: nn.Module, temperature: float) -> int:
    """Sets the temperature of every ODConv2d in ``model``; returns how many there are."""
    modules = odconv_modules(model)
    for module in modules:
        module.temperature = float(temperature)
    return len(modules)


def odconv_temperature(model: nn.Module) -> float | None:
    modules = odconv_modules(model)
    return modules[0].temperature if modules else None
