"""Find or download an official weight file, convert it, check it, cache it."""

import os
import os.path as osp
import tempfile

import torch

from mmlight.converters import convert_state_dict
from mmlight.utils.download import DownloadError, check_sha256, download_file, hub_checkpoint_dir
from mmlight.utils.safe_load import load_checkpoint_file
from mmlight.utils.state_dict import load_state_dict_strict, unwrap_state_dict

from .table import get_weights

SCHEME = 'mmlight://'
WEIGHTS_DIR_ENV = 'MMLIGHT_WEIGHTS_DIR'
WEIGHTS_URL_ENV = 'MMLIGHT_WEIGHTS_URL'


class ManualDownloadRequired(FileNotFoundError):
    """The official file is on a page no program can download from, and it is not here."""


def _weights_dir():
    value = os.environ.get(WEIGHTS_DIR_ENV)
    return osp.expanduser(value) if value else None


def _manual_folder():
    return _weights_dir() or hub_checkpoint_dir()


def official_file(name: str) -> str:
    """The local path of the official file behind ``name``: from ``MMLIGHT_WEIGHTS_DIR`` (no
    network), from an earlier download, or downloaded now (from ``MMLIGHT_WEIGHTS_URL`` + the
    official file name where that is set, else from the source's own URL)."""
    entry = get_weights(name)
    weights_dir = _weights_dir()
    if weights_dir:
        for source in entry.sources:
            path = osp.join(weights_dir, source.filename)
            if osp.isfile(path):
                check_sha256(path, source.sha256, f'{path} ({name})')
                return path
    cache = hub_checkpoint_dir()
    for source in entry.sources:
        path = osp.join(cache, source.filename)
        if osp.isfile(path):  # an earlier download, or a file the user put there by hand
            check_sha256(path, source.sha256, f'{path} ({name})')
            return path
    mirror = os.environ.get(WEIGHTS_URL_ENV)
    failures = []
    for source in entry.sources:
        url = f'{mirror.rstrip("/")}/{source.filename}' if mirror else source.url
        if url is None:
            continue
        try:
            return download_file(url, osp.join(cache, source.filename), sha256=source.sha256)
        except DownloadError as err:
            failures.append(str(err))
    pages = [s for s in entry.sources if s.page and (s.url is None or failures)]
    folder = _manual_folder()
    lines = [
        f'The weights {SCHEME}{name} are not here'
        + (' and could not be downloaded:' if failures else '.')
    ]
    lines += [f'  - {failure}' for failure in failures]
    for source in pages:
        lines.append(
            f'Download {source.filename!r} by hand from {source.page} and save it as '
            f'{osp.join(folder, source.filename)}'
        )
    if weights_dir is None:
        lines.append(f'(or put the official files in a folder and set {WEIGHTS_DIR_ENV} to it)')
    if failures and not pages:
        raise DownloadError('\n'.join(lines))
    raise ManualDownloadRequired('\n'.join(lines))


def converted_cache_path(name: str) -> str:
    return osp.join(hub_checkpoint_dir(), 'mmlight', f'{get_weights(name).name}.pth')


def _build_backbone(model_cfg: dict):
    from mmdet.registry import MODELS

    return MODELS.build(dict(model_cfg))


def converted_file(name: str) -> str:
    """The cached mmlight checkpoint of ``name`` (made the first time): the official file,
    converted by its family's converter and loaded strictly into the backbone it is for, saved
    with ``backbone.``-prefixed keys so that it also works as a detector's ``load_from``."""
    path = converted_cache_path(name)
    if osp.isfile(path):
        return path
    entry = get_weights(name)
    official = official_file(name)
    state_dict = unwrap_state_dict(load_checkpoint_file(official))
    backbone = _build_backbone(entry.model)
    origin = f'{official} ({name})'
    own_filter = getattr(backbone, 'checkpoint_filter', None)
    if own_filter is not None:  # its keys depend on how it is built (the timm backbones)
        converted = own_filter(state_dict, source=origin)
    else:
        converted = convert_state_dict(entry.family, state_dict, origin=origin)
    load_state_dict_strict(
        backbone,
        converted,
        source=f'{official} converted for {name}',
        optional_prefixes=getattr(backbone, 'detection_only_prefixes', ()),
    )
    checkpoint = {
        'state_dict': {f'backbone.{k}': v for k, v in converted.items()},
        'meta': dict(
            mmlight_weights=name,
            converted_from=osp.basename(official),
            family=entry.family,
            model=dict(entry.model),
        ),
    }
    os.makedirs(osp.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'{name}.', suffix='.part', dir=osp.dirname(path))
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def prepare_named_weights(filename: str) -> str:
    """Resolve ``mmlight://NAME`` to its converted file now (download and convert if needed)."""
    if not str(filename).startswith(SCHEME):
        raise ValueError(f'{filename!r} is not an {SCHEME}NAME checkpoint')
    return converted_file(str(filename)[len(SCHEME) :])


def load_named_weights(filename: str, map_location=None):
    """mmengine's CheckpointLoader scheme for ``mmlight://NAME``."""
    return load_checkpoint_file(prepare_named_weights(filename), map_location=map_location)
