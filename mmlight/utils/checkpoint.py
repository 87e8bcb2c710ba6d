"""Checkpoint loading that fails loudly, and mmengine's resume on torch >= 2.6."""
import os.path as osp
from collections import OrderedDict

import torch
from mmengine.runner.checkpoint import CheckpointLoader

SCRATCH_OPTION = '--cfg-options model.backbone.init_cfg=None'

_REMOTE_PREFIXES = ('http://', 'https://', 'torchvision://', 'open-mmlab://', 'openmmlab://',
                    'mmcls://', 'pavi://', 's3://', 'modelzoo://')


def is_local_path(filename: str) -> bool:
    return not str(filename).startswith(_REMOTE_PREFIXES)


def missing_checkpoint_message(filename: str, hint: str = '') -> str:
    lines = [f'Pretrained backbone checkpoint {filename!r} does not exist.']
    if hint:
        lines.append(hint.strip())
    lines.append(f'To train from scratch instead, add: {SCRATCH_OPTION}')
    return '\n'.join(lines)


def check_pretrained_exists(filename: str, hint: str = ''):
    """Raise FileNotFoundError with instructions when a local pretrained file is missing."""
    if is_local_path(filename) and not osp.isfile(osp.expanduser(filename)):
        raise FileNotFoundError(missing_checkpoint_message(filename, hint))


def unwrap_state_dict(checkpoint) -> 'OrderedDict[str, torch.Tensor]':
    """The weights of a checkpoint saved by mmengine, timm, torchvision or official repos."""
    for key in ('state_dict', 'model', 'state_dict_ema', 'model_ema'):
        if isinstance(checkpoint, dict) and key in checkpoint and isinstance(
                checkpoint[key], dict):
            return checkpoint[key]
    if not isinstance(checkpoint, dict):
        raise TypeError(f'a checkpoint must be a dict of tensors, got {type(checkpoint)}')
    return checkpoint


def describe_key_mismatch(missing, unexpected, limit: int = 12) -> str:

    def show(keys):
        keys = sorted(keys)
        more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
        return ', '.join(keys[:limit]) + more

    parts = []
    if missing:
        parts.append(f'missing keys ({len(missing)}): {show(missing)}')
    if unexpected:
        parts.append(f'unexpected keys ({len(unexpected)}): {show(unexpected)}')
    return '; '.join(parts)


def load_state_dict_strict(module: torch.nn.Module, state_dict, source: str = 'checkpoint',
                           optional_prefixes=()):
    """load_state_dict(strict=True) with an error that lists what does not match.

    Keys under ``optional_prefixes`` (layers that exist only in the detection backbone, e.g.
    HorNet's per-level output norms) may be absent from the checkpoint (they keep their
    initialisation) or present for levels the model does not output (they are skipped).
    """
    own = module.state_dict()
    optional = tuple(optional_prefixes)
    state_dict = OrderedDict((k, v) for k, v in state_dict.items()
                             if not (optional and k.startswith(optional) and k not in own))
    missing = {k for k in set(own) - set(state_dict) if not (optional and k.startswith(optional))}
    unexpected = set(state_dict) - set(own)
    if missing or unexpected:
        raise KeyError(
            f'{source} does not match {type(module).__name__}: '
            f'{describe_key_mismatch(missing, unexpected)}. Was it converted with '
            f'tools/model_converters/convert.py for this architecture and width?')
    wrong_shapes = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                    for k, v in state_dict.items() if tuple(v.shape) != tuple(own[k].shape)]
    if wrong_shapes:
        raise ValueError(f'{source} has tensors of the wrong shape for '
                         f'{type(module).__name__} (another width or variant?): '
                         + '; '.join(wrong_shapes[:8]))
    # everything but absent optional keys was checked above
    module.load_state_dict(state_dict, strict=set(own) == set(state_dict))


def load_pretrained_strict(module: torch.nn.Module, filename: str, prefix=None, hint: str = '',
                           optional_prefixes=()):
    check_pretrained_exists(filename, hint)
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    state_dict = unwrap_state_dict(checkpoint)
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state_dict = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                                 if k.startswith(prefix))
        if not state_dict:
            raise KeyError(f'no key of {filename!r} starts with prefix {prefix!r}')
    load_state_dict_strict(module, state_dict, source=f'checkpoint {filename!r}',
                           optional_prefixes=optional_prefixes)


def _load_local_trusted(filename, map_location=None):
    # torch >= 2.6 defaults torch.load to weights_only=True, which rejects the message hub,
    # numpy scalars and configs that mmengine itself pickles into every checkpoint, so
    # --resume fails. Local checkpoints are the user's own files: load them the way mmengine
    # was written for (weights_only=False), exactly as torch < 2.6 did.
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def install_trusted_local_loader():
    """Register the loader for plain paths with mmengine's CheckpointLoader (its own hook)."""
    CheckpointLoader.register_scheme(prefixes='', loader=_load_local_trusted, force=True)
