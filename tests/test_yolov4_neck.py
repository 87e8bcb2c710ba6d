"""The YOLOv4 neck: structure, shapes, the depthwise saving, and every mmlight backbone."""

import pytest
import torch
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.analysis import FlopAnalyzer
from torch import nn

import mmlight.registration  # noqa: F401
from mmlight.models.layers import DepthwiseSeparableConvModule
from mmlight.models.necks import SPP

# the edit-loop tier: bash tools/run_tests.sh --quick
pytestmark = pytest.mark.quick


def build_neck(**kwargs):
    return MODELS.build(dict(type='YOLOv4Neck', **kwargs))


def levels(channels, size, batch=1):
    h, w = size
    return [
        torch.randn(batch, c, -(-h // s), -(-w // s))
        for c, s in zip(channels, (8, 16, 32), strict=False)
    ]


@pytest.mark.parametrize('size', [(416, 416), (320, 480), (333, 517)])
@pytest.mark.parametrize('use_depthwise', [True, False])
def test_output_levels_high_to_low(size, use_depthwise):
    neck = build_neck(
        in_channels=[40, 112, 160], channels=[32, 48, 64], use_depthwise=use_depthwise
    )
    inputs = levels([40, 112, 160], size, batch=2)
    outs = neck(inputs)
    assert neck.out_channels == [64, 48, 32]
    assert [tuple(o.shape) for o in outs] == [
        (2, 64, *inputs[2].shape[-2:]),
        (2, 48, *inputs[1].shape[-2:]),
        (2, 32, *inputs[0].shape[-2:]),
    ]


def test_every_3x3_conv_is_depthwise_separable_and_the_paths_are_yolov4():
    neck = build_neck(in_channels=[40, 112, 160])
    separable = [m for m in neck.modules() if isinstance(m, DepthwiseSeparableConvModule)]
    # 2 around the SPP, 2 in each of the four five-conv blocks, 2 stride-2 downsamples
    assert len(separable) == 12
    assert sum(m.depthwise_conv.conv.stride == (2, 2) for m in separable) == 2
    plain = [
        m.conv
        for m in neck.modules()
        if isinstance(m, ConvModule)
        and not any(m is s.depthwise_conv or m is s.pointwise_conv for s in separable)
    ]
    assert all(c.kernel_size == (1, 1) for c in plain)
    assert all(m.depthwise_conv.conv.groups == m.depthwise_conv.conv.in_channels for m in separable)
    dense = build_neck(in_channels=[40, 112, 160], use_depthwise=False)
    assert not any(isinstance(m, DepthwiseSeparableConvModule) for m in dense.modules())
    assert (
        sum(m.conv.kernel_size == (3, 3) for m in dense.modules() if isinstance(m, ConvModule))
        == 12
    )
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
        flops = FlopAnalyzer(neck, (inputs,)).total()
        counts[use_depthwise] = (params, flops)
        print(
            f'YOLOv4Neck use_depthwise={use_depthwise}: {params / 1e6:.2f} M params, '
            f'{flops / 1e9:.2f} GFLOPs at 416x416'
        )
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


# --- numbers against the GhostNet/MobileNet-YOLOv4 reference -------------------------------
# A small reference assembled here from the layer list of bubbliiiing/mobilenet-yolov4-pytorch
# nets/yolo.py (YoloBody without its backbone): conv2d = conv (no bias) + BN + ReLU6, conv_dw
# = 3x3 depthwise + BN + ReLU6 + 1x1 + BN + ReLU6, yolo_head = conv_dw(C, 2C) + 1x1 conv with
# bias. Widths as in the reference (128/256/512).


def _ref_conv(cin, cout, kernel_size):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size, 1, kernel_size // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


def _ref_conv_dw(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, 1, 0, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


def _ref_three(c, cin):
    return nn.Sequential(_ref_conv(cin, c, 1), _ref_conv_dw(c, 2 * c), _ref_conv(2 * c, c, 1))


def _ref_five(c, cin):
    return nn.Sequential(
        _ref_conv(cin, c, 1),
        _ref_conv_dw(c, 2 * c),
        _ref_conv(2 * c, c, 1),
        _ref_conv_dw(c, 2 * c),
        _ref_conv(2 * c, c, 1),
    )


def _ref_head(c, cin, outputs):
    return nn.Sequential(_ref_conv_dw(cin, c), nn.Conv2d(c, outputs, 1))


class ReferenceYoloBodyWithoutBackbone(nn.Module):
    def __init__(self, in_filters, num_classes, num_anchors=3):
        super().__init__()
        outputs = num_anchors * (5 + num_classes)
        self.conv1 = _ref_three(512, in_filters[2])
        self.spp = SPP((5, 9, 13))
        self.conv2 = _ref_three(512, 2048)
        self.upsample1 = nn.Sequential(_ref_conv(512, 256, 1), nn.Upsample(scale_factor=2))
        self.conv_for_P4 = _ref_conv(in_filters[1], 256, 1)
        self.make_five_conv1 = _ref_five(256, 512)
        self.upsample2 = nn.Sequential(_ref_conv(256, 128, 1), nn.Upsample(scale_factor=2))
        self.conv_for_P3 = _ref_conv(in_filters[0], 128, 1)
        self.make_five_conv2 = _ref_five(128, 256)
        self.yolo_head3 = _ref_head(256, 128, outputs)
        self.down_sample1 = _ref_conv_dw(128, 256, stride=2)
        self.make_five_conv3 = _ref_five(256, 512)
        self.yolo_head2 = _ref_head(512, 256, outputs)
        self.down_sample2 = _ref_conv_dw(256, 512, stride=2)
        self.make_five_conv4 = _ref_five(512, 1024)
        self.yolo_head1 = _ref_head(1024, 512, outputs)

    def forward(self, x2, x1, x0):
        p5 = self.conv2(self.spp(self.conv1(x0)))
        p4 = self.make_five_conv1(torch.cat([self.conv_for_P4(x1), self.upsample1(p5)], 1))
        p3 = self.make_five_conv2(torch.cat([self.conv_for_P3(x2), self.upsample2(p4)], 1))
        p4 = self.make_five_conv3(torch.cat([self.down_sample1(p3), p4], 1))
        p5 = self.make_five_conv4(torch.cat([self.down_sample2(p4), p5], 1))
        return self.yolo_head1(p5), self.yolo_head2(p4), self.yolo_head3(p3)


def _copy_in_order(target: nn.Module, source: nn.Module):
    """Copies source's parameters and buffers into target, matched by registration order."""
    target_state, source_state = target.state_dict(), source.state_dict()
    assert len(target_state) == len(source_state), (list(target_state), list(source_state))
    for (target_key, target_value), (source_key, source_value) in zip(
        target_state.items(), source_state.items(), strict=True
    ):
        assert target_value.shape == source_value.shape, (target_key, source_key)
        target_value.copy_(source_value)


@pytest.mark.parametrize('train', [False, True], ids=['eval', 'train'])
def test_neck_and_depthwise_head_compute_the_reference_yolo_body(train):
    torch.manual_seed(0)
    in_filters, num_classes = [40, 112, 160], 3
    reference = ReferenceYoloBodyWithoutBackbone(in_filters, num_classes)
    for module in reference.modules():  # non-trivial norms, so that a swapped layer shows
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    act = dict(type='ReLU6')
    neck = build_neck(in_channels=in_filters, act_cfg=act)
    head = MODELS.build(
        dict(
            type='YOLOv4Head',
            num_classes=num_classes,
            in_channels=neck.out_channels,
            out_channels=[1024, 512, 256],
            act_cfg=act,
        )
    )
    pairs = [
        (neck.top_in, reference.conv1),
        (neck.top_out, reference.conv2),
        (neck.reduce[0], reference.upsample1[0]),
        (neck.lateral[0], reference.conv_for_P4),
        (neck.top_down_blocks[0], reference.make_five_conv1),
        (neck.reduce[1], reference.upsample2[0]),
        (neck.lateral[1], reference.conv_for_P3),
        (neck.top_down_blocks[1], reference.make_five_conv2),
        (neck.downsample[0], reference.down_sample1),
        (neck.bottom_up_blocks[0], reference.make_five_conv3),
        (neck.downsample[1], reference.down_sample2),
        (neck.bottom_up_blocks[1], reference.make_five_conv4),
    ]
    for level, ref_head in enumerate(
        (reference.yolo_head1, reference.yolo_head2, reference.yolo_head3)
    ):
        pairs += [(head.convs_bridge[level], ref_head[0]), (head.convs_pred[level], ref_head[1])]
    with torch.no_grad():
        for ours, theirs in pairs:
            _copy_in_order(ours, theirs)
    # every parameter of the neck and head was matched to one of the reference
    assert sum(p.numel() for p in neck.parameters()) + sum(
        p.numel() for p in head.parameters()
    ) == sum(p.numel() for p in reference.parameters())
    for module in (reference, neck, head):
        module.train(train)
    inputs = levels(in_filters, (128, 192), batch=2)
    expected = reference(*inputs)
    outputs = head(neck(inputs))[0]
    assert len(outputs) == len(expected) == 3
    for ours, theirs in zip(outputs, expected, strict=True):
        assert ours.shape == theirs.shape == (2, 3 * (5 + num_classes), *ours.shape[-2:])
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_yolov4_head_without_depthwise_is_mmdet_yolov3_head():
    cfg = dict(num_classes=3, in_channels=[64, 32, 16], out_channels=[128, 64, 32])
    ours = MODELS.build(dict(type='YOLOv4Head', use_depthwise=False, **cfg))
    theirs = MODELS.build(dict(type='mmdet.YOLOV3Head', **cfg))
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    depthwise = MODELS.build(dict(type='YOLOv4Head', **cfg))
    assert all(isinstance(m, DepthwiseSeparableConvModule) for m in depthwise.convs_bridge)
    assert [m.depthwise_conv.conv.groups for m in depthwise.convs_bridge] == [64, 32, 16]
