"""The shared backbone contract, one suite over every registered mmlight backbone (the shape of
timm's tests/test_models.py): out_indices, out_channels and strides, odd input sizes, frozen
stages, norm_eval, with_cp, strict Pretrained loading. Family files keep what is specific to a
family (reference parity, architecture tables, family arguments)."""

import inspect
import math

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmlight.registration  # noqa: F401
from mmlight.family import FAMILIES
from mmlight.models.backbones import MultiScaleBackbone
from mmlight.models.backbones import base as contract

# the edit-loop tier: bash tools/run_tests.sh --quick
pytestmark = pytest.mark.quick

# A small variant of every registered backbone, from its family's record (the contract does
# not depend on the width); a backbone registered without a family fails the first test.
SMALL = {
    type_name: kwargs
    for family in FAMILIES.values()
    for type_name, kwargs in family.contract_variants.items()
}
TYPES = sorted(SMALL)


def build(type_name, **kwargs):
    return MODELS.build(dict(type=type_name, **SMALL[type_name], **kwargs))


def all_levels(type_name):
    return tuple(range(len(build(type_name).levels)))


def test_every_registered_mmlight_backbone_is_covered():
    registered = {
        name
        for name, cls in MODELS.module_dict.items()
        if inspect.isclass(cls) and issubclass(cls, MultiScaleBackbone)
    }
    assert registered == set(SMALL)


@pytest.mark.parametrize('type_name', TYPES)
def test_out_indices_choose_the_levels_their_channels_and_strides(type_name):
    model = build(type_name, out_indices=all_levels(type_name)).eval()
    size = (64, 96)
    outs = model(torch.randn(1, 3, *size))
    assert len(outs) == len(model.levels) == len(model.out_channels)
    for out, level in zip(outs, model.levels, strict=False):
        assert tuple(out.shape) == (
            1,
            level.channels,
            size[0] // level.stride,
            size[1] // level.stride,
        )
        # mmcv's RoIAlign reads its input as contiguous NCHW whatever its strides
        assert out.is_contiguous(), (level, out.stride())
    assert model.out_channels == [level.channels for level in model.levels]
    assert [level.stride for level in model.levels][:4] == [4, 8, 16, 32]
    chosen = (1, len(model.levels) - 1)
    subset = build(type_name, out_indices=chosen).eval()
    assert subset.out_channels == [model.levels[i].channels for i in chosen]
    assert [o.shape[1] for o in subset(torch.randn(1, 3, *size))] == subset.out_channels
    assert build(type_name, out_indices=2).out_indices == (2,)


@pytest.mark.parametrize('type_name', TYPES)
@pytest.mark.parametrize(
    ('out_indices', 'message'),
    [
        ((), 'must not be empty'),
        ((1, 1), 'duplicated levels'),
        ((2, 1), 'must be increasing'),
        ((9,), r'level 9 is out of range; valid levels: \[0, 1, 2, 3'),
        ((True,), 'level True is out of range'),
        (('1',), "level '1' is out of range"),
    ],
)
def test_bad_out_indices_name_the_valid_levels(type_name, out_indices, message):
    with pytest.raises(ValueError, match=message):
        build(type_name, out_indices=out_indices)


@pytest.mark.parametrize('type_name', TYPES)
def test_bad_frozen_stages_name_the_range(type_name):
    levels = len(build(type_name).levels)
    for frozen_stages in (-2, levels + 1, 1.0, True):
        with pytest.raises(
            ValueError,
            match=rf'frozen_stages must be an integer in '
            rf'\[-1, {levels}\], got {frozen_stages!r}',
        ):
            build(type_name, frozen_stages=frozen_stages)


@pytest.mark.parametrize('type_name', TYPES)
def test_odd_input_sizes_give_every_level(type_name):
    model = build(type_name, out_indices=all_levels(type_name)).eval()
    size = (67, 45)
    outs = model(torch.randn(1, 3, *size))
    assert len(outs) == len(model.levels)
    for out, level in zip(outs, model.levels, strict=False):
        for got, full in zip(out.shape[-2:], size, strict=False):
            # strided convs round up, patchify convs (HorNet) round down
            assert got in (full // level.stride, math.ceil(full / level.stride)), (
                level,
                tuple(out.shape),
                size,
            )


@pytest.mark.parametrize('type_name', TYPES)
def test_levels_after_the_last_output_do_not_train(type_name):
    model = build(type_name, out_indices=(0, 1))
    assert all(not p.requires_grad for p in model.stages[2:].parameters())
    assert all(p.requires_grad for p in model.stages[:2].parameters())
    sum(o.sum() for o in model(torch.randn(2, 3, 64, 64))).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def _frozen_and_trainable(model, frozen_stages):
    out_norms = {int(k): v for k, v in model.out_norms.items()}
    frozen = (
        []
        if frozen_stages < 0
        else [model.stem]
        + list(model.stages[:frozen_stages])
        + [norm for level, norm in out_norms.items() if level < frozen_stages]
    )
    trainable = (
        ([model.stem] if frozen_stages < 0 else [])
        + list(model.stages[max(frozen_stages, 0) :])
        + [norm for level, norm in out_norms.items() if level >= frozen_stages]
    )
    return frozen, trainable


@pytest.mark.parametrize('type_name', TYPES)
def test_frozen_stages_freeze_the_stem_the_first_stages_and_their_output_norms(type_name):
    levels = all_levels(type_name)
    for frozen_stages in range(-1, len(levels) + 1):
        model = build(type_name, out_indices=levels, frozen_stages=frozen_stages).train()
        frozen, trainable = _frozen_and_trainable(model, frozen_stages)
        for module in frozen:
            assert all(not p.requires_grad for p in module.parameters()), frozen_stages
            assert all(not m.training for m in module.modules()), frozen_stages
        for module in trainable:
            assert all(p.requires_grad for p in module.parameters()), frozen_stages
            assert all(m.training for m in module.modules()), frozen_stages


@pytest.mark.parametrize(
    'type_name', [t for t in TYPES if 'norm_eval' in inspect.signature(MODELS.get(t)).parameters]
)
def test_norm_eval_keeps_every_batch_norm_in_eval_mode(type_name):
    model = build(type_name, norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms
    assert all(not m.training for m in norms)
    before = [m.running_mean.clone() for m in norms]
    model(torch.randn(2, 3, 64, 64))
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, norms, strict=False))
    assert any(m.training for m in model.modules())  # the rest still trains


def _blocks(stage):
    return list(stage) if isinstance(stage, nn.Sequential) else [stage]


@pytest.mark.parametrize('type_name', TYPES)
@pytest.mark.parametrize('frozen_stages', [-1, 1])
def test_with_cp_checkpoints_every_trainable_block_and_changes_no_number(
    type_name, frozen_stages, monkeypatch
):
    torch.manual_seed(0)
    out_indices = (1, 3)
    kwargs = dict(out_indices=out_indices, frozen_stages=frozen_stages)
    if type_name == 'HorNet':
        kwargs['drop_path_rate'] = 0.0  # the same random draws are not replayed otherwise
    plain = build(type_name, **kwargs)
    checkpointed = build(type_name, with_cp=True, **kwargs)
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed_blocks = []
    real_checkpoint = contract.cp.checkpoint

    def counting_checkpoint(block, *args, **kw):
        checkpointed_blocks.append(block)
        return real_checkpoint(block, *args, **kw)

    monkeypatch.setattr(contract.cp, 'checkpoint', counting_checkpoint)
    x = torch.randn(2, 3, 32, 32)
    grads, outputs = [], []
    for model in (plain, checkpointed):
        model.train()
        outs = model(x)
        outputs.append(outs)
        sum(o.square().mean() for o in outs).backward()
        grads.append([p.grad for p in model.parameters() if p.requires_grad])
    # every block with trainable parameters up to the last output, the first one after the
    # frozen stages included (its input carries no gradient)
    expected = [
        block
        for stage in checkpointed.stages[: out_indices[-1] + 1]
        for block in _blocks(stage)
        if any(p.requires_grad for p in block.parameters())
    ]
    assert expected
    assert [id(b) for b in checkpointed_blocks] == [id(b) for b in expected]
    assert len(outputs[0]) == len(outputs[1]) == len(out_indices)
    for a, b in zip(*outputs, strict=False):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert len(grads[0]) == len(grads[1]) > 0
    for a, b in zip(*grads, strict=False):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('type_name', TYPES)
def test_pretrained_loads_strictly_with_a_prefix_and_names_what_does_not_fit(type_name, tmp_path):
    source = build(type_name)
    state = source.state_dict()
    path = str(tmp_path / 'detector.pth')
    torch.save({'state_dict': {'backbone.' + k: v for k, v in state.items()}}, path)
    model = build(type_name, init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    loaded = model.state_dict()
    assert len(loaded) == len(state)
    assert all(torch.equal(v, loaded[k]) for k, v in state.items())

    first = next(iter(state))
    bad = dict(state)
    bad.pop(first)
    bad['stages.9.extra.weight'] = torch.zeros(1)
    torch.save(bad, str(tmp_path / 'bad.pth'))
    model = build(type_name, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'bad.pth')))
    with pytest.raises(KeyError) as info:
        model.init_weights()
    assert f'missing keys (1): {first}' in str(info.value)
    assert 'unexpected keys (1): stages.9.extra.weight' in str(info.value)

    wrong = dict(state)
    wrong[first] = torch.zeros(3)
    torch.save(wrong, str(tmp_path / 'wrong.pth'))
    model = build(
        type_name, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'wrong.pth'))
    )
    with pytest.raises(ValueError, match=f'wrong shape.*{first}|{first}.*wrong shape'):
        model.init_weights()
