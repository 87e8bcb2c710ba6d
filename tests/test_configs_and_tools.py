"""Configs, tools and the training/evaluation machinery, on the embedded demo data."""

import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmlight.registration  # noqa: F401
from mmlight.apis import config_names
from tests.helpers import (
    HORNET_RECIPES,
    ROOT,
    RecordMetrics,
    free_port,
    mmdet_config,
    run_tool,
    tiny_config,
)

CONFIGS = [osp.join('configs', name + '.py') for name in config_names(recursive=True)]


def test_demo_data_is_deterministic_coco_with_masks_and_crowds(tmp_path, demo_root):
    from mmlight.demo_data import generate

    root = str(tmp_path / 'again')
    generate(root, num_train=16, num_val=8, size=96, seed=0)
    for split in ('train', 'val'):
        with open(osp.join(demo_root, f'annotations/instances_{split}.json')) as f:
            first = json.load(f)
        with open(osp.join(root, f'annotations/instances_{split}.json')) as f:
            assert json.load(f) == first
        anns = first['annotations']
        assert {c['name'] for c in first['categories']} == {'circle', 'square', 'triangle'}
        crowds = [a for a in anns if a['iscrowd']]
        assert crowds
        assert all(isinstance(a['segmentation'], dict) for a in crowds)
        polygons = [a for a in anns if not a['iscrowd']]
        assert all(
            isinstance(a['segmentation'], list) and len(a['segmentation'][0]) >= 6 for a in polygons
        )
        areas = [a['bbox'][2] * a['bbox'][3] for a in polygons]
        assert max(areas) > 4 * min(areas)  # several scales
    from pycocotools.coco import COCO

    coco = COCO(osp.join(demo_root, 'annotations/instances_train.json'))
    ann = coco.loadAnns(coco.getAnnIds())[0]
    mask = coco.annToMask(ann)
    assert abs(int(mask.sum()) - ann['area']) <= 0.2 * ann['area']
    assert not generate(root, num_train=16, num_val=8, size=96, seed=0)  # idempotent


# A Mask R-CNN config whose Faster R-CNN sibling (same backbone) trains below is checked as
# "the sibling plus masks" (test_mask_rcnn_configs_are_their_faster_rcnn_sibling_plus_masks)
# instead of training it too, to keep the suite within its time; one of them trains to cover
# the mask path, and the mask-only configs (HorNet-GF) train.
MASK_WITH_SIBLING = [
    c
    for c in CONFIGS
    if osp.basename(c).startswith('mask_rcnn_')
    and c.replace('mask_rcnn_', 'faster_rcnn_') in CONFIGS
]
TRAINED = [
    c
    for c in CONFIGS
    if c not in MASK_WITH_SIBLING or osp.basename(c) == 'mask_rcnn_shufflenetv2_fpn_1x.py'
]


@pytest.mark.parametrize('config', TRAINED)
def test_every_config_trains_one_iteration_and_evaluates(config, demo_root, tmp_path):
    cfg = tiny_config(
        Config.fromfile(osp.join(ROOT, config)), demo_root, str(tmp_path), save_checkpoint=False
    )
    runner = Runner.from_cfg(cfg)
    recorder = RecordMetrics()
    runner.register_hook(recorder)
    runner.train()
    assert len(recorder.losses) == 1
    losses = next(iter(recorder.losses.values()))
    assert np.isfinite(losses['loss'])
    assert recorder.metrics is not None
    assert 'coco/bbox_mAP' in recorder.metrics
    if osp.basename(config).startswith('mask_rcnn_'):
        assert 'mask_head' in cfg.model.roi_head
        assert 'coco/segm_mAP' in recorder.metrics


@pytest.mark.parametrize('config', MASK_WITH_SIBLING)
def test_mask_rcnn_configs_are_their_faster_rcnn_sibling_plus_masks(config):
    mask = Config.fromfile(osp.join(ROOT, config))
    faster = Config.fromfile(osp.join(ROOT, config.replace('mask_rcnn_', 'faster_rcnn_')))
    for key in ('backbone', 'neck', 'rpn_head'):
        assert mask.model[key] == faster.model[key], key
    # mmdet's Mask R-CNN base adds mask padding (and its own R-CNN sampling settings)
    assert {
        k: v for k, v in mask.model.data_preprocessor.items() if k != 'pad_mask'
    } == faster.model.data_preprocessor
    assert mask.model.train_cfg.rpn == faster.model.train_cfg.rpn
    assert mask.model.test_cfg.rpn == faster.model.test_cfg.rpn
    assert mask.model.roi_head.bbox_head == faster.model.roi_head.bbox_head
    assert mask.model.roi_head.mask_head.type == 'FCNMaskHead'
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert mask[key] == faster[key], key
    assert mask.train_dataloader.batch_size == faster.train_dataloader.batch_size
    loads = [t for t in mask.train_dataloader.dataset.pipeline if t.type == 'LoadAnnotations']
    assert loads
    assert loads[0].with_mask
    evaluators = (
        mask.val_evaluator if isinstance(mask.val_evaluator, list) else [mask.val_evaluator]
    )
    assert any('segm' in e.metric for e in evaluators)


# What each COCO config must train with; a wrong value in a config fails here.
# mmdet's 1x (faster_rcnn/mask_rcnn r50 fpn 1x): SGD lr 0.02 for 2 images x 8 GPUs, weight
# decay 1e-4, 500-iteration linear warm-up from 0.001, steps at epochs 8 and 11 of 12.
MMDET_1X = dict(
    optimizer='SGD',
    lr=0.02,
    weight_decay=1e-4,
    batch_size=2,
    max_epochs=12,
    warmup_iters=500,
    warmup_factor=0.001,
    clip_grad=None,
    decay=dict(type='MultiStepLR', milestones=[8, 11], gamma=0.1),
)
# mmdet's retinanet_r50_fpn_1x_coco: the 1x schedule at lr 0.01
RETINANET_1X = dict(MMDET_1X, lr=0.01)
# mmdet's rtmdet_tiny_8xb32-300e_coco: AdamW 0.004 for 32 images x 8, 300 epochs, 1000-iteration
# warm-up from 1e-5, cosine decay to 5% over epochs 150-300
RTMDET_TINY = dict(
    optimizer='AdamW',
    lr=0.004,
    weight_decay=0.05,
    batch_size=32,
    max_epochs=300,
    warmup_iters=1000,
    warmup_factor=1e-5,
    clip_grad=None,
    decay=dict(type='CosineAnnealingLR', begin=150, end=300, T_max=150, eta_min=0.004 * 0.05),
)
# mmdet's yolov3_mobilenetv2_8xb24-ms-416-300e_coco (the YOLO configs' recipe): 24 images x 8,
# 30 epochs over COCO repeated 10 times, steps 24 / 28, 4000-iteration warm-up, clipping 35.
YOLO_RECIPE = dict(
    optimizer='SGD',
    lr=0.003,
    weight_decay=5e-4,
    batch_size=24,
    max_epochs=30,
    warmup_iters=4000,
    warmup_factor=0.0001,
    clip_grad=dict(max_norm=35, norm_type=2),
    decay=dict(type='MultiStepLR', milestones=[24, 28], gamma=0.1),
)


# THU-MIG/RepViT detection/configs/mask_rcnn_repvit_*_fpn_1x_coco.py: AdamW 2e-4, weight decay
# 0.05, its schedule_1x.py's warm-up from 1e-6
REPVIT_1X = dict(MMDET_1X, optimizer='AdamW', lr=0.0002, weight_decay=0.05, warmup_factor=1e-6)
# JierunChen/FasterNet detection/configs/fasternet/mask_rcnn_fasternet_*_fpn_1x_coco.py: AdamW,
# weight decay 1e-4, lr 2e-4 for S and 1e-4 for M and L; FastViT: PoolFormer's
# mask_rcnn_poolformer_s12_fpn_1x_coco.py, AdamW 2e-4, weight decay 1e-4
ADAMW_1X = dict(MMDET_1X, optimizer='AdamW', lr=0.0002, weight_decay=0.0001)
TIMM_RECIPES = {
    'repvit-': REPVIT_1X,
    'fasternet-s_': ADAMW_1X,
    'fasternet-m_': dict(ADAMW_1X, lr=0.0001),
    'fasternet-l_': dict(ADAMW_1X, lr=0.0001),
    'fastvit-': ADAMW_1X,
}


def _recipe(config):
    name = osp.basename(config)
    for key, recipe in TIMM_RECIPES.items():
        if name.startswith(('mask_rcnn_' + key, 'faster_rcnn_' + key)):
            return recipe
    if name.startswith('yolov4_'):
        return YOLO_RECIPE
    if name.startswith('retinanet_'):
        return RETINANET_1X
    if name.startswith('rtmdet_tiny_'):
        return RTMDET_TINY
    if name in HORNET_RECIPES:
        _, _, lr, _, _ = HORNET_RECIPES[name]
        recipe = dict(MMDET_1X, optimizer='AdamW', lr=lr, weight_decay=0.05)
        if name.endswith('_3x.py'):  # HorNet's official 3x: 36 epochs, steps 27 / 33
            recipe.update(max_epochs=36, decay=dict(MMDET_1X['decay'], milestones=[27, 33]))
        return recipe
    return MMDET_1X


COCO_CONFIGS = [c for c in CONFIGS if not c.startswith(osp.join('configs', 'demo'))]


def test_every_non_demo_config_is_a_coco_config_with_a_recipe():
    names = sorted(osp.basename(c) for c in COCO_CONFIGS)
    assert len(names) == 48
    assert all(
        n.endswith(('_1x.py', '_3x.py')) or n.startswith(('yolov4_', 'rtmdet_')) for n in names
    )


@pytest.mark.parametrize('config', COCO_CONFIGS)
def test_coco_configs_follow_their_recipe(config):
    cfg = Config.fromfile(osp.join(ROOT, config))
    recipe = _recipe(config)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == recipe['optimizer']
    assert optimizer.lr == recipe['lr']
    assert optimizer.weight_decay == recipe['weight_decay']
    assert cfg.optim_wrapper.get('clip_grad') == recipe['clip_grad']
    assert cfg.train_dataloader.batch_size == recipe['batch_size']
    assert cfg.train_cfg.max_epochs == recipe['max_epochs']
    warmup, decay = cfg.param_scheduler
    assert (warmup.type, warmup.by_epoch, warmup.end, warmup.start_factor) == (
        'LinearLR',
        False,
        recipe['warmup_iters'],
        recipe['warmup_factor'],
    )
    for key, value in recipe['decay'].items():
        assert decay[key] == pytest.approx(value), key
    assert decay.get('end') in (None, recipe['max_epochs'])  # None: to the end of training
    datasets = list(_datasets_of(cfg.train_dataloader.dataset))
    assert datasets
    assert all(d.data_root == 'data/coco/' for d in datasets)
    assert cfg.custom_imports.imports == ['mmlight.registration']
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained'
    assert init.checkpoint.startswith('mmlight://')
    if 'mask_rcnn_' in osp.basename(config):
        mask_heads = cfg.model.roi_head.mask_head
        for head in mask_heads if isinstance(mask_heads, list) else [mask_heads]:
            assert head.type == 'FCNMaskHead'
        assert cfg.val_evaluator.metric == ['bbox', 'segm']


def test_cascade_hornet_config_has_the_official_stage_heads():
    """HorNet's cascade_mask_rcnn_hornet_tiny_7x7_3x_coco_in1k.py: three ConvFCBBoxHead stages
    of 4 shared convs + 1 fc with SyncBN, class-specific deltas decoded into a GIoU loss of
    weight 10, with the stage stds of mmdet's Cascade R-CNN; its mask head unchanged."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cascade_mask_rcnn_hornet-t_fpn_3x.py'))
    heads = cfg.model.roi_head.bbox_head
    stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067]]
    assert cfg.model.type == 'CascadeRCNN'
    assert cfg.model.roi_head.num_stages == 3
    assert [head.bbox_coder.target_stds for head in heads] == stds
    for head in heads:
        assert (head.type, head.num_shared_convs, head.num_shared_fcs, head.fc_out_channels) == (
            'ConvFCBBoxHead',
            4,
            1,
            1024,
        )
        assert head.norm_cfg == dict(type='SyncBN', requires_grad=True)
        assert not head.reg_class_agnostic
        assert head.reg_decoded_bbox
        assert head.loss_bbox == dict(type='GIoULoss', loss_weight=10.0)
    assert cfg.model.roi_head.mask_head.num_convs == 4
    assert cfg.model.test_cfg.rcnn.max_per_img == 100


def _datasets_of(node):
    if 'data_root' in node:
        yield node
    if 'dataset' in node:
        yield from _datasets_of(node.dataset)


def test_missing_pretrained_checkpoint_stops_train_at_once():
    proc = run_tool(
        [
            'tools/train.py',
            'configs/faster_rcnn_ghostnet_fpn_1x.py',
            '--cfg-options',
            'model.backbone.init_cfg.checkpoint=checkpoints/absent_ghostnet.pth',
        ],
        timeout=300,
    )
    assert proc.returncode != 0
    assert 'checkpoints/absent_ghostnet.pth' in proc.stderr
    assert 'Weights by name for GhostNet: mmlight://ghostnet_1.0x' in proc.stderr
    assert '--cfg-options model.backbone.init_cfg=None' in proc.stderr
    assert 'annotations' not in proc.stderr  # stopped before looking at any data


def test_config_without_custom_imports_tells_the_line_to_add(tmp_path):
    config = tmp_path / 'no_import.py'
    config.write_text(
        "_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']\n"
        "model = dict(backbone=dict(_delete_=True, type='GhostNet'),\n"
        "             neck=dict(in_channels=[24, 40, 112, 160]))\n"
    )
    proc = run_tool(['tools/train.py', str(config)], timeout=300)
    assert proc.returncode != 0
    line = "custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)"
    assert line in proc.stderr
    assert 'GhostNet' in proc.stderr


def _demo_cli_overrides(demo_root, size=96):
    options = []
    for split, loader in (
        ('train', 'train_dataloader'),
        ('val', 'val_dataloader'),
        ('val', 'test_dataloader'),
    ):
        options += [
            f'{loader}.batch_size=2',
            f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False',
            f'{loader}.dataset.data_root={demo_root}',
            f'{loader}.dataset.ann_file=annotations/instances_{split}.json',
            f'{loader}.dataset.data_prefix.img={split}/',
            f'{loader}.dataset.metainfo.classes=[circle,square,triangle]',
            f'{loader}.dataset.indices=2',
            f'{loader}.dataset.pipeline.{2 if split == "train" else 1}.scale=({size},{size})',
        ]
    ann = osp.join(demo_root, 'annotations/instances_val.json')
    return [
        *options,
        f'val_evaluator.ann_file={ann}',
        f'test_evaluator.ann_file={ann}',
        'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1',
        'model.roi_head.bbox_head.num_classes=3',
        'model.test_cfg.rcnn.score_thr=0.0',
        'train_dataloader.dataset.filter_cfg.min_size=1',
    ]


def test_unchanged_mmdet_config_runs_with_an_mmlight_backbone(demo_root, tmp_path):
    config = mmdet_config('faster_rcnn', 'faster-rcnn_r50_fpn_1x_coco.py')
    assert osp.isfile(config)
    proc = run_tool(
        [
            'tools/train.py',
            config,
            '--work-dir',
            str(tmp_path),
            '--cfg-options',
            'custom_imports.imports=[mmlight.registration]',
            'custom_imports.allow_failed_imports=False',
            'model.backbone._delete_=True',
            'model.backbone.type=GhostNet',
            'model.backbone.widen_factor=0.5',
            'model.backbone.out_indices=(0,1,2,3)',
            'model.neck.in_channels=[12,20,56,80]',
            *_demo_cli_overrides(demo_root),
        ],
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_1.pth'))


def run_script(cmd, env):
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(os.environ, **env)
    )


def test_two_process_cpu_training_and_evaluation_of_an_odconv_model(demo_root, tmp_path):
    """tools/dist_train.sh and tools/dist_test.sh with 2 gloo processes, on an OD-ResNet (the
    backbone whose DDP needs every parameter to get a gradient: no unused-parameter search),
    its temperature hook annealing across the processes' iterations."""
    config = osp.join(ROOT, 'configs', 'faster_rcnn_odconv_r50_fpn_1x.py')
    cfg = tiny_config(Config.fromfile(config), demo_root, str(tmp_path), num_images=4)
    cfg.model.backbone.update(depth=18, od_cfg=dict(kernel_num=4, reduction=0.0625))
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=2)
    # DDP fails from the second iteration on if any parameter got no gradient
    cfg.find_unused_parameters = False
    cfg.custom_hooks = [dict(type='ODConvTemperatureHook', anneal_iters=2)]
    cfg.log_level = 'INFO'  # the environment summary checked below is logged at INFO
    # the same weights, batches and detections every run (without a seed an unlucky
    # initialisation can leave the evaluation without a single detection)
    cfg.randomness = dict(seed=0)
    path = osp.join(str(tmp_path), 'dist_od_cfg.py')
    cfg.dump(path)
    env = dict(PORT=str(free_port()), OMP_NUM_THREADS='1', PYTHON=sys.executable)
    proc = run_script(['bash', 'tools/dist_train.sh', path, '2', '--work-dir', str(tmp_path)], env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'Distributed launcher: pytorch' in out
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out  # mmengine's name for the world size
    assert "'backend': 'gloo'" in out
    assert 'find_unused_parameters = False' in out
    assert 'coco/bbox_mAP' in out, evaluation_log(out)
    log = open(glob.glob(osp.join(str(tmp_path), '*', '*.log'))[0]).read()
    assert 'odconv_temperature: 30.0000' in log
    assert 'odconv_temperature: 15.5000' in log
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_2.pth'))
    # and the dist test script's path: evaluate the checkpoint with 2 processes
    proc = run_script(
        [
            'bash',
            'tools/dist_test.sh',
            path,
            osp.join(str(tmp_path), 'epoch_2.pth'),
            '2',
            '--work-dir',
            str(tmp_path),
        ],
        dict(env, PORT=str(free_port())),
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert 'coco/bbox_mAP' in proc.stdout, evaluation_log(proc.stdout + proc.stderr)


def evaluation_log(out):
    """The lines of a run's log that say how its evaluation went."""
    keys = (
        'Epoch(val)',
        'Epoch(test)',
        'coco/',
        'Average Precision',
        'empty',
        'Error',
        'Traceback',
        'nan',
        'loss:',
    )
    lines = [line for line in out.splitlines() if any(k in line for k in keys)]
    return 'evaluation log lines:\n' + '\n'.join(lines[-40:])


def test_train_tool_runs_the_odconv_r50_config_on_demo_data(demo_root, tmp_path):
    """The README's training command, pointed at the demo data from the command line only."""
    ann = osp.join(demo_root, 'annotations', 'instances_{}.json')
    options = [
        'model.backbone.init_cfg=None',
        'model.roi_head.bbox_head.num_classes=3',
        'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1',
        "train_dataloader.dataset.metainfo.classes=[circle,square,triangle]",
        "val_dataloader.dataset.metainfo.classes=[circle,square,triangle]",
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'train_dataloader.dataset.indices=4',
        'val_dataloader.dataset.indices=2',
        f'train_dataloader.dataset.data_root={demo_root}',
        'train_dataloader.dataset.ann_file=annotations/instances_train.json',
        'train_dataloader.dataset.data_prefix.img=train/',
        f'val_dataloader.dataset.data_root={demo_root}',
        'val_dataloader.dataset.ann_file=annotations/instances_val.json',
        'val_dataloader.dataset.data_prefix.img=val/',
        'train_dataloader.dataset.pipeline.2.scale=(128,128)',
        'val_dataloader.dataset.pipeline.1.scale=(128,128)',
        f"val_evaluator.ann_file={ann.format('val')}",
        'param_scheduler.0.end=1',
    ]
    proc = run_tool(
        [
            'tools/train.py',
            'configs/faster_rcnn_odconv_r50_fpn_1x.py',
            '--work-dir',
            str(tmp_path),
            '--cfg-options',
            *options,
        ],
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'coco/bbox_mAP' in out
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_1.pth'))
