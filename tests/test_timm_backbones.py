"""Backbones built by timm (mmlight.models.backbones.timm_backbone): the same features as timm's
own ``forward_intermediates`` with the same weights, at odd input sizes, for every registered
family and a sample of other timm models; the models that cannot serve are refused with what
they lack; reparameterized features equal the unfused ones, and the export folds the branches
and gives mmdet's detections; timm's version range is checked.
The shared contract (out_indices, frozen_stages, norm_eval, with_cp, Pretrained loading) is
tests/test_backbone_contract.py's, over every registered type, these among them."""

import subprocess
import sys

import pytest
import timm
import torch
from mmdet.registry import MODELS

import mmlight.registration  # noqa: F401
from mmlight.models.backbones import timm_backbone
from mmlight.models.backbones.timm_backbone import TimmBackbone, TimmModelRefused
from tests.helpers import ROOT, randomize_norm_statistics

# (mmlight config, timm model): the smallest variant of each registered family, MobileNetV4's
# hybrid (attention blocks), and other timm families through TimmBackbone. FasterNet's and
# FastViT's detection backbones put a new BatchNorm on each output (their official detection
# code; tested below): here without them, timm's features as they are
BACKBONES = [
    (dict(type='MobileNetV4', arch='conv_small'), 'mobilenetv4_conv_small'),
    (dict(type='MobileNetV4', arch='hybrid_medium'), 'mobilenetv4_hybrid_medium'),
    (dict(type='RepViT', arch='m0_9'), 'repvit_m0_9'),
    (dict(type='FasterNet', arch='t0', output_norms=False), 'fasternet_t0'),
    (dict(type='StarNet', arch='s050'), 'starnet_s050'),
    (dict(type='FastViT', arch='t8', output_norms=False), 'fastvit_t8'),
    (dict(type='TimmBackbone', model_name='efficientvit_b0'), 'efficientvit_b0'),
    (dict(type='TimmBackbone', model_name='ghostnetv3_050'), 'ghostnetv3_050'),
    (dict(type='TimmBackbone', model_name='convnext_atto'), 'convnext_atto'),
    (dict(type='TimmBackbone', model_name='resnet18'), 'resnet18'),
]


@pytest.mark.quick
@pytest.mark.parametrize(('cfg', 'timm_name'), BACKBONES, ids=[name for _, name in BACKBONES])
@torch.no_grad()
def test_features_equal_timms_forward_intermediates_with_the_same_weights(cfg, timm_name):
    torch.manual_seed(0)
    reference = timm.create_model(timm_name, pretrained=False).eval()
    randomize_norm_statistics(reference, seed=1)
    levels = len(MODELS.build(cfg).levels)
    ours = MODELS.build(dict(cfg, out_indices=tuple(range(levels)))).eval()
    converted = ours.convert_timm_state_dict(reference.state_dict())
    ours.load_state_dict(converted, strict=True)
    # timm's levels are the modules its feature_info names; MobileNetV4's level 3 (the stage
    # before the final expansion) is not among them and is taken from timm's own forward
    names = {entry['module']: i for i, entry in enumerate(reference.feature_info)}
    level_modules = [
        ours.timm_prefixes[f'stages.{level}.{len(stage) - 1}']
        for level, stage in enumerate(ours.stages)
    ]
    hooked = {}
    hook = reference.get_submodule(level_modules[3]).register_forward_hook(
        lambda _m, _i, out: hooked.setdefault('level3', out)
    )
    for size in ((67, 45), (96, 128)):
        hooked.clear()
        image = torch.randn(1, 3, *size)
        theirs = reference.forward_intermediates(
            image,
            indices=[names[m] for m in level_modules if m in names],
            intermediates_only=True,
        )
        expected = iter(theirs)
        outs = ours(image)
        assert len(outs) == levels
        for level, (module, out) in enumerate(zip(level_modules, outs, strict=True)):
            want = next(expected) if module in names else hooked['level3']
            assert out.shape == want.shape, (level, size)
            assert torch.equal(out, want), (level, size)
    hook.remove()


@pytest.mark.quick
@pytest.mark.parametrize(
    ('model_name', 'lacks'),
    [
        ('vit_tiny_patch16_224', r'no features at stride 4 \(it has strides \[16\]'),
        ('efficientformerv2_s0', 'does not run at input sizes other than the one it is built for'),
        ('swin_tiny_patch4_window7_224', 'does not run at input sizes other than'),
    ],
)
def test_a_model_that_cannot_serve_is_refused_with_what_it_lacks(model_name, lacks):
    with pytest.raises(TimmModelRefused, match=lacks) as info:
        TimmBackbone(model_name)
    message = str(info.value)
    assert message.startswith(f'timm model {model_name!r} cannot serve as a detection backbone:')
    assert '\n' not in message


@pytest.mark.quick
def test_bad_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"model_name must be a timm model name .*got 'resnet_7'"):
        TimmBackbone('resnet_7')
    with pytest.raises(ValueError, match=r"arch 'm9' is not supported; valid choices: \['m0_9'"):
        MODELS.build(dict(type='RepViT', arch='m9'))


@pytest.mark.quick
@pytest.mark.parametrize('version', ['1.0.30', '1.1.0', '2.0.0.dev0'])
def test_timm_outside_the_checked_range_is_refused_with_the_install_line(version):
    with pytest.raises(ImportError, match=r"found timm .*pip install 'timm>=1\.0\.31,<1\.1'"):
        timm_backbone.check_timm_version(version)


@pytest.mark.quick
@pytest.mark.parametrize('version', ['1.0.31', '1.0.40', '1.0.32.dev0'])
def test_timm_inside_the_checked_range_is_accepted(version):
    timm_backbone.check_timm_version(version)


@pytest.mark.quick
def test_the_installed_timm_and_the_packages_extra_are_the_checked_range():
    import tomllib

    timm_backbone.check_timm_version(timm.__version__)
    with open(f'{ROOT}/pyproject.toml', 'rb') as f:
        extras = tomllib.load(f)['project']['optional-dependencies']
    low, high = timm_backbone.TIMM_VERSIONS
    assert extras['timm'] == [f'timm>={low},<{high}']


@pytest.mark.quick
@pytest.mark.parametrize('cfg', [dict(type='RepViT', arch='m0_9'), dict(type='FastViT', arch='t8')])
@torch.no_grad()
def test_reparameterized_features_equal_the_unfused_ones(cfg):
    """Folding a norm or a branch into a convolution changes the order of the float operations
    (one convolution with summed weights instead of a convolution, a norm and a sum), so the
    features agree up to float32 rounding, which grows with depth: within 1e-4 of each level's
    largest magnitude. A branch left out or a norm folded wrongly is off by far more."""
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, out_indices=(0, 1, 2, 3))).eval()
    randomize_norm_statistics(model, seed=1)
    image = torch.randn(1, 3, 67, 45)
    unfused = model(image)
    parameters = sum(p.numel() for p in model.parameters())
    model.reparameterize()
    assert sum(p.numel() for p in model.parameters()) < parameters
    fused = model(image)
    for before, after in zip(unfused, fused, strict=True):
        scale = before.abs().max().item()
        torch.testing.assert_close(after, before, rtol=0, atol=1e-4 * scale)


@pytest.mark.slow
def test_importing_mmlight_does_not_import_timm():
    proc = subprocess.run(
        [
            sys.executable,
            '-c',
            'import sys; import mmlight.registration; print("timm" in sys.modules)',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == 'False'


def fusable(backbone):
    """The layers of ``backbone`` that timm can still fold (``fuse``, ``reparameterize``)."""
    return [
        m
        for m in backbone.modules()
        if m is not backbone and (hasattr(m, 'fuse') or hasattr(m, 'reparameterize'))
    ]


def test_the_export_folds_the_branches_and_gives_mmdets_detections(demo_root, tmp_path):
    """A RetinaNet on RepViT: the deployable copy has its backbone reparameterized (the
    detector given is not), and the exported graph in onnxruntime gives mmdet's detections of
    the unfused detector (up to the near-ties mmlight.testing.parity accepts)."""
    from mmlight.deployment import DeployableDetector
    from mmlight.deployment.backends import load_runner
    from mmlight.deployment.export import export_onnx
    from mmlight.testing.mmdet_parity import assert_same_as_mmdet
    from tests.deployment_helpers import (
        SIZES,
        demo_images,
        mmdet_detector_cfg,
        tiny_detector_from_cfg,
    )

    cfg = mmdet_detector_cfg('retinanet')
    cfg.model.backbone = dict(type='RepViT', arch='m0_9', out_indices=(1, 2, 3))
    cfg.model.neck.in_channels = [96, 192, 384]
    detector = tiny_detector_from_cfg(cfg, demo_root, drop_blocks=False)
    branches = len(fusable(detector.backbone))
    assert branches > 0
    deployable = DeployableDetector(detector)
    assert fusable(deployable.detector.backbone) == []
    assert len(fusable(detector.backbone)) == branches
    # asked not to fold (the benchmark's CONFIG:unfolded rows), it keeps every branch
    unfolded = DeployableDetector(detector, reparameterize=False)
    assert len(fusable(unfolded.detector.backbone)) == branches
    onnx_file = export_onnx(detector, str(tmp_path / 'detector.onnx'), SIZES[0])
    session = load_runner('onnxruntime', onnx_file)
    image = demo_images(demo_root)[0]
    assert_same_as_mmdet(detector, image, session(image[None].float()))


@pytest.mark.quick
@torch.no_grad()
def test_repvit_gives_the_official_detection_backbones_features_with_the_same_weights():
    """THU-MIG/RepViT's detection backbone (mmlight/testing/official_repvit, the code of the
    paper's Mask R-CNN numbers) outputs blocks 2, 6, 20 and 24 for M1.1 (its config
    mask_rcnn_repvit_m1_1_fpn_1x_coco.py). timm's RepViT moves the block before each
    downsampling into the next stage (``RepVitDownsample.pre_block``), so those are timm's
    stage ends, mmlight's levels 0-3. The official weights go to timm's keys in order (the same
    tensors, in the same order and shapes), then to mmlight's by convert_timm_state_dict."""
    from mmlight.testing.official_repvit import repvit_m1_1

    torch.manual_seed(0)
    official = repvit_m1_1(out_indices=[2, 6, 20, 24])
    official.eval()  # the official train() returns None: no chaining
    randomize_norm_statistics(official, seed=1)
    timm_keys = [
        key for key in timm.create_model('repvit_m1_1').state_dict() if not key.startswith('head')
    ]
    official_state = official.state_dict()
    assert len(timm_keys) == len(official_state)
    as_timm = dict(zip(timm_keys, official_state.values(), strict=True))
    ours = MODELS.build(dict(type='RepViT', arch='m1_1')).eval()
    ours.load_state_dict(ours.convert_timm_state_dict(as_timm), strict=True)
    for size in ((67, 45), (96, 128)):
        image = torch.randn(1, 3, *size)
        expected = official(image)
        found = ours(image)
        assert len(found) == len(expected) == 4
        for level, (got, want) in enumerate(zip(found, expected, strict=True)):
            assert got.shape == want.shape, (level, size)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=f'level {level}')


def _fastvit_official_and_ours(arch):
    """apple/ml-fastvit's fork_feat model (mmlight/testing/official_fastvit) with random
    weights, and mmlight's FastViT with the same: the official keys go to timm's by timm's own
    checkpoint_filter_fn, then to mmlight's; the official output norms (norm0/2/4/6) are
    mmlight's out_norms 0-3."""
    from timm.models.fastvit import checkpoint_filter_fn

    from mmlight.testing import official_fastvit

    torch.manual_seed(0)
    official = getattr(official_fastvit, f'fastvit_{arch}')(fork_feat=True).eval()
    randomize_norm_statistics(official, seed=1)
    # layer scales start at 1e-5, which would hide what a block adds: make them count
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, param in official.named_parameters():
            if 'layer_scale' in name:
                param.copy_(torch.rand(param.shape, generator=generator) * 0.5 + 0.25)
    state = official.state_dict()
    ours = MODELS.build(dict(type='FastViT', arch=arch)).eval()
    body = {k: v for k, v in state.items() if not k.startswith('norm')}
    converted = ours.checkpoint_filter(
        checkpoint_filter_fn(body, timm.create_model(f'fastvit_{arch}'))
    )
    for level, index in enumerate(official.out_indices):
        prefix = f'norm{index}.'
        converted.update(
            {
                f'out_norms.{level}.{k[len(prefix) :]}': v
                for k, v in state.items()
                if k.startswith(prefix)
            }
        )
    ours.load_state_dict(converted, strict=True)
    return official, ours


@torch.no_grad()
def test_fastvit_gives_the_official_fork_feat_features_with_the_same_weights():
    """FastViT-T8, levels 0-3 with their output norms, equal apple/ml-fastvit's detection
    backbone exactly."""
    official, ours = _fastvit_official_and_ours('t8')
    image = torch.randn(1, 3, 67, 45)
    for level, (a, b) in enumerate(zip(ours(image), official(image), strict=True)):
        assert torch.equal(a, b), level


@torch.no_grad()
def test_fastvit_sa_level_3_is_after_its_attention_stage_not_its_positional_embedding():
    """In the SA variants the official fork_feat model's list of modules has the positional
    embedding (RepCPE) before stage 3, so its out_indices [0, 2, 4, 6] take level 3 after the
    embedding and never run stage 3's attention blocks. mmlight takes level 3 after stage 3
    (timm's feature, the network's last stage); levels 0-2 are the official ones exactly."""
    official, ours = _fastvit_official_and_ours('sa12')
    image = torch.randn(1, 3, 67, 45)
    captured = {}
    stage3 = ours.stages[3][0]
    hook = stage3.pos_emb.register_forward_hook(lambda _m, _i, out: captured.setdefault('x', out))
    theirs, mine = official(image), ours(image)
    hook.remove()
    for level in range(3):
        assert torch.equal(mine[level], theirs[level]), level
    assert torch.equal(ours.out_norms['3'](captured['x']), theirs[3])
    assert not torch.allclose(mine[3], theirs[3], atol=1e-2)


@pytest.mark.quick
@torch.no_grad()
def test_any_timm_backbone_loads_timms_own_file_of_its_model(tmp_path):
    """A Pretrained checkpoint that is timm's file of the model (safetensors, or a .pth of
    its state_dict) is converted on load, for a model mmlight does not register by name; a
    file of another model is a strict-load error that names what does not fit."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    reference = timm.create_model('convnext_atto', pretrained=False).eval()
    randomize_norm_statistics(reference, seed=1)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(state, str(tmp_path / 'convnext_atto.safetensors'))
    torch.save(state, str(tmp_path / 'convnext_atto.pth'))
    image = torch.randn(1, 3, 67, 45)
    expected = reference.forward_intermediates(image, intermediates_only=True)
    for name in ('convnext_atto.safetensors', 'convnext_atto.pth'):
        backbone = TimmBackbone(
            'convnext_atto', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / name))
        )
        backbone.init_weights()
        for ours, theirs in zip(backbone.eval()(image), expected, strict=True):
            assert torch.equal(ours, theirs), name
    other = TimmBackbone(
        'resnet18',
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'convnext_atto.pth')),
    )
    with pytest.raises(KeyError, match='does not match TimmBackbone: missing'):
        other.init_weights()
