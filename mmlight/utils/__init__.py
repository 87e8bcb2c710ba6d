"""Utilities below every other mmlight module: safe checkpoint loading, state-dict surgery,
pretrained-backbone loading, downloads, argument validators and benchmark timing."""

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
