"""Utilities below every other mmlight module: safe checkpoint loading, state-dict surgery,
pretrained-backbone loading, downloads, argument validators and benchmark timing.

The names below are imported on first use: a torch-free module of this package (benchmark,
validators, package_configs) imports neither torch nor mmengine through it.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pretrained import (
        check_pretrained_exists,
        checkpoint_filter_for,
        load_pretrained_strict,
        register_checkpoint_filter,
    )
    from .safe_load import (
        CorruptCheckpointError,
        UnsafeCheckpointError,
        load_checkpoint,
        load_checkpoint_file,
        safe_checkpoint_loading,
        trust_checkpoint,
    )
    from .state_dict import (
        keys_without_prefix,
        load_state_dict_strict,
        strip_key_prefix,
        unwrap_state_dict,
    )

# name -> the module of this package that defines it
_MODULES = {
    'check_pretrained_exists': 'pretrained',
    'checkpoint_filter_for': 'pretrained',
    'load_pretrained_strict': 'pretrained',
    'register_checkpoint_filter': 'pretrained',
    'CorruptCheckpointError': 'safe_load',
    'UnsafeCheckpointError': 'safe_load',
    'load_checkpoint': 'safe_load',
    'load_checkpoint_file': 'safe_load',
    'safe_checkpoint_loading': 'safe_load',
    'trust_checkpoint': 'safe_load',
    'keys_without_prefix': 'state_dict',
    'load_state_dict_strict': 'state_dict',
    'strip_key_prefix': 'state_dict',
    'unwrap_state_dict': 'state_dict',
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'.{_MODULES[name]}', __name__), name)


__all__ = [
    'CorruptCheckpointError',
    'UnsafeCheckpointError',
    'check_pretrained_exists',
    'checkpoint_filter_for',
    'keys_without_prefix',
    'load_checkpoint',
    'load_checkpoint_file',
    'load_pretrained_strict',
    'load_state_dict_strict',
    'register_checkpoint_filter',
    'safe_checkpoint_loading',
    'strip_key_prefix',
    'trust_checkpoint',
    'unwrap_state_dict',
]
