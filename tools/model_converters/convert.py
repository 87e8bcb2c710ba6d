"""Convert an official / timm / torchvision / mmpretrain checkpoint into an mmlight backbone
checkpoint, loadable with ``init_cfg=dict(type='Pretrained', checkpoint=OUT)``.

    python tools/model_converters/convert.py ghostnet ghostnet_1x.pth checkpoints/ghostnet_1.0x.pth
    python tools/model_converters/convert.py ghostnet ghostnet_050.pth out.pth \\
        --model type=GhostNet widen_factor=0.5

The offline alternative to ``checkpoint='mmlight://NAME'`` (which downloads and converts by
itself), and optional: Pretrained loading converts unconverted files on load. The result is
loaded strictly into its backbone before it is written: ``--model`` names the backbone, or it is
inferred from the tensor shapes (any width or variant the family builds). The input is
read with ``weights_only=True`` and mmlight's allow-list; ``--trust-checkpoint`` opts a file in
to full unpickling.
"""

import argparse
import os
import os.path as osp

import torch
from mmdet.registry import MODELS
from mmengine.config import DictAction

import mmlight.registration  # noqa: F401
from mmlight.apis import add_trust_checkpoint_argument
from mmlight.converters import convert_state_dict, converter_names, infer_backbone
from mmlight.utils.safe_load import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    load_checkpoint_file,
    trust_checkpoint,
)
from mmlight.utils.state_dict import load_state_dict_strict, unwrap_state_dict


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('source', choices=converter_names(), help='checkpoint family')
    parser.add_argument('src', help='input checkpoint')
    parser.add_argument('dst', help='output mmlight checkpoint')
    parser.add_argument(
        '--model',
        nargs='+',
        action=DictAction,
        metavar='KEY=VALUE',
        help='the backbone the weights are for, e.g. type=GhostNet widen_factor=0.5 (default: '
        'inferred from the tensor shapes)',
    )
    add_trust_checkpoint_argument(parser)
    return parser.parse_args()


def checked_backbone(family: str, state_dict, model_cfg=None, origin='the checkpoint'):
    """The backbone config that ``state_dict`` loads into strictly: ``model_cfg`` if given,
    else the variant of the family that its tensor shapes say."""
    try:
        cfg = dict(model_cfg) if model_cfg else infer_backbone(family, state_dict, origin)
        backbone = MODELS.build(dict(cfg))
        load_state_dict_strict(
            backbone, state_dict, source=origin, optional_prefixes=backbone.detection_only_prefixes
        )
    except (KeyError, ValueError) as err:
        raise SystemExit(f'convert.py: {err}\nPass --model to name the backbone.') from None
    return cfg


def main():
    args = parse_args()
    for path in args.trust_checkpoint:
        trust_checkpoint(path)
    try:
        checkpoint = load_checkpoint_file(args.src)
        state_dict = convert_state_dict(args.source, unwrap_state_dict(checkpoint), origin=args.src)
    except (
        OSError,
        ValueError,
        TypeError,
        CorruptCheckpointError,
        UnsafeCheckpointError,
    ) as err:  # what a wrong input gives: one line, no traceback
        raise SystemExit(f'convert.py: {err}') from None
    model_cfg = checked_backbone(args.source, state_dict, args.model, origin=args.src)
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(
        {
            'state_dict': state_dict,
            'meta': {
                'converted_from': osp.basename(args.src),
                'converter': args.source,
                'model': model_cfg,
            },
        },
        args.dst,
    )
    print(f'saved {len(state_dict)} tensors for {model_cfg} to {args.dst}')


if __name__ == '__main__':
    main()
