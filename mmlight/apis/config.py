"""Configs by name, found through the installed packages (mmlight's own in
``mmlight/.mim/configs``, see :mod:`mmlight.utils.package_configs`), so the same names work
from a checkout, from a wheel and in ``_base_ = 'mmlight::NAME.py'``.
"""

import copy
import glob
import os.path as osp

from mmengine.config import Config

from mmlight.utils.package_configs import PREFIX, config_root, package_config_path


def config_names(recursive: bool = False) -> list[str]:
    """The detector configs shipped with mmlight, as names :func:`resolve_config` takes.

    Args:
        recursive: also the demo configs ('demo/NAME').

    Returns:
        Sorted names: 'NAME' for ``configs/NAME.py``.
    """
    root = config_root()
    pattern = osp.join(root, '**', '*.py') if recursive else osp.join(root, '*.py')
    return sorted(
        osp.relpath(path, root)[:-3]
        for path in glob.glob(pattern, recursive=recursive)
        if '_base_' not in osp.relpath(path, root)
    )


def _package_config(package: str, path: str) -> str:
    import importlib

    module = importlib.import_module(package)
    return osp.join(osp.dirname(module.__file__), '.mim', 'configs', path)


def resolve_config(name_or_path: str) -> str:
    """The file of a config.

    Args:
        name_or_path: a path, ``PACKAGE::PATH`` (``mmlight::`` or ``mmdet::``, as in
            ``_base_``), or an mmlight config name (``'faster_rcnn_ghostnet_fpn_1x'``,
            ``'demo/faster_rcnn_ghostnet_fpn_demo'``).

    Returns:
        The config file's path.

    Raises:
        FileNotFoundError: it is none of these, with mmlight's config names.
    """
    name_or_path = str(name_or_path)
    if osp.isfile(name_or_path):
        return name_or_path
    if name_or_path.startswith(PREFIX):
        return package_config_path(name_or_path)
    if '::' in name_or_path:
        package, path = name_or_path.split('::', 1)
        candidate = _package_config(package, path)
    else:
        name = name_or_path[:-3] if name_or_path.endswith('.py') else name_or_path
        candidate = osp.join(config_root(), name + '.py')
    if osp.isfile(candidate):
        return candidate
    raise FileNotFoundError(
        f'{name_or_path!r} is neither a config file, PACKAGE::PATH of an installed package\'s '
        f'config, nor an mmlight config name; mmlight\'s names: {", ".join(config_names())}'
    )


def load_detector_config(config: str | Config, cfg_options: dict | None = None) -> Config:
    """A detector config, loaded.

    Args:
        config: a path, name or ``PACKAGE::PATH`` (:func:`resolve_config`), or a Config (copied).
        cfg_options: overrides merged in, as ``--cfg-options``.

    Returns:
        The Config.

    Raises:
        ValueError: it does not describe a detector (a ``model`` with a backbone).
    """
    cfg = (
        Config.fromfile(resolve_config(config))
        if isinstance(config, str)
        else copy.deepcopy(config)
    )
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = cfg.get('model')
    if not isinstance(model, dict) or 'backbone' not in model:
        found = sorted(model) if isinstance(model, dict) else type(model).__name__
        raise ValueError(
            f'{config}: expected a detector config (a model dict with a '
            f'backbone), found model {found}'
        )
    return cfg


def pipeline_resize_shape(cfg: Config) -> tuple[int, int] | None:
    """The test pipeline's Resize scale.

    Args:
        cfg: the detector config.

    Returns:
        (height, width), or None where the test pipeline has no Resize with a scale.
    """
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', [])
    for step in pipeline:
        if step.get('type') == 'Resize' and step.get('scale') is not None:
            width, height = step['scale']
            return int(height), int(width)
    return None
