"""Which backbone a converted state_dict is for, read off its tensor shapes.

Each family's record lists the backbones its files can be (``variants``: every width and
variant the family builds; GhostNet's continuous width is read from its final 1x1 conv). A
candidate fits when its parameters and buffers have exactly the state_dict's names and shapes;
candidates are built on torch's meta device for that check, so trying a large one costs no
memory and no init.
"""

import torch

from mmlight.family import FAMILIES

# (backbone class, repr of its config) -> (its tensors' shapes by name, detection-only prefixes):
# every conversion tries the same variants, and building a large one takes seconds even on
# the meta device
_TENSOR_SHAPES: dict[tuple, tuple[dict[str, tuple[int, ...]], tuple[str, ...]]] = {}


def _tensor_shapes(cfg: dict) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...]]:
    from mmdet.registry import MODELS

    key = (MODELS.get(cfg['type']), repr(cfg))
    if key not in _TENSOR_SHAPES:
        with torch.device('meta'):
            backbone = MODELS.build(dict(cfg))
        _TENSOR_SHAPES[key] = (
            {k: tuple(v.shape) for k, v in backbone.state_dict().items()},
            tuple(getattr(backbone, 'detection_only_prefixes', ())),
        )
    return _TENSOR_SHAPES[key]


def shape_mismatch(cfg: dict, state_dict) -> str | None:
    """None when ``cfg``'s backbone has exactly the state_dict's tensors (names and shapes;
    its detection-only layers may be absent), else what differs."""
    own, optional = _tensor_shapes(cfg)
    missing = [k for k in own if k not in state_dict and not (optional and k.startswith(optional))]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        first = f', e.g. {(missing or unexpected)[0]}'
        return f'{len(missing)} missing keys, {len(unexpected)} unexpected keys{first}'
    shapes = [k for k in state_dict if tuple(state_dict[k].shape) != own[k]]
    if shapes:
        return (
            f'{len(shapes)} tensors of another shape, e.g. {shapes[0]}: '
            f'{tuple(state_dict[shapes[0]].shape)} vs {own[shapes[0]]}'
        )
    return None


def infer_backbone(
    family: str, state_dict: dict[str, torch.Tensor], origin: str = 'the checkpoint'
) -> dict:
    """The config of the backbone that ``state_dict`` (in mmlight's layout, converted by
    ``family``'s converter) was made for: the first of the family's variants whose tensors it
    holds exactly. Raises ValueError naming each variant tried and what did not fit."""
    if family not in FAMILIES:
        raise ValueError(f'unknown family {family!r}; valid choices: {sorted(FAMILIES)}')
    failures = []
    for cfg in FAMILIES[family].variants(state_dict):
        mismatch = shape_mismatch(cfg, state_dict)
        if mismatch is None:
            return cfg
        failures.append(f'{cfg}: {mismatch}')
    raise ValueError(
        f'{origin}, converted as {family}, fits none of the {family} backbones '
        f'mmlight builds. Tried:\n  ' + '\n  '.join(failures or ['nothing'])
    )
