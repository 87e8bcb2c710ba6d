import os.path as osp

import pytest
import timm
import torch
from mmdet.registry import MODELS

import mmlight.registration  # noqa: F401
from mmlight.converters import convert_state_dict
from mmlight.testing.references import TimmGhostNetLevels
from tests.helpers import randomize_norm_statistics, run_tool

# the edit-loop tier: bash tools/run_tests.sh --quick
pytestmark = pytest.mark.quick

FAMILIES = [('GhostNet', 'ghostnet_100'), ('GhostNetV2', 'ghostnetv2_100')]
# the family key of each backbone type (its converter's)
KEYS = {'GhostNet': 'ghostnet', 'GhostNetV2': 'ghostnetv2'}


def build(type_name, **kwargs):
    return MODELS.build(dict(type=type_name, **kwargs))


@pytest.mark.parametrize(('type_name', 'timm_name'), FAMILIES)
def test_converted_timm_weights_give_timm_features(type_name, timm_name):
    torch.manual_seed(0)
    reference = timm.create_model(timm_name, pretrained=False).eval()
    randomize_norm_statistics(reference)
    ours = build(type_name, out_indices=(0, 1, 2, 3, 4)).eval()
    ours.load_state_dict(convert_state_dict(KEYS[type_name], reference.state_dict()), strict=True)

    # timm's own forward_features, tapped after the last bottleneck group of every stride
    taps = {}
    handles = [
        reference.blocks[i].register_forward_hook(lambda m, inp, out, i=i: taps.__setitem__(i, out))
        for i in TimmGhostNetLevels.LEVEL_LAST_GROUP
    ]
    x = torch.randn(2, 3, 97, 131)  # not a multiple of 32
    with torch.no_grad():
        final = reference.forward_features(x)
        outs = ours(x)
    for h in handles:
        h.remove()
    expected = [taps[i] for i in TimmGhostNetLevels.LEVEL_LAST_GROUP]
    assert torch.equal(expected[-1], final)
    assert len(outs) == 5
    for level, (a, b) in enumerate(zip(outs, expected, strict=True)):
        assert a.shape == b.shape, level
        assert (a - b).abs().max().item() <= 1e-5, f'level {level}'
    # timm's features_only API taps the bottleneck that changes the stride (blocks 1, 3, 5, 7)
    with torch.no_grad():
        timm_taps = reference.forward_intermediates(
            x, indices=[1, 2, 3, 4], intermediates_only=True
        )
        y, our_taps = ours.stem(x), []
        for level, stage in enumerate(list(ours.stages)[:4]):
            for index, block in enumerate(stage):
                y = block(y)
                if index == (1 if level == 0 else 0):
                    our_taps.append(y)
    for a, b in zip(our_taps, timm_taps, strict=True):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    ('type_name', 'timm_name', 'millions'),
    [('GhostNet', 'ghostnet_100', 5.18), ('GhostNetV2', 'ghostnetv2_100', 6.16)],
)
def test_classification_param_count_matches_timm_and_paper(type_name, timm_name, millions):
    reference = timm.create_model(timm_name, pretrained=False)
    ours = build(type_name, out_indices=(4,))
    final_channels, head_hidden, classes = ours.level_channels[4], 1280, 1000
    # the classification head the papers count: 1x1 conv 960->1280 (bias) and a 1000-way FC
    head = final_channels * head_hidden + head_hidden + head_hidden * classes + classes
    ours_total = sum(p.numel() for p in ours.parameters()) + head
    reference_total = sum(p.numel() for p in reference.parameters())
    assert ours_total == reference_total
    assert round(ours_total / 1e6, 2) == millions


@pytest.mark.parametrize(
    ('widen_factor', 'channels'),
    [
        (0.5, [12, 20, 56, 80, 480]),
        (1.0, [24, 40, 112, 160, 960]),
        (1.3, [32, 52, 144, 208, 1248]),
        (0.75, [20, 32, 84, 120, 720]),
    ],
)
@pytest.mark.parametrize('type_name', ['GhostNet', 'GhostNetV2'])
def test_levels_strides_and_channels(type_name, widen_factor, channels):
    model = build(type_name, widen_factor=widen_factor, out_indices=(0, 1, 2, 3, 4)).eval()
    assert model.out_channels == channels
    for height, width in [(64, 64), (65, 97), (33, 47)]:
        with torch.no_grad():
            outs = model(torch.randn(1, 3, height, width))
        strides = (4, 8, 16, 32, 32)[: len(channels)]
        for out, stride, c in zip(outs, strides, channels, strict=True):
            assert out.shape == (1, c, -(-height // stride), -(-width // stride))


def test_ghostnetv2_with_the_timm_table_matches_timm_at_other_widths():
    torch.manual_seed(0)
    reference = timm.create_model('ghostnetv2_130', pretrained=False).eval()
    ours = build('GhostNetV2', widen_factor=1.3, out_indices=(4,)).eval()
    ours.load_state_dict(convert_state_dict('ghostnetv2', reference.state_dict()), strict=True)
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        assert (ours(x)[0] - reference.forward_features(x)).abs().max() <= 1e-5


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        (dict(widen_factor=0), 'GhostNet: widen_factor must be a number > 0, got 0'),
        (dict(widen_factor=-1.0), 'widen_factor must be a number > 0'),
        (dict(widen_factor=True), 'widen_factor must be a number > 0, got True'),
        (dict(out_indices=(5,)), r'valid levels: \[0, 1, 2, 3, 4\]'),
    ],
)
def test_bad_arguments_name_the_valid_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build('GhostNet', **kwargs)


def test_missing_pretrained_file_says_where_and_how():
    model = build(
        'GhostNet', init_cfg=dict(type='Pretrained', checkpoint='checkpoints/not_there.pth')
    )
    with pytest.raises(FileNotFoundError) as info:
        model.init_weights()
    text = str(info.value)
    assert "checkpoint='mmlight://NAME'" in text
    assert 'model.backbone.init_cfg=None' in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ('timm_name', 'type_name', 'width'),
    [
        ('ghostnet_050', 'GhostNet', 0.5),
        ('ghostnet_130', 'GhostNet', 1.3),
        ('ghostnetv2_160', 'GhostNetV2', 1.6),
    ],
)
def test_converter_cli_infers_any_width_from_the_shapes(timm_name, type_name, width, tmp_path):
    """timm files of widths the weights table does not hold: the converter tells the width
    from the tensor shapes, and the converted file gives timm's features."""
    torch.manual_seed(0)
    reference = timm.create_model(timm_name, pretrained=False)
    src = str(tmp_path / 'official.pth')
    # official checkpoints come wrapped, with DataParallel prefixes
    torch.save({'state_dict': {'module.' + k: v for k, v in reference.state_dict().items()}}, src)
    dst = str(tmp_path / 'converted' / 'backbone.pth')
    proc = run_tool(['tools/model_converters/convert.py', KEYS[type_name], src, dst])
    assert proc.returncode == 0, proc.stderr
    assert f"'type': '{type_name}', 'widen_factor': {width}" in proc.stdout
    model = build(
        type_name,
        widen_factor=width,
        out_indices=(4,),
        init_cfg=dict(type='Pretrained', checkpoint=dst),
    )
    model.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (model.eval()(x)[0] - reference.eval().forward_features(x)).abs().max() <= 1e-5


@pytest.mark.slow
def test_converter_cli_refuses_a_file_that_fits_no_variant(tmp_path):
    """A file with a stem of another kernel size fits no GhostNet: the error lists what was
    tried and what did not fit, --model is the way out, and nothing is written."""
    state = timm.create_model('ghostnet_100', pretrained=False).state_dict()
    state['conv_stem.weight'] = torch.zeros(16, 3, 5, 5)
    src, dst = str(tmp_path / 'cut.pth'), str(tmp_path / 'out.pth')
    torch.save(state, src)
    proc = run_tool(['tools/model_converters/convert.py', 'ghostnet', src, dst])
    assert proc.returncode != 0
    assert 'fits none of the ghostnet backbones' in proc.stderr
    assert "'widen_factor': 1.0}: 1 tensors of another shape, e.g. stem.conv.weight" in proc.stderr
    assert 'Pass --model' in proc.stderr
    assert not osp.exists(dst)
