"""Which backbone a converted state_dict is for, read off its tensor shapes.

Each family lists the backbones its files can be (every width and variant the family builds;
GhostNet's continuous width is read from its final 1x1 conv). A candidate fits when its
parameters and buffers have exactly the state_dict's names and shapes; candidates are built on
torch's meta device for that check, so trying a large one costs no memory and no init.
"""

import torch

from ..models.backbones.ghostnet import GHOSTNET_ARCH
from ..models.backbones.hornet import HORNET_ARCH
from ..models.backbones.odnet import MOBILENETV2_WIDTHS, ODRESNET_ARCH
from ..models.backbones.shufflenet import (
    SHUFFLENETV1_CHANNELS,
    SHUFFLENETV1_WIDTHS,
    SHUFFLENETV2_CHANNELS,
    shufflenetv1_channels,
)

GHOSTNET_FINAL_CHANNELS = GHOSTNET_ARCH[-1][-1][1]
ODCONV_REDUCTION = 0.0625  # the official configs' reduction of every ODConv attention


def _ghostnet(state_dict) -> list[dict]:
    final = state_dict.get('stages.4.conv.weight')
    if final is None:
        return []
    # make_divisible(960 * w, 4): w to within 4 / 960; the papers' widths have one or two
    # decimals
    exact = final.shape[0] / GHOSTNET_FINAL_CHANNELS
    widths = list(dict.fromkeys([round(exact, 2), round(exact, 1), round(exact, 3)]))
    types = ('GhostNetV2', 'GhostNet') if any('.dfc.' in k for k in state_dict) else ('GhostNet',)
    return [dict(type=t, widen_factor=w) for t in types for w in widths]


def _od_cfg(state_dict) -> dict | None:
    if not any('.attention.' in k for k in state_dict):
        return None
    kernel_fc = [v for k, v in state_dict.items() if k.endswith('attention.kernel_fc.weight')]
    kernel_num = int(kernel_fc[0].shape[0]) if kernel_fc else 1
    return dict(kernel_num=kernel_num, reduction=ODCONV_REDUCTION)


FAMILY_VARIANTS = {
    'ghostnet': _ghostnet,
    'hornet': lambda sd: [dict(type='HorNet', arch=arch) for arch in HORNET_ARCH],
    'odresnet': lambda sd: [
        dict(type='ODResNet', depth=depth, od_cfg=_od_cfg(sd)) for depth in ODRESNET_ARCH
    ],
    'odmobilenetv2': lambda sd: [
        dict(type='ODMobileNetV2', widen_factor=width, od_cfg=_od_cfg(sd))
        for width in MOBILENETV2_WIDTHS
    ],
    'shufflenetv1': lambda sd: [
        dict(type='ShuffleNetV1', groups=groups, widen_factor=width)
        for groups in SHUFFLENETV1_CHANNELS
        for width in SHUFFLENETV1_WIDTHS
        if shufflenetv1_channels(groups, width)
    ],
    'shufflenetv2': lambda sd: [
        dict(type='ShuffleNetV2', widen_factor=width) for width in SHUFFLENETV2_CHANNELS
    ],
}


def shape_mismatch(cfg: dict, state_dict) -> str | None:
    """None when ``cfg``'s backbone has exactly the state_dict's tensors (names and shapes;
    its detection-only layers may be absent), else what differs."""
    from mmdet.registry import MODELS

    with torch.device('meta'):
        backbone = MODELS.build(dict(cfg))
    own = {k: tuple(v.shape) for k, v in backbone.state_dict().items()}
    optional = tuple(getattr(backbone, 'detection_only_prefixes', ()))
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
    if family not in FAMILY_VARIANTS:
        raise ValueError(f'unknown family {family!r}; valid choices: {sorted(FAMILY_VARIANTS)}')
    failures = []
    for cfg in FAMILY_VARIANTS[family](state_dict):
        mismatch = shape_mismatch(cfg, state_dict)
        if mismatch is None:
            return cfg
        failures.append(f'{cfg}: {mismatch}')
    raise ValueError(
        f'{origin}, converted as {family}, fits none of the {family} backbones '
        f'mmlight builds. Tried:\n  ' + '\n  '.join(failures or ['nothing'])
    )
