"""HorNet: gnConv / GlobalLocalFilter and the backbone against mmpretrain, converters,
robustness, frozen stages, and the layer-wise lr decay."""

import re

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS

import mmlight.registration  # noqa: F401
from mmlight.converters import convert_state_dict
from mmlight.engine import LayerDecayOptimWrapperConstructor
from mmlight.models.layers import GlobalLocalFilter, gnConv
from mmlight.testing.references import MMPretrainHorNetLevels
from tests.helpers import HORNET_RECIPES, ROOT, assert_same_levels, run_tool

# the edit-loop tier: bash tools/run_tests.sh --quick
pytestmark = pytest.mark.quick


def build(**kwargs):
    return MODELS.build(dict(type='HorNet', **kwargs))


def randomize(module):
    """Non-trivial values everywhere (layer scales of 1e-6 would hide the branches; scales
    of a few hundredths keep the residual stream at a realistic size)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if 'gamma' in name:
                p.uniform_(0.02, 0.06)
            else:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if p.dim() == 1 else 0.0))


@pytest.mark.parametrize('order', [1, 2, 3, 5])
@pytest.mark.parametrize('mixer', ['dw', 'gf'])
def test_gnconv_equals_mmpretrain_gnconv(order, mixer):
    from mmpretrain.models.backbones.hornet import gnConv as ReferenceGnConv

    dim = 32
    ref_cfg = dict(type='DW', kernel_size=7) if mixer == 'dw' else dict(type='GF', h=6, w=4)
    ours_cfg = (
        dict(type='DWConv', kernel_size=7)
        if mixer == 'dw'
        else dict(type='GlobalLocalFilter', h=6, w=4)
    )
    reference = ReferenceGnConv(dim, order, ref_cfg, scale=1 / 3)
    randomize(reference)
    ours = gnConv(dim, order, ours_cfg, scale=1 / 3)
    ours.load_state_dict(reference.state_dict(), strict=True)
    assert ours.dims == [dim // 2**i for i in range(order)][::-1]
    for size in ((10, 6), (13, 17)):  # the GF weight is resized for the second
        x = torch.randn(2, dim, *size)
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)


def test_global_local_filter_interleaves_and_uses_float32_ffts():
    torch.manual_seed(0)
    gf = GlobalLocalFilter(8, h=5, w=3)
    randomize(gf)
    x = torch.randn(1, 8, 5, 4)
    with torch.no_grad():
        out = gf(x)
        normed = gf.pre_norm(x)
        local = gf.dw(normed[:, :4])
        glob = torch.fft.irfft2(
            torch.fft.rfft2(normed[:, 4:], norm='ortho') * torch.view_as_complex(gf.complex_weight),
            s=(5, 4),
            norm='ortho',
        )
        interleaved = torch.stack([local, glob], 2).reshape(1, 8, 5, 4)
    torch.testing.assert_close(out, gf.post_norm(interleaved), atol=1e-5, rtol=1e-5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert gf(x).dtype == torch.float32


@pytest.mark.parametrize('arch', ['tiny', 'tiny-gf'])
def test_mmpretrain_weights_give_mmpretrain_features(arch):
    # float32 with the official init (layer scales 1e-6): max abs diff <= 1e-5
    reference = MMPretrainHorNetLevels(arch)
    ours = build(arch=arch, out_norm=False)
    converted = convert_state_dict('hornet', reference.model.state_dict())
    ours.load_state_dict({k: v for k, v in converted.items() if not k.startswith('out_norms.')})
    x = torch.randn(1, 3, 96, 128)
    assert_same_levels(ours, reference, x)
    # weights that make every branch count: activations reach ~20, where float32 rounding
    # of the two LayerNorm formulas alone differs by ~1e-5; float64 shows the same function
    randomize(reference)
    converted = convert_state_dict('hornet', reference.model.state_dict())
    ours.load_state_dict({k: v for k, v in converted.items() if not k.startswith('out_norms.')})
    assert_same_levels(ours.double(), reference.double(), x.double())
    # with the per-level norms (mmpretrain's norm0..3) converted too, the normed outputs
    with_norms = build(arch=arch).double()
    with_norms.load_state_dict(converted)
    reference.model.eval()  # (mmpretrain's HorNet.train returns None, so no chaining)
    with torch.no_grad():
        for a, b in zip(with_norms.eval()(x.double()), reference.model(x.double()), strict=True):
            assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.slow
def test_official_checkpoint_converts_and_loads_without_the_detection_norms(tmp_path):
    torch.manual_seed(0)
    reference = MMPretrainHorNetLevels('tiny-gf')
    randomize(reference)
    official = {}
    for key, value in reference.model.state_dict().items():
        if key.startswith('norm'):
            continue  # mmpretrain's per-level norms; official checkpoints have norm + head
        key = key.replace('.gnconv.projs.', '.gnconv.pws.').replace('.weight', '.weight')
        key = key.replace('gamma1.weight', 'gamma1').replace('gamma2.weight', 'gamma2')
        official[key] = value
    assert 'stages.2.0.gnconv.pws.0.weight' in official
    assert 'stages.0.0.gamma1' in official
    official.update(
        {
            'norm.weight': torch.ones(512),
            'norm.bias': torch.zeros(512),
            'head.weight': torch.zeros(1000, 512),
            'head.bias': torch.zeros(1000),
        }
    )
    src, dst = str(tmp_path / 'hornet_tiny_gf.pth'), str(tmp_path / 'converted.pth')
    torch.save({'model': official, 'epoch': 300}, src)
    proc = run_tool(['tools/model_converters/convert.py', 'hornet', src, dst])
    assert proc.returncode == 0, proc.stderr
    ours = build(
        arch='tiny-gf', out_indices=(1, 2, 3), init_cfg=dict(type='Pretrained', checkpoint=dst)
    )
    ours.init_weights()  # strict, except for the detection-only norms
    plain = build(arch='tiny-gf', out_norm=False)
    plain.load_state_dict(torch.load(dst)['state_dict'])
    assert_same_levels(plain.double(), reference.double(), torch.randn(1, 3, 64, 64).double())
    own = dict(ours.named_parameters())
    torch.testing.assert_close(
        own['stages.2.3.gnconv.dwconv.complex_weight'],
        official['stages.2.3.gnconv.dwconv.complex_weight'],
    )
    bad = build(arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=dst))
    with pytest.raises((KeyError, ValueError), match='complex_weight|shape'):
        bad.init_weights()  # a GF checkpoint is not a 7x7 one


@pytest.mark.parametrize(
    ('arch', 'exact', 'paper'),
    [
        ('tiny', 22409512, 22.0),
        ('tiny-gf', 22991848, 23.0),
        ('small', 49528264, 50.0),
        ('small-gf', 50401768, 50.0),
    ],
)
def test_classification_param_counts(arch, exact, paper):
    model = build(arch=arch, out_norm=False)
    dim = model.level_channels[-1]
    count = sum(p.numel() for p in model.parameters()) + 2 * dim + dim * 1000 + 1000
    assert count == exact
    assert abs(count / 1e6 - paper) <= 0.5  # the paper's table rounds to 1M


@pytest.mark.parametrize('arch', ['tiny-gf'])  # the 7x7 archs: tests/test_backbone_contract.py
def test_odd_input_sizes_at_every_level(arch):
    model = build(arch=arch).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 333, 517))
    assert model.out_channels == [64, 128, 256, 512]
    assert [tuple(o.shape[-2:]) for o in outs] == [(83, 129), (41, 64), (20, 32), (10, 16)]
    assert all(torch.isfinite(o).all() for o in outs)


def test_mixed_precision_forward_backward_is_finite():
    model = build(arch='tiny-gf', drop_path_rate=0.1).train()
    x = torch.randn(2, 3, 96, 96)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
        loss = sum(o.float().pow(2).mean() for o in outs)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def _official_names(arch):
    """mmlight backbone parameter name -> the official detection backbone's name of it.

    The official rule reads only the first four name components (``downsample_layers.i``,
    ``stages.i.j``, ``norm{i}``), which mmpretrain's HorNet shares with the official one; the
    mmlight converter maps its keys to mmlight's (values pass through unchanged)."""
    from mmpretrain.models.backbones import HorNet as MMPretrainHorNet

    reference = MMPretrainHorNet(arch=arch, out_indices=(0, 1, 2, 3))
    names = [n for n, _ in reference.named_parameters()]
    return convert_state_dict('hornet', {n: n for n in names})


@pytest.mark.parametrize('config', sorted(HORNET_RECIPES))
def test_hornet_configs_are_the_official_recipe_with_the_official_layer_decay(config):
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from mmlight.testing.official_hornet import official_lr_scale_and_weight_decay

    arch, drop_path_rate, lr, decay_rate, num_layers = HORNET_RECIPES[config]
    cfg = Config.fromfile(f'{ROOT}/configs/{config}')
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.drop_path_rate == drop_path_rate
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.optim_wrapper.paramwise_cfg == dict(decay_rate=decay_rate, num_layers=num_layers)
    resize = cfg.train_dataloader.dataset.pipeline[3]
    assert resize.type == 'RandomChoice'
    assert len(resize.transforms) == 2
    assert [s[0] for s in resize.transforms[0][0].scales] == list(range(480, 801, 32))
    assert [t.type for t in resize.transforms[1]] == [
        'RandomChoiceResize',
        'RandomCrop',
        'RandomChoiceResize',
    ]
    assert resize.transforms[1][1].crop_size == (384, 600)

    cfg.model.backbone.init_cfg = None
    detector = MODELS.build(cfg.model)
    with DefaultScope.overwrite_default_scope('mmdet'):  # as the Runner builds it
        optimizer = build_optim_wrapper(detector, cfg.optim_wrapper).optimizer
    lr_of, wd_of = {}, {}
    for group in optimizer.param_groups:
        for p in group['params']:
            lr_of[id(p)], wd_of[id(p)] = group['lr'], group['weight_decay']
    official = _official_names(arch)
    backbone = [n for n, _ in detector.backbone.named_parameters()]
    assert sorted(official) == sorted(backbone)  # every backbone parameter has its official name
    seen_ids = set()
    for name, param in detector.named_parameters():
        official_name = (
            'backbone.' + official[name[len('backbone.') :]]
            if name.startswith('backbone.')
            else name
        )
        scale, weight_decay = official_lr_scale_and_weight_decay(
            official_name, param, cfg.optim_wrapper.paramwise_cfg, 0.05
        )
        assert lr_of[id(param)] == pytest.approx(lr * scale, rel=1e-12), name
        assert wd_of[id(param)] == weight_decay, name
        seen_ids.add(id(param))
    assert seen_ids == set(lr_of)
    if num_layers == 6:  # the official 1x quirk: stage 3 trains at decay_rate ** -5 x lr
        stage3 = dict(detector.named_parameters())['backbone.stages.3.0.pwconv1.weight']
        assert lr_of[id(stage3)] == pytest.approx(lr * 0.95**-5)


def test_layer_decay_rejects_bad_settings():
    detector = nn.Module()
    detector.backbone = build(arch='tiny')
    for paramwise_cfg, message in (
        (dict(decay_rate=1.5, num_layers=6), 'decay_rate must be'),
        (dict(decay_rate=0.9, num_layers=0), 'num_layers must be'),
    ):
        with pytest.raises(ValueError, match=message):
            LayerDecayOptimWrapperConstructor(
                dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)),
                paramwise_cfg=paramwise_cfg,
            )(detector)


@pytest.mark.parametrize(
    ('build_bad', 'message'),
    [
        (lambda: build(arch='huge'), "valid choices: ['tiny', 'tiny-gf', 'small'"),
        (lambda: build(out_indices=(4,)), 'valid levels: [0, 1, 2, 3]'),
        (lambda: gnConv(32, order=0), 'order must be an integer >= 1'),
        (lambda: gnConv(20, order=4), 'divisible by 2^(order-1) = 8'),
        (
            lambda: gnConv(32, mixer=dict(type='Conv')),
            "valid choices: ['DWConv', 'GlobalLocalFilter']",
        ),
        (lambda: GlobalLocalFilter(7), 'even number of channels'),
    ],
)
def test_bad_settings_name_the_valid_choices(build_bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build_bad()


@pytest.mark.quick
def test_a_dynamic_export_keeps_hornets_size_facts_as_run_time_checks_at_once(monkeypatch):
    """torch.export cannot prove HorNet's reshapes of padded maps for every size, nor the sizes
    of a stride-128 level that is one row high at the smallest size (RetinaNet's): their
    dynamic exports ask for Dim.DYNAMIC sizes in their only call, while another detector's
    asks for the named, fully checked dims first."""
    from mmlight.apis import init_detector
    from mmlight.deployment import DeployableDetector
    from mmlight.deployment.export import _export_program

    calls = []

    def record(model, example, dynamic_shapes=None, strict=True):
        calls.append(dynamic_shapes['image'])
        return 'program'

    monkeypatch.setattr(torch.export, 'export', record)
    example = (torch.rand(1, 3, 128, 160),)
    for config, hint in (
        ('mask_rcnn_hornet-t_fpn_1x', True),
        ('retinanet_ghostnet_fpn_1x', True),
        ('faster_rcnn_ghostnet_fpn_1x', False),
    ):
        detector = init_detector(f'{ROOT}/configs/{config}.py')
        calls.clear()
        assert _export_program(DeployableDetector(detector), example, True) == 'program'
        assert len(calls) == 1, config
        dims = (calls[0][2], calls[0][3])
        assert all(isinstance(d, torch.export.dynamic_shapes._DimHint) is hint for d in dims), dims
