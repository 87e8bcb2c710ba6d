"""Pretrained backbone loading: the registry of per-family checkpoint filters (official /
timm / torchvision / mmpretrain layouts converted on load) and strict loading of a backbone's
weights from a file, a URL or a named scheme."""

import os.path as osp
from collections.abc import Callable, Iterable

import torch

from .safe_load import has_scheme, load_checkpoint
from .state_dict import load_state_dict_strict, strip_key_prefix, unwrap_state_dict

SCRATCH_OPTION = '--cfg-options model.backbone.init_cfg=None'


def missing_checkpoint_message(filename: str, hint: str = '') -> str:
    lines = [f'Pretrained backbone checkpoint {filename!r} does not exist.']
    if hint:
        lines.append(hint.strip())
    lines.append(f'To train from scratch instead, add: {SCRATCH_OPTION}')
    return '\n'.join(lines)


def check_pretrained_exists(filename: str, hint: str = ''):
    """Raise FileNotFoundError with instructions when a local pretrained file is missing."""
    if not has_scheme(filename) and not osp.isfile(osp.expanduser(filename)):
        raise FileNotFoundError(missing_checkpoint_message(filename, hint))


# backbone class name -> function(state_dict, source) -> state_dict in mmlight's layout.
# Each family's converter registers itself here (timm's checkpoint_filter_fn idea), so that
# models can load official / timm / torchvision / mmpretrain files without importing them.
_CHECKPOINT_FILTERS: dict[str, Callable] = {}


def register_checkpoint_filter(*class_names: str):

    def register(func):
        for name in class_names:
            _CHECKPOINT_FILTERS[name] = func
        return func

    return register


def unregister_checkpoint_filter(*class_names: str) -> None:
    """Remove the checkpoint filter of these backbone classes (a family taken out again)."""
    for name in class_names:
        _CHECKPOINT_FILTERS.pop(name, None)


def checkpoint_filter_for(module: torch.nn.Module) -> Callable | None:
    for cls in type(module).__mro__:
        if cls.__name__ in _CHECKPOINT_FILTERS:
            return _CHECKPOINT_FILTERS[cls.__name__]
    return None


def load_pretrained_strict(
    module: torch.nn.Module,
    filename: str,
    prefix=None,
    hint: str = '',
    optional_prefixes: Iterable[str] = (),
):
    """Load a backbone's pretrained weights: an mmlight file, a detector checkpoint's
    ``backbone.*`` part, or an official/timm/torchvision/mmpretrain file (converted here by the
    family's registered filter); strictly."""
    check_pretrained_exists(filename, hint)
    state_dict = unwrap_state_dict(load_checkpoint(filename))
    if prefix:
        state_dict = strip_key_prefix(state_dict, prefix)
        if not state_dict:
            raise KeyError(f'no key of {filename!r} starts with prefix {prefix!r}')
    else:
        for common in ('module.', 'backbone.'):
            state_dict = strip_key_prefix(state_dict, common, only_if_all=True)
    source = f'checkpoint {filename!r}'
    # a backbone whose key layout depends on how it was built (the timm backbones) converts
    # with its own filter (timm's checkpoint_filter_fn(state_dict, model)); the others with
    # their family's
    convert = getattr(module, 'checkpoint_filter', None) or checkpoint_filter_for(module)
    if convert is not None:
        state_dict = convert(state_dict, source=source)
    load_state_dict_strict(module, state_dict, source=source, optional_prefixes=optional_prefixes)
