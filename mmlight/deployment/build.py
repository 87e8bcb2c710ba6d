"""A detector from a config and a checkpoint, for inference outside mmengine's Runner."""
import copy
from typing import Optional

import torch
from mmengine.config import Config

from mmlight.utils.checkpoint import (load_checkpoint_file, load_state_dict_strict,
                                      unwrap_state_dict)


def load_detector_config(config, cfg_options: Optional[dict] = None) -> Config:
    """The config (path or Config) with ``cfg_options`` merged; raises unless it describes a
    detector (``model`` with a backbone)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = cfg.get('model')
    if not isinstance(model, dict) or 'backbone' not in model:
        found = sorted(model) if isinstance(model, dict) else type(model).__name__
        raise ValueError(f'{config}: expected a detector config (a model dict with a '
                         f'backbone), found model {found}')
    return cfg


def pipeline_resize_shape(cfg: Config):
    """(height, width) of the test pipeline's Resize scale, or None."""
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', [])
    for step in pipeline:
        if step.get('type') == 'Resize' and step.get('scale') is not None:
            width, height = step['scale']
            return int(height), int(width)
    return None


def build_detector(config, checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None,
                   seed: Optional[int] = None) -> torch.nn.Module:
    """Build the config's detector in eval mode on CPU and load ``checkpoint`` into it
    strictly (safe loading: ``weights_only=True`` with mmlight's allow-list). The pretrained
    backbone file of the config is not needed: the detector checkpoint holds the backbone.
    Without a checkpoint the weights are random (tests, benchmarks): drawn from torch's global
    generator, or with ``seed`` from that seed without touching the caller's random state (the
    same detector in every process)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    cfg = load_detector_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.backbone.init_cfg = None
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        detector = MODELS.build(cfg.model)
    if checkpoint is not None:
        state = load_checkpoint_file(checkpoint)
        load_state_dict_strict(detector, unwrap_state_dict(state),
                               source=f'checkpoint {checkpoint!r}')
        meta = state.get('meta', {}) if isinstance(state, dict) else {}
        detector.dataset_meta = meta.get('dataset_meta')
    detector.cfg = cfg
    return detector.eval()
