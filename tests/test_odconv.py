"""ODConv2d against the official ODConv2d (OSVAI/ODConv) and against a per-sample reference
written from the paper's equation."""

import itertools
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer

from mmlight.models.layers import ODConv2d
from mmlight.models.layers.odconv import ODCONV_IMPLS

# the edit-loop tier: bash tools/run_tests.sh --quick
pytestmark = pytest.mark.quick


def equation_reference(conv: ODConv2d, x):
    """y_b = a_f * ((sum_k a_w,k * a_s * W_k) conv (x_b * a_c)), one sample at a time,
    attentions recomputed here from the attention's own layers."""
    att = conv.attention
    t = conv.temperature
    outs = []
    pooled = att.fc(x.mean((2, 3), keepdim=True))
    bn = att.bn
    if bn.training and x.shape[0] == 1:  # no batch statistics: the running ones, unchanged
        normed = (pooled - bn.running_mean[:, None, None]) / torch.sqrt(
            bn.running_var[:, None, None] + bn.eps
        ) * bn.weight[:, None, None] + bn.bias[:, None, None]
    else:
        normed = bn(pooled)
    h = att.relu(normed)
    for b in range(x.shape[0]):
        hb = h[b : b + 1]
        a_c = torch.sigmoid(att.channel_fc(hb).flatten() / t)
        a_f = torch.sigmoid(att.filter_fc(hb).flatten() / t) if att.filter_fc else None
        k = conv.kernel_size
        a_s = torch.sigmoid(att.spatial_fc(hb).view(k, k) / t) if att.spatial_fc else 1.0
        a_w = torch.softmax(att.kernel_fc(hb).flatten() / t, 0) if att.kernel_fc else torch.ones(1)
        bank = conv.weight.view(conv.kernel_num, conv.out_channels, *conv.weight.shape[1:])
        weight = sum(a_w[i] * a_s * bank[i] for i in range(conv.kernel_num))
        y = F.conv2d(
            x[b : b + 1] * a_c.view(1, -1, 1, 1),
            weight,
            None,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
        )
        outs.append(y if a_f is None else y * a_f.view(1, -1, 1, 1))
    return torch.cat(outs)


CASES = list(
    itertools.product([1, 4], [1, 3], ['dense', 'depthwise'], [1, 2], [1, 2, 5], [True, False])
)


@pytest.mark.parametrize('impl', [i for i in ODCONV_IMPLS])
@pytest.mark.parametrize(
    ('kernel_num', 'kernel_size', 'kind', 'stride', 'batch', 'training'), CASES
)
def test_odconv_matches_the_equation(impl, kernel_num, kernel_size, kind, stride, batch, training):
    torch.manual_seed(batch * 100 + kernel_num * 10 + kernel_size + stride)
    cin, cout, groups = (16, 16, 16) if kind == 'depthwise' else (8, 12, 1)
    conv = ODConv2d(
        cin,
        cout,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        groups=groups,
        kernel_num=kernel_num,
        reduction=0.25,
        min_channels=4,
        temperature=3.0,
        impl=impl,
    ).double()
    # running statistics other than the defaults, so that eval mode is really checked
    conv.attention.bn.running_mean.uniform_(-0.5, 0.5)
    conv.attention.bn.running_var.uniform_(0.5, 2.0)
    conv.train(training)
    reference = ODConv2d(
        cin,
        cout,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        groups=groups,
        kernel_num=kernel_num,
        reduction=0.25,
        min_channels=4,
        temperature=3.0,
    ).double()
    reference.load_state_dict(conv.state_dict())
    reference.train(training)
    x = torch.randn(batch, cin, 9, 11, dtype=torch.double)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y = conv(x1)
    y_ref = equation_reference(reference, x2)
    assert y.shape == y_ref.shape == (batch, cout, (9 - 1) // stride + 1, (11 - 1) // stride + 1)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=0)
    grad = torch.randn_like(y)
    y.backward(grad)
    y_ref.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=0)
    torch.testing.assert_close(conv.weight.grad, reference.weight.grad, atol=1e-5, rtol=0)
    for (name, p), p_ref in zip(
        conv.attention.named_parameters(), reference.attention.parameters(), strict=True
    ):
        torch.testing.assert_close(p.grad, p_ref.grad, atol=1e-5, rtol=0, msg=name)


OFFICIAL_CASES = [
    (kernel_num, kernel_size, kind, stride, batch, training)
    for kernel_num, kernel_size, kind, stride in itertools.product(
        [1, 4], [1, 3], ['dense', 'grouped', 'depthwise'], [1, 2]
    )
    for batch, training in [(1, False), (2, False), (5, False), (2, True), (5, True)]
]


@pytest.mark.parametrize(
    ('kernel_num', 'kernel_size', 'kind', 'stride', 'batch', 'training'), OFFICIAL_CASES
)
def test_odconv_matches_the_official_odconv_with_the_same_weights(
    kernel_num, kernel_size, kind, stride, batch, training
):
    from mmlight.testing.official_odconv import ODConv2d as OfficialODConv2d

    torch.manual_seed(batch * 100 + kernel_num * 10 + kernel_size + stride)
    cin, cout, groups = {'dense': (16, 24, 1), 'grouped': (16, 24, 4), 'depthwise': (32, 32, 32)}[
        kind
    ]
    official = OfficialODConv2d(
        cin,
        cout,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        groups=groups,
        reduction=0.0625,
        kernel_num=kernel_num,
    ).double()
    ours = ODConv2d(
        cin,
        cout,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        groups=groups,
        kernel_num=kernel_num,
        reduction=0.0625,
    ).double()
    with torch.no_grad():  # non-trivial attention biases and BN statistics
        for p in official.attention.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        official.attention.bn.running_mean.uniform_(-0.5, 0.5)
        official.attention.bn.running_var.uniform_(0.5, 2.0)
    state = {k: v.flatten(0, 1) if k == 'weight' else v for k, v in official.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    official.train(training)
    ours.train(training)
    x = torch.randn(batch, cin, 9, 11, dtype=torch.double)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y, y_official = ours(x1), official(x2)
    assert y.shape == y_official.shape
    torch.testing.assert_close(y, y_official, atol=1e-5, rtol=0)
    grad = torch.randn_like(y)
    y.backward(grad)
    y_official.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        ours.weight.grad, official.weight.grad.flatten(0, 1), atol=1e-5, rtol=0
    )
    theirs = dict(official.attention.named_parameters())
    for name, p in ours.attention.named_parameters():
        torch.testing.assert_close(p.grad, theirs[name].grad, atol=1e-5, rtol=0, msg=name)
    if training:  # the attention BN's running statistics moved the same way
        torch.testing.assert_close(
            ours.attention.bn.running_mean, official.attention.bn.running_mean
        )


def test_skipped_attention_heads_do_not_exist():
    pointwise = ODConv2d(8, 8, 1, kernel_num=1)
    assert pointwise.attention.spatial_fc is None
    assert pointwise.attention.kernel_fc is None
    depthwise = ODConv2d(8, 8, 3, groups=8, kernel_num=4)
    assert depthwise.attention.filter_fc is None
    assert depthwise.attention.kernel_fc is not None
    names = {n for n, _ in ODConv2d(8, 16, 3, kernel_num=4).named_parameters()}
    assert names == {
        'weight',
        'attention.fc.weight',
        'attention.bn.weight',
        'attention.bn.bias',
        'attention.channel_fc.weight',
        'attention.channel_fc.bias',
        'attention.filter_fc.weight',
        'attention.filter_fc.bias',
        'attention.spatial_fc.weight',
        'attention.spatial_fc.bias',
        'attention.kernel_fc.weight',
        'attention.kernel_fc.bias',
    }
    # hidden width max(int(C_in * reduction), 16)
    assert ODConv2d(64, 64, 3).attention.fc.out_channels == 16
    assert ODConv2d(512, 64, 3).attention.fc.out_channels == 32
    conv = ODConv2d(8, 16, 3, kernel_num=4)
    assert conv.weight_bank.shape == (4, 16, 8, 3, 3)
    assert conv.weight.shape == (64, 8, 3, 3)
    assert torch.equal(conv.weight_bank[1], conv.weight[16:32])


def test_channels_last_models_give_the_same_result():
    torch.manual_seed(0)
    for k in (1, 3):
        conv = ODConv2d(8, 12, k, padding=k // 2, kernel_num=4).eval()
        x = torch.randn(3, 8, 10, 10)
        y = conv(x)
        conv = nn.Sequential(conv).to(memory_format=torch.channels_last)[0]
        x_cl = x.to(memory_format=torch.channels_last)
        assert conv.resolved_impl(x_cl) == ('loop' if k > 1 else 'folded')
        torch.testing.assert_close(conv(x_cl), y, atol=1e-5, rtol=1e-5)


def test_batch_one_training_uses_running_statistics_and_batch_two_the_batch():
    torch.manual_seed(0)
    conv = ODConv2d(8, 8, 3, padding=1, kernel_num=4).train()
    conv.attention.bn.running_mean.uniform_(-1, 1)
    before = conv.attention.bn.running_mean.clone()
    x = torch.randn(1, 8, 6, 6)
    y = conv(x)  # the official BN raises "Expected more than 1 value per channel" here
    assert torch.equal(conv.attention.bn.running_mean, before), 'batch 1 leaves stats alone'
    assert torch.allclose(y, conv.eval()(x)), 'batch 1 normalises like eval mode'
    conv.train()
    xb = torch.randn(2, 8, 6, 6)
    conv(xb)
    assert not torch.equal(conv.attention.bn.running_mean, before), 'batch 2 is the paper BN'
    # with batch >= 2 it is exactly nn.BatchNorm2d
    plain = nn.BatchNorm2d(conv.attention.bn.num_features).train()
    plain.load_state_dict(conv.attention.bn.state_dict())
    h = torch.randn(4, conv.attention.bn.num_features, 1, 1)
    torch.testing.assert_close(conv.attention.bn(h), plain(h))


def test_builds_from_mmcv_conv_cfg():
    conv = build_conv_layer(
        dict(type='ODConv2d', kernel_num=4, reduction=0.0625),
        32,
        64,
        3,
        stride=2,
        padding=1,
        bias=False,
    )
    assert isinstance(conv, ODConv2d)
    assert conv.kernel_num == 4
    assert conv.stride == 2
    assert conv(torch.randn(2, 32, 8, 8)).shape == (2, 64, 4, 4)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        (dict(kernel_num=0), 'kernel_num must be an integer >= 1'),
        (dict(kernel_num=2.5), 'kernel_num must be an integer >= 1'),
        (dict(reduction=0), 'reduction must be a number > 0'),
        (dict(reduction=-0.1), 'reduction must be a number > 0'),
        (dict(bias=True), 'has no bias'),
        (dict(groups=3), 'groups=3 must divide'),
        (dict(kernel_size=(3, 1)), 'only square kernel_size'),
        (dict(padding_mode='reflect'), "valid choices: ['zeros']"),
        (dict(impl='fast'), "valid choices: ['auto', 'official', 'folded', 'loop']"),
    ],
)
def test_bad_settings_are_clear_value_errors(kwargs, message):
    args = dict(in_channels=8, out_channels=16, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        ODConv2d(**args)


def test_wrong_input_channels_is_a_clear_error():
    with pytest.raises(ValueError, match=r'expects \[B, 8, H, W\]'):
        ODConv2d(8, 8, 3)(torch.randn(1, 4, 5, 5))
