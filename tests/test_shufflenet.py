import pytest
import torch
import torchvision
from mmdet.registry import MODELS

import mmlight.registration  # noqa: F401
from mmlight.converters import convert_state_dict
from mmlight.testing.references import MMPretrainShuffleNetLevels, TorchvisionShuffleNetV2Levels
from tests.helpers import assert_same_levels, randomize_norm_statistics

# the edit-loop tier: bash tools/run_tests.sh --quick
pytestmark = pytest.mark.quick


def build(type_name, **kwargs):
    return MODELS.build(dict(type=type_name, **kwargs))


@pytest.mark.parametrize(
    ('name', 'widen_factor'), [('shufflenet_v2_x1_0', 1.0), ('shufflenet_v2_x0_5', 0.5)]
)
def test_torchvision_weights_give_torchvision_features(name, widen_factor):
    torch.manual_seed(0)
    reference = TorchvisionShuffleNetV2Levels(name, out_indices=(0, 1, 2, 3, 4))
    randomize_norm_statistics(reference)
    ours = build('ShuffleNetV2', widen_factor=widen_factor, out_indices=(0, 1, 2, 3, 4))
    ours.load_state_dict(
        convert_state_dict('shufflenetv2', reference.model.state_dict()), strict=True
    )
    assert_same_levels(ours, reference, torch.randn(2, 3, 97, 131))
    # the adapter taps torchvision's own forward: its last level feeds torchvision's head
    with torch.no_grad():
        x = torch.randn(1, 3, 64, 64)
        logits = reference.model.eval()(x)
        pooled = ours.eval()(x)[-1].mean((2, 3))
        assert (reference.model.fc(pooled) - logits).abs().max() <= 1e-5


@pytest.mark.parametrize(
    ('version', 'kwargs', 'type_name'),
    [
        ('v2', dict(widen_factor=1.0), 'ShuffleNetV2'),
        ('v1', dict(groups=3, widen_factor=1.0), 'ShuffleNetV1'),
        ('v1', dict(groups=8, widen_factor=1.0), 'ShuffleNetV1'),
        ('v1', dict(groups=1, widen_factor=0.5), 'ShuffleNetV1'),
    ],
)
def test_mmpretrain_weights_give_mmpretrain_features(version, kwargs, type_name):
    torch.manual_seed(0)
    reference = MMPretrainShuffleNetLevels(version, out_indices=(0, 1, 2, 3), **kwargs)
    randomize_norm_statistics(reference)
    ours = build(type_name, out_indices=(0, 1, 2, 3), **kwargs)
    # mmpretrain classifier checkpoints prefix the backbone and carry a head
    state = {'backbone.' + k: v for k, v in reference.model.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(10, 1)
    converted = convert_state_dict(f'shufflenet{version}', state)
    ours.load_state_dict(converted, strict=True)
    assert_same_levels(ours, reference, torch.randn(2, 3, 97, 131))


def test_classification_param_counts_match_torchvision_and_mmpretrain():
    ours = build('ShuffleNetV2', out_indices=(4,))
    head = 1024 * 1000 + 1000
    total = sum(p.numel() for p in ours.parameters()) + head
    reference = torchvision.models.shufflenet_v2_x1_0(weights=None)
    assert total == sum(p.numel() for p in reference.parameters())
    assert round(total / 1e6, 2) == 2.28
    # ShuffleNetV1 g=3 1.0x: 1.87M is mmpretrain's count (its model zoo table), counted here
    # on mmpretrain's backbone with the same 960 x 1000 classifier; the paper reports FLOPs
    v1 = build('ShuffleNetV1', groups=3)
    total_v1 = sum(p.numel() for p in v1.parameters()) + 960 * 1000 + 1000
    from mmpretrain.models.backbones import ShuffleNetV1 as MMPretrainShuffleNetV1

    reference_v1 = MMPretrainShuffleNetV1(groups=3, out_indices=(2,))
    assert total_v1 == sum(p.numel() for p in reference_v1.parameters()) + 960 * 1000 + 1000
    assert round(total_v1 / 1e6, 2) == 1.87


@pytest.mark.parametrize(
    ('type_name', 'kwargs', 'channels'),
    [
        ('ShuffleNetV2', dict(widen_factor=1.0), [24, 116, 232, 464, 1024]),
        ('ShuffleNetV2', dict(widen_factor=2.0), [24, 244, 488, 976, 2048]),
        ('ShuffleNetV1', dict(groups=3), [24, 240, 480, 960]),
        ('ShuffleNetV1', dict(groups=1, widen_factor=0.5), [12, 72, 144, 288]),
    ],
)
def test_levels_strides_and_channels(type_name, kwargs, channels):
    levels = tuple(range(len(channels)))
    model = build(type_name, out_indices=levels, **kwargs).eval()
    assert model.out_channels == channels
    for h, w in [(64, 64), (65, 97)]:
        with torch.no_grad():
            outs = model(torch.randn(1, 3, h, w))
        strides = (4, 8, 16, 32, 32)[: len(channels)]
        for out, stride, c in zip(outs, strides, channels, strict=True):
            assert out.shape == (1, c, -(-h // stride), -(-w // stride))


@pytest.mark.parametrize(
    ('type_name', 'kwargs', 'message'),
    [
        (
            'ShuffleNetV1',
            dict(groups=5),
            r'groups 5 is not supported; valid choices: \[1, 2, 3, 4, 8\]',
        ),
        ('ShuffleNetV1', dict(widen_factor=0.75), r'valid choices: \[0.5, 1.0, 1.5, 2.0\]'),
        ('ShuffleNetV2', dict(widen_factor=1.2), r'valid choices: \[0.5, 1.0, 1.5, 2.0\]'),
        (
            'ShuffleNetV1',
            dict(groups=8, widen_factor=0.5),
            r'valid widen_factor for groups=8: \[1.0, 2.0\]',
        ),
        ('ShuffleNetV2', dict(out_indices=(5,)), r'valid levels: \[0, 1, 2, 3, 4\]'),
        ('ShuffleNetV1', dict(out_indices=(4,)), r'valid levels: \[0, 1, 2, 3\]'),
    ],
)
def test_bad_arguments(type_name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(type_name, **kwargs)


def test_channel_shuffle_interleaves_groups():
    from mmlight.models.layers import channel_shuffle

    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
