"""A detector from a config and a checkpoint, for inference outside mmengine's Runner."""

import torch

from mmlight.utils.safe_load import load_checkpoint_file
from mmlight.utils.state_dict import load_state_dict_strict, unwrap_state_dict

from .config import load_detector_config


def _config_metainfo(cfg):
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    metainfo = dataset.get('metainfo') if isinstance(dataset, dict) else None
    return dict(metainfo) if metainfo else None


def init_detector(
    config,
    checkpoint: str | None = None,
    device: str = 'cpu',
    cfg_options: dict | None = None,
    seed: int | None = None,
) -> torch.nn.Module:
    """mmdet's ``init_detector`` with safe and strict loading: build the config's detector in
    eval mode on ``device`` and load ``checkpoint`` into it strictly (``weights_only=True``
    with mmlight's allow-list; every missing or unexpected key is an error).

    Args:
        config (str | Config): a config file, an mmlight config name or ``PACKAGE::PATH``
            (see :func:`mmlight.apis.resolve_config`), or a loaded Config.
        checkpoint (str, optional): a detector checkpoint (``tools/train.py`` writes them). The
            config's pretrained backbone file is not needed: the checkpoint holds the backbone.
            Without one the weights are random (tests, benchmarks).
        device (str): where the detector goes. Default: 'cpu'.
        cfg_options (dict, optional): config overrides, as ``--cfg-options``.
        seed (int, optional): draw the random weights from this seed, without touching the
            caller's random state (the same detector in every process). Without it they come
            from torch's global generator.

    Returns:
        The detector in eval mode, its ``cfg`` set to the config.
    """
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
        load_state_dict_strict(
            detector, unwrap_state_dict(state), source=f'checkpoint {checkpoint!r}'
        )
        meta = state.get('meta', {}) if isinstance(state, dict) else {}
        # the classes the checkpoint was trained on, else those the config's test set names
        detector.dataset_meta = meta.get('dataset_meta') or _config_metainfo(cfg)
    detector.cfg = cfg
    return detector.to(device).eval()
