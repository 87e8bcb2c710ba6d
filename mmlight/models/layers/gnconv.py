"""HorNet's recursive gated convolution (gnConv) and its GlobalLocalFilter spatial mixer."""

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmlight.utils.validators import check_choice, check_integer


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (HorNet's ``channels_first`` LayerNorm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(
            x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return x.permute(0, 3, 1, 2)


def resize_complex_weight(weight: torch.Tensor, size) -> torch.Tensor:
    """[C, h, w, 2] (real, imaginary) resized bilinearly to ``size`` (align_corners=True, as
    HorNet's official code)."""
    return F.interpolate(
        weight.permute(3, 0, 1, 2), size=size, mode='bilinear', align_corners=True
    ).permute(1, 2, 3, 0)


def _size_tensor(n: int, device) -> torch.Tensor:
    """``n`` as a 1-element tensor taken from ``arange(n)``: under a dynamic-shape export a
    size is symbolic, and arithmetic between tensors and symbolic sizes does not all translate
    to ONNX, arithmetic between tensors does."""
    return torch.arange(n, device=device)[-1:] + 1


def _dft_matrices(n: int, m: int, device):
    """cos and sin of 2*pi*k*j/n for k < m, j < n, as [m, n]; k*j is reduced mod n in integers
    first, so that the angle stays in [0, 2*pi) and float32 keeps its precision."""
    k = torch.arange(m, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    n_t = _size_tensor(n, device)
    angle = torch.remainder(k * j, n_t).float() * (2 * math.pi / n_t.double()).float()
    return torch.cos(angle), torch.sin(angle)


def global_filter_as_matmul(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``irfft2(rfft2(x, norm='ortho') * weight, s=(H, W), norm='ortho')`` over the last two
    dims, with real matrix products: x [..., H, W], weight [C, H, W // 2 + 1, 2] (real,
    imaginary) broadcast against x's channels.

    Row transform (real to half spectrum), column transform (complex), the filter, the inverse
    column transform, then the inverse real transform, which weighs the bins between DC and
    Nyquist twice (Hermitian symmetry) and drops the imaginary parts of DC and Nyquist (the
    sines vanish there), as ``irfft`` does."""
    height, width = x.shape[-2:]
    half = width // 2 + 1
    cos_w, sin_w = _dft_matrices(width, half, x.device)  # [half, W]
    cos_h, sin_h = _dft_matrices(height, height, x.device)  # [H, H], symmetric
    row_re = x @ cos_w.t()
    row_im = -(x @ sin_w.t())
    re = cos_h @ row_re + sin_h @ row_im
    im = cos_h @ row_im - sin_h @ row_re
    w_re, w_im = weight[..., 0], weight[..., 1]
    re, im = re * w_re - im * w_im, re * w_im + im * w_re
    re, im = cos_h @ re - sin_h @ im, cos_h @ im + sin_h @ re
    # Hermitian weights: 1 for DC and (even W) Nyquist, 2 for the bins between
    bins = torch.arange(half, device=x.device)
    width_t = _size_tensor(width, x.device)
    twice = ((bins > 0) & (2 * bins < width_t)).float() + 1
    out = re @ (cos_w * twice[:, None]) - im @ (sin_w * twice[:, None])
    return out / (_size_tensor(height, x.device) * width_t).float()


@MODELS.register_module()
class GlobalLocalFilter(nn.Module):
    """HorNet's global-local filter: half of the channels through a 3x3 depthwise conv, the
    other half through a learned filter in the 2-D Fourier domain; the two halves are
    interleaved channel by channel, between a pre- and a post-LayerNorm.

    The FFTs (``rfft2``/``irfft2``, ``norm='ortho'``) always run in float32, also under
    autocast. The complex weight, made for an (h, w) spectrum, is bilinearly resized
    (align_corners=True, as the official code) when the input's spectrum differs.

    ``dft_as_matmul = True`` computes the same filter with real matrix products instead of
    FFTs (:func:`global_filter_as_matmul`): for export, where ONNX's DFT operator runs slowly
    in onnxruntime; the deployment path switches it on.

    Args:
        dim (int): Channels (even).
        h, w (int): Spectrum size the complex weight is made for: 14 x 8 for 56-wide stages of
            224 inputs (stage 3), 7 x 4 for stage 4; 24 x 13 and 12 x 7 in the gf384 models.
    """

    dft_as_matmul = False

    def __init__(self, dim: int, h: int = 14, w: int = 8):
        super().__init__()
        if dim % 2:
            raise ValueError(f'GlobalLocalFilter needs an even number of channels, got {dim}')
        self.dw = nn.Conv2d(dim // 2, dim // 2, 3, padding=1, bias=False, groups=dim // 2)
        self.complex_weight = nn.Parameter(torch.randn(dim // 2, h, w, 2) * 0.02)
        self.pre_norm = LayerNorm2d(dim, eps=1e-6)
        self.post_norm = LayerNorm2d(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_norm(x)
        local, glob = torch.chunk(x, 2, dim=1)
        local = self.dw(local)
        batch, channels, height, width = glob.shape
        with torch.autocast(device_type=x.device.type, enabled=False):
            weight = self.complex_weight.float()
            if self.dft_as_matmul:
                # resized unconditionally: at equal size the align_corners resize is exactly
                # the identity, and a traced graph needs no branch on the input's size
                weight = resize_complex_weight(weight, (height, width // 2 + 1))
                glob = global_filter_as_matmul(glob.float(), weight)
            else:
                spectrum = torch.fft.rfft2(glob.float(), dim=(2, 3), norm='ortho')
                if weight.shape[1:3] != spectrum.shape[2:4]:
                    weight = resize_complex_weight(weight, spectrum.shape[2:4])
                spectrum = spectrum * torch.view_as_complex(weight.contiguous())
                glob = torch.fft.irfft2(spectrum, s=(height, width), dim=(2, 3), norm='ortho')
        dtype = torch.promote_types(local.dtype, glob.dtype)  # as torch.cat would promote
        out = torch.stack([local.to(dtype), glob.to(dtype)], dim=2)
        return self.post_norm(out.reshape(batch, 2 * channels, height, width))


@MODELS.register_module(name='DWConv')
class DepthwiseConvMixer(nn.Conv2d):
    """gnConv's default spatial mixer: a k x k depthwise conv with bias over all ``dim``
    channels (HorNet's 7x7 ``dwconv``; an ``nn.Conv2d``, so checkpoints keep its keys)."""

    def __init__(self, dim: int, kernel_size: int = 7):
        check_integer('kernel_size', kernel_size, minimum=1, owner='DWConv')
        super().__init__(dim, dim, kernel_size, padding=(kernel_size - 1) // 2, groups=dim)


# the spatial mixers gnConv builds through the registry (``mixer=dict(type=...)``)
MIXERS = ('DWConv', 'GlobalLocalFilter')


@MODELS.register_module()
class gnConv(nn.Module):
    """Recursive gated convolution of order n (HorNet, Rao et al., NeurIPS 2022).

    proj_in (1x1) maps C to 2C, split into p0 (C / 2^(n-1)) and q's of dims
    [C / 2^(n-1), ..., C / 2, C]; one spatial mixer runs over all q's at once and is scaled by
    ``scale``; then p_{k+1} = proj_k(p_k) * q_k (the projections are 1x1 convs), and proj_out
    (1x1) maps p_n back.

    Args:
        dim (int): Channels; must be divisible by 2^(order-1).
        order (int): n >= 1.
        mixer (dict): ``dict(type='DWConv', kernel_size=7)`` (HorNet's 7x7 depthwise conv,
            with bias) or ``dict(type='GlobalLocalFilter', h=14, w=8)``.
        scale (float): s; 1/3 in HorNet. Default: 1.
    """

    def __init__(
        self,
        dim: int,
        order: int = 5,
        mixer: dict = dict(type='DWConv', kernel_size=7),
        scale: float = 1.0,
    ):
        super().__init__()
        check_integer('order', order, minimum=1, owner='gnConv')
        if dim % 2 ** (order - 1):
            raise ValueError(
                f'gnConv: dim {dim} must be divisible by 2^(order-1) = {2 ** (order - 1)}'
            )
        self.order = order
        self.dims: Sequence[int] = [dim // 2**i for i in range(order)][::-1]
        self.scale = scale
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        check_choice('mixer type', dict(mixer).get('type'), MIXERS, owner='gnConv')
        try:
            self.dwconv = MODELS.build(dict(mixer, dim=sum(self.dims)))
        except TypeError as error:  # an argument the mixer does not take
            raise ValueError(f'gnConv: bad mixer arguments {dict(mixer)!r}: {error}') from None
        self.projs = nn.ModuleList(
            [nn.Conv2d(self.dims[i], self.dims[i + 1], 1) for i in range(order - 1)]
        )
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        gates = torch.split(self.dwconv(q) * self.scale, self.dims, dim=1)
        x = p * gates[0]
        for proj, gate in zip(self.projs, gates[1:], strict=False):
            x = proj(x) * gate
        return self.proj_out(x)
