"""Calibration images for post-training quantization, taken through the config's own test
pipeline: what the deployed model will see."""

import copy
import random

import numpy as np
from mmengine.config import Config

DEFAULT_CALIBRATION_IMAGES = 300


def calibration_images(
    cfg: Config,
    num_images: int = DEFAULT_CALIBRATION_IMAGES,
    split: str = 'val_dataloader',
    seed: int = 0,
) -> list[np.ndarray]:
    """``num_images`` images of the config's ``split`` dataset (all of them when it has
    fewer), chosen at random with ``seed``, each as the pipeline makes it: float32
    ``[1, 3, H, W]`` (BGR, 0-255, resized), the input of a deployed detector.

    Args:
        cfg: the detector config (its ``split`` names the dataset and the pipeline; point it
            elsewhere with ``--cfg-options``, e.g. ``val_dataloader.dataset.ann_file=...``).
        num_images: how many. Default: 300.
        split: 'val_dataloader', 'test_dataloader' or 'train_dataloader' (its pipeline then
            augments).
        seed: which images.

    Returns:
        The images, float32 ``[1, 3, H, W]`` each.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    if split not in cfg:
        raise ValueError(
            f'calibration: the config has no {split!r}; valid splits: '
            f'{[k for k in cfg if k.endswith("_dataloader")]}'
        )
    if num_images < 1:
        raise ValueError(f'calibration: num_images must be >= 1, got {num_images}')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    loader_cfg = copy.deepcopy(cfg[split])
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    dataset = Runner.build_dataloader(loader_cfg).dataset
    count = min(num_images, len(dataset))
    chosen = sorted(random.Random(seed).sample(range(len(dataset)), count))
    return [dataset[index]['inputs'][None].float().numpy() for index in chosen]
