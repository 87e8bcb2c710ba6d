"""State-dict surgery and strict loading: unwrap a checkpoint's weights, take a model's
entries out of a wrapper prefix, and load with an error that lists every mismatch."""

from collections import OrderedDict

import torch


def unwrap_state_dict(checkpoint) -> dict[str, torch.Tensor]:
    """The weights of a checkpoint saved by mmengine, timm, torchvision or official repos."""
    for key in ('state_dict', 'model', 'state_dict_ema', 'model_ema'):
        if isinstance(checkpoint, dict) and key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    if not isinstance(checkpoint, dict):
        raise TypeError(f'a checkpoint must be a dict of tensors, got {type(checkpoint)}')
    not_tensors = [k for k, v in checkpoint.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise TypeError(
            f'the checkpoint holds no state_dict/model entry and is not a dict of '
            f'tensors: its keys include {not_tensors[:5]}'
        )
    return checkpoint


def strip_key_prefix(state_dict, prefix: str, only_if_all: bool = False, only_if_any: bool = False):
    """Keys under ``prefix`` with it removed (the others dropped): the one place that takes a
    model's entries out of a wrapper (``module.``, ``backbone.``, ``model.``). With
    ``only_if_all`` (``only_if_any``) the state_dict is returned unchanged unless every key
    (some key) has the prefix."""
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    has_prefix = [k.startswith(prefix) for k in state_dict]
    if (only_if_all and not (has_prefix and all(has_prefix))) or (
        only_if_any and not any(has_prefix)
    ):
        return state_dict
    return OrderedDict((k[len(prefix) :], v) for k, v in state_dict.items() if k.startswith(prefix))


def keys_without_prefix(keys, prefix: str):
    """:func:`strip_key_prefix` for a list of keys (layout detection): the keys under
    ``prefix`` without it where any has it, else the keys unchanged."""
    return list(strip_key_prefix(dict.fromkeys(keys), prefix, only_if_any=True))


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


def load_state_dict_strict(
    module: torch.nn.Module, state_dict, source: str = 'checkpoint', optional_prefixes=()
):
    """load_state_dict(strict=True) with an error that lists what does not match.

    Keys under ``optional_prefixes`` (layers that exist only in the detection backbone, e.g.
    HorNet's per-level output norms) may be absent from the checkpoint (they keep their
    initialisation) or present for levels the model does not output (they are skipped).
    """
    own = module.state_dict()
    optional = tuple(optional_prefixes)
    state_dict = OrderedDict(
        (k, v)
        for k, v in state_dict.items()
        if not (optional and k.startswith(optional) and k not in own)
    )
    missing = {k for k in set(own) - set(state_dict) if not (optional and k.startswith(optional))}
    unexpected = set(state_dict) - set(own)
    if missing or unexpected:
        raise KeyError(
            f'{source} does not match {type(module).__name__}: '
            f'{describe_key_mismatch(missing, unexpected)}. Is it for this architecture and '
            f'width?'
        )
    wrong_shapes = [
        f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
        for k, v in state_dict.items()
        if tuple(v.shape) != tuple(own[k].shape)
    ]
    if wrong_shapes:
        raise ValueError(
            f'{source} has tensors of the wrong shape for '
            f'{type(module).__name__} (another width or variant?): ' + '; '.join(wrong_shapes[:8])
        )
    # everything but absent optional keys was checked above
    module.load_state_dict(state_dict, strict=set(own) == set(state_dict))
