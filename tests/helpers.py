"""What the test files share: tiny configs on the demo set, running tools as a user does, free
ports, reference comparisons and recipe tables. Test files import from here, never from each
other."""

import copy
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmlight.demo_data import CLASSES

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the RoIs a tiny config's RoI heads sample per image and stage in training, and its RPN's
# proposals per image in the evaluation
ROI_SAMPLES = 32
# the detections per image a tiny config's RoI head keeps in the evaluation
TEST_DETECTIONS = 20


def _datasets(node):
    """The innermost dataset dicts (the ones with an ann_file) of a dataloader's dataset."""
    if isinstance(node, dict):
        if 'ann_file' in node:
            yield node
        for key in ('dataset', 'datasets'):
            if key in node:
                yield from _datasets(node[key])
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _datasets(item)


def dicts_in(node):
    """Every dict in a config tree, those in lists (Cascade R-CNN's stages) included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from dicts_in(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from dicts_in(value)


def _shrink_pipeline(pipeline, size):
    for transform in pipeline or []:
        if isinstance(transform, (list, tuple)):  # a policy of RandomChoice / AutoAugment
            _shrink_pipeline(transform, size)
            continue
        _shrink_pipeline(transform.get('transforms'), size)
        if 'scale' in transform and transform['type'] != 'RandomAffine':
            # RandomResize needs a list (two scales) unless it has a ratio_range
            multi = isinstance(transform['scale'], list) and transform.get('ratio_range') is None
            transform['scale'] = [size, size] if multi else size
        if 'scales' in transform:
            transform['scales'] = [size]
        if 'img_scale' in transform:
            transform['img_scale'] = size


def cap_two_stage_test_cfg(model_cfg) -> None:
    """A two-stage detector's inference on ROI_SAMPLES proposals and TEST_DETECTIONS
    detections per image (its test_cfg's ``rpn`` and ``rcnn`` ``max_per_img``, where larger).
    Cascade Mask R-CNN's three 4-conv box heads over 1000 proposals and its three mask heads
    over 100 detections took most of a minute, and run the code that a few run; with the caps
    the cuts at max_per_img are in play as well."""
    test_cfg = model_cfg.get('test_cfg') or {}
    for stage, cap in (('rpn', ROI_SAMPLES), ('rcnn', TEST_DETECTIONS)):
        if isinstance(test_cfg.get(stage), dict) and test_cfg[stage].get('max_per_img', 0) > cap:
            test_cfg[stage]['max_per_img'] = cap


def tiny_config(
    cfg: Config, demo_root: str, work_dir: str, size=(96, 96), num_images=2, save_checkpoint=True
):
    """One short epoch on a few demo images, then one evaluation: enough to run every part of
    a config (model, pipeline, loss, optimizer, evaluator) in seconds on a CPU.
    ``save_checkpoint=False``: no checkpoint file (several seconds for the large models)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    if 'backbone' in cfg.model and 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg = None
    # an untrained detector scores below the usual thresholds: keep every box so that the
    # evaluation computes real numbers instead of skipping an empty result
    for node in dicts_in(cfg.model.get('test_cfg')):
        for key in ('score_thr', 'conf_thr'):
            if key in node:
                node[key] = 0.0
    for node in dicts_in(cfg.model):
        if 'num_classes' in node:
            node['num_classes'] = len(CLASSES)
    # RoI heads on as many RoIs as a 96x96 image of a few shapes needs: the heads' convs over
    # a detector's 512 sampled RoIs per stage (Cascade's three 4-conv heads) cost a minute and
    # run no other code
    for node in dicts_in(cfg.model.get('train_cfg')):
        if node.get('type') == 'RandomSampler' and node.get('num', 0) > ROI_SAMPLES:
            node['num'] = ROI_SAMPLES
    # and in the evaluation, as many proposals and detections per image
    cap_two_stage_test_cfg(cfg.model)
    metainfo = dict(classes=CLASSES)
    for split, loader_key in (
        ('train', 'train_dataloader'),
        ('val', 'val_dataloader'),
        ('val', 'test_dataloader'),
    ):
        loader = cfg[loader_key]
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        if loader.dataset.get('type') == 'RepeatDataset':
            loader.dataset.times = 1
        for dataset in _datasets(loader.dataset):
            dataset.update(
                data_root=demo_root,
                ann_file=f'annotations/instances_{split}.json',
                data_prefix=dict(img=f'{split}/'),
                metainfo=metainfo,
                indices=num_images,
            )
            if 'filter_cfg' in dataset:
                dataset.filter_cfg = dict(filter_empty_gt=True, min_size=1)
            _shrink_pipeline(dataset.get('pipeline'), size)
        _shrink_pipeline(loader.dataset.get('pipeline'), size)
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
        for evaluator in evaluators:
            evaluator.ann_file = osp.join(demo_root, 'annotations/instances_val.json')
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1 if save_checkpoint else -1
    cfg.default_hooks.checkpoint.save_last = save_checkpoint
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] != 'EMAHook']
    cfg.log_level = 'WARNING'
    return cfg


class RecordMetrics(Hook):
    """Keeps the losses of every train iteration and the last validation metrics."""

    def __init__(self):
        self.losses = {}
        self.metrics = None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses[runner.iter] = {k: float(v.detach()) for k, v in outputs.items()}

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = metrics


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it): for torchrun's rendezvous, so that
    two test runs on one machine never meet on a fixed port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, timeout=900, env=None):
    """Run a tools/ script (or torchrun) the way a user does, from the repository root: a
    script in a new process forked from one that has imported the training stack
    (:mod:`tests.tool_process`), anything else (``-m``, ``-c``, or with ``env`` changed,
    which imports may read) in a new interpreter."""
    full_env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    if env is None and args[0].endswith('.py'):
        from tests.tool_process import run_forked

        return run_forked(ROOT, args, full_env, timeout)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    return proc


def run_python(args, cwd, paths=(ROOT,), timeout=300):
    """Python (``sys.executable``) on ``args`` in a new process, in ``cwd``, with ``paths`` as its
    PYTHONPATH; the finished process, output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, paths))),
    )


def randomize_norm_statistics(model, seed=0):
    """Random BN running statistics and affine parameters, so that eval-mode BN is not an
    identity and a swapped key would show up in the outputs."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def assert_same_levels(ours, reference, x):
    with torch.no_grad():
        a, b = ours.eval()(x), reference.eval()(x)
    assert len(a) == len(b)
    for level, (u, v) in enumerate(zip(a, b, strict=True)):
        assert u.shape == v.shape, level
        assert (u - v).abs().max().item() <= 1e-5, level


HORNET_RECIPES = {
    # config: (arch, drop_path_rate, lr, decay_rate, num_layers), from the official file named
    # in each config (1x HorNet-S; the 3x Cascade configs for T, T-GF and S-GF)
    'faster_rcnn_hornet-t_fpn_1x.py': ('tiny', 0.4, 2e-4, 0.7, 12),
    'mask_rcnn_hornet-t_fpn_1x.py': ('tiny', 0.4, 2e-4, 0.7, 12),
    'mask_rcnn_hornet-t-gf_fpn_1x.py': ('tiny-gf', 0.4, 2e-4, 0.7, 12),
    'faster_rcnn_hornet-s_fpn_1x.py': ('small', 0.6, 1e-4, 0.95, 6),
    'mask_rcnn_hornet-s_fpn_1x.py': ('small', 0.6, 1e-4, 0.95, 6),
    'mask_rcnn_hornet-s-gf_fpn_1x.py': ('small-gf', 0.6, 2e-4, 0.7, 12),
    'cascade_mask_rcnn_hornet-t_fpn_3x.py': ('tiny', 0.4, 2e-4, 0.7, 12),
}


def mmdet_config(*parts):
    """A config file shipped inside the installed mmdet package."""
    import mmdet

    return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', *parts)


def retinanet_cfg(demo_root, work_dir, max_iters):
    """A detector whose training has no random sampling, so two runs can be compared loss
    for loss: RetinaNet on GhostNet, no flip, iteration-based."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'faster_rcnn_ghostnet_fpn_1x.py'))
    retina = Config.fromfile(mmdet_config('retinanet', 'retinanet_r50_fpn_1x_coco.py'))
    cfg.model = retina.model
    cfg.model.backbone = dict(type='GhostNet', widen_factor=0.5, out_indices=(1, 2, 3))
    cfg.model.neck.update(in_channels=[20, 56, 80], out_channels=32, start_level=0)
    cfg.model.bbox_head.update(in_channels=32, feat_channels=32, stacked_convs=1, num_classes=3)
    cfg = tiny_config(cfg, demo_root, work_dir, num_images=8)
    cfg.train_dataloader.dataset.pipeline = [
        p for p in cfg.train_dataloader.dataset.pipeline if p['type'] != 'RandomFlip'
    ]
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2, by_epoch=False)
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.randomness = dict(seed=0)
    cfg.optim_wrapper.optimizer.update(lr=0.01, momentum=0.9)
    cfg.log_level = 'INFO'  # the resume message is an INFO line
    return cfg


def logged_losses(work_dir):
    path = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(path) == 1, path
    with open(path[0]) as f:
        rows = [json.loads(line) for line in f]
    return {row['iter']: row['loss'] for row in rows if 'loss' in row}


# what a wheel is built from (the sdist's contents, MANIFEST.in)
PACKAGE_SOURCES = (
    'pyproject.toml',
    'setup.py',
    'MANIFEST.in',
    'LICENSE',
    'README.md',
    'CHANGELOG.md',
    'model-index.yml',
    'mmlight',
    'configs',
)


def build_wheel(folder) -> str:
    """The wheel, built as docs/get_started.md says, from a copy of the package's sources in
    ``folder`` (so that the build leaves the checkout as it was); its path."""
    import glob
    import shutil
    import subprocess
    import sys

    os.makedirs(str(folder), exist_ok=True)
    for name in PACKAGE_SOURCES:
        path = osp.join(ROOT, name)
        target = osp.join(str(folder), name)
        if osp.isdir(path):
            shutil.copytree(
                path,
                target,
                symlinks=False,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '.mim'),
            )
        else:
            shutil.copy(path, target)
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-build-isolation',
            '-w',
            'dist',
            '.',
        ],
        cwd=str(folder),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    wheels = glob.glob(osp.join(str(folder), 'dist', 'mmlight-*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]


def run_folder(tmp_path_factory):
    """A folder of this test run that every pytest-xdist worker of it shares (each worker has
    its own basetemp below it), for what the workers make once and share."""
    basetemp = tmp_path_factory.getbasetemp()
    return basetemp.parent if os.environ.get('PYTEST_XDIST_WORKER') else basetemp
