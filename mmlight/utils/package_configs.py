"""mmlight's configs as installed with the package, and ``_base_ = 'mmlight::NAME.py'``.

The configs ship inside the package as ``mmlight/.mim/configs`` (the OpenMMLab layout: a link
to the checkout's ``configs/`` in an editable install, a copy in a wheel); a checkout that was
not installed uses its ``configs/``.

mmengine resolves ``PACKAGE::PATH`` bases only for the OpenMMLab packages of its own table, and
only with a sub-folder in the path (``mmdet::faster_rcnn/...``). :func:`register_config_bases`
(run by ``import mmlight``) lets mmengine's ``Config`` resolve ``mmlight::PATH`` to the
installed file, read as a plain base file (no scope of its own: mmlight's configs are mmdet
configs, ``default_scope='mmdet'``). Every other base path goes through mmengine's own code,
a ``PACKAGE::PATH`` of another package once per process (:func:`external_config_path`).
"""

import functools
import os.path as osp

PACKAGE = 'mmlight'
PREFIX = PACKAGE + '::'
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_root() -> str:
    """The folder of mmlight's configs.

    Returns:
        ``mmlight/.mim/configs`` as installed with the package, else, in a checkout that was not
        pip-installed, its ``configs/`` beside the package.

    Raises:
        FileNotFoundError: neither exists.
    """
    installed = osp.join(PACKAGE_DIR, '.mim', 'configs')
    if osp.isdir(installed):
        return installed
    checkout = osp.join(osp.dirname(PACKAGE_DIR), 'configs')
    if osp.isfile(osp.join(checkout, 'faster_rcnn_ghostnet_fpn_1x.py')):
        return checkout
    raise FileNotFoundError(
        f'mmlight\'s configs are not installed with the package: expected the folder '
        f'{installed}, found nothing there. Install mmlight with pip (pip install -e . in a '
        f'checkout links configs/ there; a wheel holds a copy).'
    )


def package_config_path(cfg_path: str) -> str:
    """The installed file of ``mmlight::PATH`` (``.py`` added when missing)."""
    path = cfg_path[len(PREFIX) :]
    path = path if path.endswith('.py') else path + '.py'
    full = osp.join(config_root(), path)
    if not osp.isfile(full):
        raise FileNotFoundError(
            f'{cfg_path!r}: mmlight has no config {path!r} (looked in {config_root()})'
        )
    return full


@functools.cache
def external_config_path(cfg_path: str) -> tuple[str, str | None]:
    """mmengine's resolution of a ``PACKAGE::PATH`` base of another package (``mmdet::...``):
    its file and scope, remembered for the process. mmengine reads every metafile of the
    package for each such base (about a hundred YAML files for mmdet, 0.1-0.3 s), and a config
    or a test run resolves the same few bases many times. A failure is not remembered.

    Args:
        cfg_path: the base as written, ``PACKAGE::PATH``.

    Returns:
        The config file and the scope (the package's name).
    """
    from mmengine.config import Config

    resolve = Config._get_cfg_path
    resolve = getattr(resolve, '__wrapped__', resolve)
    return resolve(cfg_path, '')


def register_config_bases():
    """Let mmengine's Config resolve ``mmlight::PATH`` (idempotent)."""
    from mmengine.config import Config

    original = Config._get_cfg_path
    if getattr(original, 'resolves_mmlight', False):
        return

    def get_cfg_path(cfg_path: str, filename: str):
        if cfg_path.startswith(PREFIX):
            return package_config_path(cfg_path), None
        if '::' in cfg_path:
            return external_config_path(cfg_path)
        return original(cfg_path, filename)

    # marks for the idempotence check above, and for whoever unwraps the patch
    setattr(get_cfg_path, 'resolves_mmlight', True)  # noqa: B010
    setattr(get_cfg_path, '__wrapped__', original)  # noqa: B010
    Config._get_cfg_path = staticmethod(get_cfg_path)
