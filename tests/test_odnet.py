"""OD-ResNet and OD-MobileNetV2: structure, weights, contract, and the temperature hook."""

import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmlight.registration  # noqa: F401
from mmlight.converters import convert_state_dict
from mmlight.engine import ODConvTemperatureHook
from mmlight.models.layers import ODConv2d
from mmlight.testing.references import (
    OfficialODMobileNetV2Levels,
    OfficialODResNetLevels,
    TorchvisionMobileNetV2Levels,
    TorchvisionResNetLevels,
)
from mmlight.utils.safe_load import safe_checkpoint_loading
from tests.helpers import ROOT, assert_same_levels, randomize_norm_statistics, run_tool


def build(type_name, **kwargs):
    return MODELS.build(dict(type=type_name, **kwargs))


def classifier_params_m(backbone, head_in):
    return (sum(p.numel() for p in backbone.parameters()) + head_in * 1000 + 1000) / 1e6


@pytest.mark.parametrize(
    ('depth', 'kernel_num', 'expected'),
    [
        (18, 1, 11.94),
        (18, 4, 44.90),
        (50, 1, 28.64),
        (50, 4, 90.67),
        (101, 1, 50.82),
        (50, None, 25.56),
    ],
)
def test_odresnet_param_counts_match_the_paper(depth, kernel_num, expected):
    od_cfg = None if kernel_num is None else dict(kernel_num=kernel_num, reduction=0.0625)
    model = build('ODResNet', depth=depth, od_cfg=od_cfg)
    assert classifier_params_m(model, model.level_channels[-1]) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(('kernel_num', 'expected'), [(1, 4.94), (4, 11.51), (None, 3.50)])
def test_odmobilenetv2_param_counts_match_the_paper(kernel_num, expected):
    od_cfg = None if kernel_num is None else dict(kernel_num=kernel_num)
    model = build('ODMobileNetV2', od_cfg=od_cfg, out_indices=(0, 1, 2, 3, 4))
    assert classifier_params_m(model, 1280) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(('name', 'depth'), [('resnet18', 18), ('resnet50', 50)])
def test_plain_odresnet_with_torchvision_weights_is_torchvision_resnet(name, depth):
    torch.manual_seed(0)
    reference = TorchvisionResNetLevels(name)
    randomize_norm_statistics(reference)
    ours = build('ODResNet', depth=depth, od_cfg=None)
    ours.load_state_dict(convert_state_dict('odresnet', reference.model.state_dict()))
    assert_same_levels(ours, reference, torch.randn(2, 3, 67, 91))


@pytest.mark.parametrize('width', [1.0, 0.5])
def test_plain_odmobilenetv2_with_torchvision_weights_is_torchvision_mobilenetv2(width):
    torch.manual_seed(0)
    reference = TorchvisionMobileNetV2Levels(width, out_indices=(0, 1, 2, 3, 4))
    randomize_norm_statistics(reference)
    ours = build('ODMobileNetV2', widen_factor=width, od_cfg=None, out_indices=(0, 1, 2, 3, 4))
    ours.load_state_dict(convert_state_dict('odmobilenetv2', reference.model.state_dict()))
    assert_same_levels(ours, reference, torch.randn(2, 3, 67, 91))
    with torch.no_grad():  # the taps feed torchvision's own classifier
        x = torch.randn(1, 3, 64, 64)
        pooled = ours(x)[-1].mean((2, 3))
        torch.testing.assert_close(reference.model.classifier(pooled), reference.model(x))


def _convert_official_with_cli(tmp_path, family, official_model):
    """The official network's own state_dict, saved the way the official main.py saves it
    (DistributedDataParallel's 'module.' keys), converted by the command line tool."""
    src, dst = str(tmp_path / 'official.pth.tar'), str(tmp_path / 'converted.pth')
    torch.save(
        {
            'epoch': 100,
            'state_dict': {'module.' + k: v for k, v in official_model.state_dict().items()},
            'best_acc': torch.tensor(77.0),
        },
        src,
    )
    proc = run_tool(['tools/model_converters/convert.py', family, src, dst])
    assert proc.returncode == 0, proc.stderr
    return dst


@pytest.mark.parametrize(('depth', 'kernel_num'), [(18, 4), (50, 1)])
def test_official_od_resnet_converts_and_gives_the_official_features(tmp_path, depth, kernel_num):
    torch.manual_seed(0)
    reference = OfficialODResNetLevels(depth, kernel_num).eval()
    randomize_norm_statistics(reference)
    converted = _convert_official_with_cli(tmp_path, 'odresnet', reference.model)
    model = build(
        'ODResNet',
        depth=depth,
        od_cfg=dict(kernel_num=kernel_num),
        init_cfg=dict(type='Pretrained', checkpoint=converted),
    )
    model.init_weights()  # strict
    assert isinstance(model.stages[2][0].downsample[0], nn.Conv2d)  # shortcuts stay plain
    assert not isinstance(model.stem[0], ODConv2d)
    assert len(model.out_indices) == 4
    assert_same_levels(model, reference, torch.randn(2, 3, 67, 91))


@pytest.mark.parametrize('kernel_num', [1, 4])
def test_official_od_mobilenetv2_converts_and_gives_the_official_features(tmp_path, kernel_num):
    torch.manual_seed(0)
    reference = OfficialODMobileNetV2Levels(1.0, kernel_num, out_indices=(0, 1, 2, 3, 4)).eval()
    randomize_norm_statistics(reference)
    converted = _convert_official_with_cli(tmp_path, 'odmobilenetv2', reference.model)
    model = build(
        'ODMobileNetV2',
        od_cfg=dict(kernel_num=kernel_num),
        out_indices=(0, 1, 2, 3, 4),
        init_cfg=dict(type='Pretrained', checkpoint=converted),
    )
    model.init_weights()  # strict
    assert len(model.out_indices) == 5
    assert_same_levels(model, reference, torch.randn(2, 3, 67, 91))


@pytest.mark.parametrize(
    ('type_name', 'kwargs', 'channels'),
    [
        ('ODResNet', dict(depth=18, od_cfg=dict(kernel_num=4)), [64, 128, 256, 512]),
        (
            'ODMobileNetV2',
            dict(od_cfg=dict(kernel_num=4), out_indices=(0, 1, 2, 3, 4)),
            [24, 32, 96, 320, 1280],
        ),
        ('ODMobileNetV2', dict(widen_factor=0.75), [24, 24, 72, 1280]),
    ],
)
def test_levels_at_odd_sizes_and_every_parameter_gets_a_gradient(type_name, kwargs, channels):
    model = build(type_name, **kwargs).train()
    assert model.out_channels == channels
    outs = model(torch.randn(2, 3, 111, 173))
    strides = [(4, 8, 16, 32, 32)[i] for i in model.out_indices]
    assert [o.shape[1] for o in outs] == channels
    assert [tuple(o.shape[-2:]) for o in outs] == [
        ((111 - 1) // s + 1, (173 - 1) // s + 1) for s in strides
    ]
    sum(o.mean() for o in outs).backward()
    # DDP without find_unused_parameters: no trainable parameter may be left without a grad
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_batch_one_training_step_works():
    model = build('ODResNet', depth=18, od_cfg=dict(kernel_num=4)).train()
    outs = model(torch.randn(1, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('sync', ['norm_cfg', 'convert_sync_batchnorm'])
def test_sync_batchnorm_keeps_the_batch_one_guard_of_the_attention(sync):
    from mmengine.model import convert_sync_batchnorm

    kwargs = dict(depth=18, od_cfg=dict(kernel_num=4))
    if sync == 'norm_cfg':
        kwargs['norm_cfg'] = dict(type='SyncBN', requires_grad=True)
    model = build('ODResNet', **kwargs)
    if sync == 'convert_sync_batchnorm':  # what mmengine's sync_bn='torch' does
        model = convert_sync_batchnorm(model)
        assert isinstance(model.stages[0][0].conv1.attention.bn, nn.SyncBatchNorm)
    assert any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    attention_norms = [m for n, m in model.named_modules() if n.endswith('attention.bn')]
    for norm in attention_norms:
        norm.running_mean.uniform_(-1, 1)
    before = [m.running_mean.clone() for m in attention_norms]
    model.train()
    outs = model(torch.randn(1, 3, 64, 64))  # batch 1: a plain SyncBatchNorm raises here
    sum(o.mean() for o in outs).backward()
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, attention_norms, strict=True))
    model(torch.randn(2, 3, 64, 64))  # batch 2: batch statistics, as the paper
    assert not any(
        torch.equal(a, m.running_mean) for a, m in zip(before, attention_norms, strict=True)
    )


def test_frozen_stages_and_norm_eval_cover_the_attention():
    model = build(
        'ODResNet', depth=18, od_cfg=dict(kernel_num=4), frozen_stages=2, norm_eval=True
    ).train()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = {
        n for n, _ in model.named_parameters() if n.startswith(('stem.', 'stages.0.', 'stages.1.'))
    }
    assert frozen == expected
    assert any('attention' in n for n in frozen)
    attention_norms = [m for n, m in model.named_modules() if n.endswith('attention.bn')]
    assert attention_norms
    assert not any(m.training for m in attention_norms)
    trainable = build('ODResNet', depth=18, od_cfg=dict(kernel_num=4)).train()
    assert all(m.training for n, m in trainable.named_modules() if n.endswith('attention.bn'))


@pytest.mark.parametrize(
    ('type_name', 'kwargs', 'message'),
    [
        ('ODResNet', dict(depth=42), 'valid choices: [18, 34, 50, 101]'),
        ('ODResNet', dict(out_indices=(0, 4)), 'valid levels: [0, 1, 2, 3]'),
        ('ODResNet', dict(od_cfg=dict(kernel_num=0)), 'kernel_num must be an integer >= 1'),
        ('ODResNet', dict(od_cfg=dict(reduction=0)), 'reduction must be a number > 0'),
        ('ODResNet', dict(od_cfg='4x'), 'od_cfg must be a dict'),
        ('ODMobileNetV2', dict(widen_factor=1.4), 'valid choices: [0.5, 0.75, 1.0]'),
        ('ODMobileNetV2', dict(out_indices=(5,)), 'valid levels: [0, 1, 2, 3, 4]'),
    ],
)
def test_bad_settings_name_the_valid_choices(type_name, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build(type_name, **kwargs)


class _ToyODConvModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.conv = ODConv2d(3, 4, 3, padding=1, kernel_num=2, min_channels=4)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if self.training:
            self.seen.append(self.conv.temperature)
        out = self.conv(inputs).mean()
        return dict(loss=out**2) if mode == 'loss' else out


def _runner(work_dir, max_iters, resume_from=None):
    dataset = [dict(inputs=torch.randn(3, 8, 8)) for _ in range(4)]
    loader = dict(
        dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        collate_fn=dict(type='default_collate'),
    )
    return Runner(
        model=_ToyODConvModel(),
        work_dir=work_dir,
        train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=[dict(type='ODConvTemperatureHook', anneal_iters=5)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False)),
        default_scope='mmdet',
        load_from=resume_from,
        resume=resume_from is not None,
        log_level='WARNING',
    )


def test_temperature_hook_anneals_linearly_then_holds_and_resumes(tmp_path):
    expected = [30.0, 24.2, 18.4, 12.6, 6.8, 1.0, 1.0, 1.0]
    runner = _runner(str(tmp_path / 'full'), 8)
    runner.train()
    assert runner.model.seen == pytest.approx(expected)
    resumed = _runner(str(tmp_path / 'full'), 8, osp.join(str(tmp_path / 'full'), 'iter_3.pth'))
    with safe_checkpoint_loading():  # mmengine's checkpoint, weights_only with the allow-list
        resumed.train()
    assert resumed.model.seen == pytest.approx(expected[3:])


def test_temperature_hook_in_epochs_and_its_errors():
    hook = ODConvTemperatureHook(anneal_epochs=2)
    assert hook.total_iters(SimpleNamespace(train_dataloader=[0] * 7)) == 14
    assert hook.temperature_at(0, 14) == 30
    assert hook.temperature_at(7, 14) == 15.5
    with pytest.raises(ValueError, match='exactly one of anneal_iters and anneal_epochs'):
        ODConvTemperatureHook()
    with pytest.raises(ValueError, match='exactly one'):
        ODConvTemperatureHook(anneal_iters=3, anneal_epochs=1)
    with pytest.raises(ValueError, match='the annealing length must be a number > 0, got 0'):
        ODConvTemperatureHook(anneal_iters=0)
    runner = SimpleNamespace(model=nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match='has no ODConv2d'):
        hook.before_train(runner)


def test_odconv_configs_default_to_temperature_one():
    from mmengine.config import Config

    for name in (
        'faster_rcnn_odconv_r50_fpn_1x.py',
        'mask_rcnn_odconv4x_r50_fpn_1x.py',
        'faster_rcnn_odconv_mobilenetv2_fpn_1x.py',
    ):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
        assert not any(h['type'] == 'ODConvTemperatureHook' for h in cfg.get('custom_hooks', [])), (
            name
        )
        backbone = dict(cfg.model.backbone, init_cfg=None)
        backbone.pop('_delete_', None)
        model = build(**dict(backbone, type_name=backbone.pop('type')))
        temperatures = {m.temperature for m in model.modules() if isinstance(m, ODConv2d)}
        assert temperatures == {1.0}, name
