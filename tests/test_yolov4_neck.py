"""The YOLOv4 neck: structure, shapes, the depthwise saving, and every mmlight backbone."""
import pytest
import torch
from mmcv.cnn import ConvModule
from mmengine.analysis import FlopAnalyzer

import mmlight  # noqa: F401
from mmdet.registry import MODELS
from mmlight.models.layers import DepthwiseSeparableConvModule
from mmlight.models.necks import SPP


def build_neck(**kwargs):
    return MODELS.build(dict(type='YOLOv4Neck', **kwargs))


def levels(channels, size, batch=1):
    h, w = size
    return [torch.randn(batch, c, -(-h // s), -(-w // s)) for c, s in zip(channels, (8, 16, 32))]


@pytest.mark.parametrize('size', [(416, 416), (320, 480), (333, 517)])
@pytest.mark.parametrize('use_depthwise', [True, False])
def test_output_levels_high_to_low(size, use_depthwise):
    neck = build_neck(in_channels=[40, 112, 160], channels=[32, 48, 64],
                      use_depthwise=use_depthwise)
    inputs = levels([40, 112, 160], size, batch=2)
    outs = neck(inputs)
    assert neck.out_channels == [64, 48, 32]
    assert [tuple(o.shape) for o in outs] == [
        (2, 64, *inputs[2].shape[-2:]), (2, 48, *inputs[1].shape[-2:]),
        (2, 32, *inputs[0].shape[-2:])]


def test_every_3x3_conv_is_depthwise_separable_and_the_paths_are_yolov4():
    neck = build_neck(in_channels=[40, 112, 160])
    separable = [m for m in neck.modules() if isinstance(m, DepthwiseSeparableConvModule)]
    # 2 around the SPP, 2 in each of the four five-conv blocks, 2 stride-2 downsamples
    assert len(separable) == 12
    assert sum(m.depthwise_conv.conv.stride == (2, 2) for m in separable) == 2
    plain = [m.conv for m in neck.modules() if isinstance(m, ConvModule)
             and not any(m is s.depthwise_conv or m is s.pointwise_conv for s in separable)]
    assert all(c.kernel_size == (1, 1) for c in plain)
    assert all(m.depthwise_conv.conv.groups == m.depthwise_conv.conv.in_channels
               for m in separable)
    dense = build_neck(in_channels=[40, 112, 160], use_depthwise=False)
    assert not any(isinstance(m, DepthwiseSeparableConvModule) for m in dense.modules())
    assert sum(m.conv.kernel_size == (3, 3) for m in dense.modules()
               if isinstance(m, ConvModule)) == 12
    # SPP concatenates 4 x 512 channels; the five-conv blocks take 2C
    assert neck.top_out[0].conv.in_channels == 2048
    assert [b[0].conv.in_channels for b in neck.top_down_blocks] == [512, 256]
    assert [b[0].conv.in_channels for b in neck.bottom_up_blocks] == [512, 1024]


def test_spp_concatenates_the_pools_and_the_input_in_darknet_order():
    x = torch.randn(1, 3, 20, 20)
    out = SPP((5, 9, 13))(x)
    assert out.shape == (1, 12, 20, 20)
    torch.testing.assert_close(out[:, :3], torch.nn.functional.max_pool2d(x, 13, 1, 6))
    torch.testing.assert_close(out[:, 6:9], torch.nn.functional.max_pool2d(x, 5, 1, 2))
    torch.testing.assert_close(out[:, 9:], x)


def test_depthwise_neck_has_fewer_params_and_flops_than_the_dense_one():
    inputs = tuple(levels([40, 112, 160], (416, 416)))
    counts = {}
    for use_depthwise in (False, True):
        neck = build_neck(in_channels=[40, 112, 160], use_depthwise=use_depthwise).eval()
        params = sum(p.numel() for p in neck.parameters())
        flops = FlopAnalyzer(neck, (inputs, )).total()
        counts[use_depthwise] = (params, flops)
        print(f'YOLOv4Neck use_depthwise={use_depthwise}: {params / 1e6:.2f} M params, '
              f'{flops / 1e9:.2f} GFLOPs at 416x416')
    assert counts[True][0] < 0.5 * counts[False][0]
    assert counts[True][1] < 0.5 * counts[False][1]


BACKBONES = [
    dict(type='GhostNet', widen_factor=0.5, out_indices=(1, 2, 3)),
    dict(type='GhostNetV2', widen_factor=1.0, out_indices=(1, 2, 3)),
    dict(type='ShuffleNetV2', widen_factor=0.5, out_indices=(1, 2, 3)),
    dict(type='ShuffleNetV1', groups=3, widen_factor=0.5, out_indices=(1, 2, 3)),
    dict(type='ODResNet', depth=18, out_indices=(1, 2, 3)),
    dict(type='ODMobileNetV2', widen_factor=0.5, out_indices=(1, 2, 4)),
    dict(type='HorNet', arch='tiny-gf', out_indices=(1, 2, 3)),
]


@pytest.mark.parametrize('backbone_cfg', BACKBONES, ids=lambda c: c['type'])
def test_works_on_every_mmlight_backbone(backbone_cfg):
    backbone = MODELS.build(backbone_cfg)
    neck = build_neck(in_channels=backbone.out_channels, channels=[16, 32, 64])
    feats = backbone(torch.randn(1, 3, 200, 264))  # not a multiple of 32
    outs = neck(feats)
    assert [o.shape[1] for o in outs] == [64, 32, 16]
    # each output keeps its input level's size (HorNet floors odd sizes, the others ceil)
    assert [tuple(o.shape[-2:]) for o in outs] == [tuple(f.shape[-2:]) for f in feats[::-1]]


def test_works_on_mmdet_mobilenetv2():
    backbone = MODELS.build(dict(type='mmdet.MobileNetV2', out_indices=(2, 4, 6)))
    neck = build_neck(in_channels=[32, 96, 320], channels=[16, 32, 64])
    outs = neck(backbone(torch.randn(1, 3, 128, 128)))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 4, 4), (1, 32, 8, 8), (1, 16, 16, 16)]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match='must list 3 positive channel counts'):
        build_neck(in_channels=[40, 112])
    neck = build_neck(in_channels=[40, 112, 160], channels=[8, 8, 8])
    with pytest.raises(ValueError, match='takes 3 levels'):
        neck(levels([40, 112, 160], (64, 64))[:2])
    with pytest.raises(ValueError, match="input level 1 has 96 channels, in_channels says 112"):
        neck(levels([40, 96, 160], (64, 64)))
