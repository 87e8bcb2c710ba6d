import copy
import os
import os.path as osp
import subprocess
import sys

from mmengine.config import Config
from mmengine.hooks import Hook

from mmlight.demo_data import CLASSES

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


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


def _dicts(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)


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


def tiny_config(cfg: Config, demo_root: str, work_dir: str, size=(96, 96), num_images=2,
                save_checkpoint=True):
    """One short epoch on a few demo images, then one evaluation: enough to run every part of
    a config (model, pipeline, loss, optimizer, evaluator) in seconds on a CPU.
    ``save_checkpoint=False``: no checkpoint file (several seconds for the large models)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    if 'backbone' in cfg.model and 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg = None
    # an untrained detector scores below the usual thresholds: keep every box so that the
    # evaluation computes real numbers instead of skipping an empty result
    for node in _dicts(cfg.model.get('test_cfg')):
        for key in ('score_thr', 'conf_thr'):
            if key in node:
                node[key] = 0.0
    for node in _dicts(cfg.model):
        if 'num_classes' in node:
            node['num_classes'] = len(CLASSES)
    metainfo = dict(classes=CLASSES)
    for split, loader_key in (('train', 'train_dataloader'), ('val', 'val_dataloader'),
                              ('val', 'test_dataloader')):
        loader = cfg[loader_key]
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        if loader.dataset.get('type') == 'RepeatDataset':
            loader.dataset.times = 1
        for dataset in _datasets(loader.dataset):
            dataset.update(data_root=demo_root, ann_file=f'annotations/instances_{split}.json',
                           data_prefix=dict(img=f'{split}/'), metainfo=metainfo,
                           indices=num_images)
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


def run_tool(args, timeout=900, env=None):
    """Run a tools/ script (or torchrun) the way a user does, from the repository root."""
    full_env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    return proc
