"""Convert an official / timm / torchvision / mmpretrain checkpoint into an mmlight backbone
checkpoint, loadable with ``init_cfg=dict(type='Pretrained', checkpoint=OUT)``.

    python tools/model_converters/convert.py ghostnet ghostnet_1x.pth checkpoints/ghostnet_1.0x_imagenet.pth
"""
import argparse
import os
import os.path as osp

import torch

from mmlight.converters import CONVERTERS, convert_state_dict
from mmlight.utils.checkpoint import unwrap_state_dict


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', choices=sorted(CONVERTERS), help='checkpoint family/format')
    parser.add_argument('src', help='input checkpoint')
    parser.add_argument('dst', help='output mmlight checkpoint')
    return parser.parse_args()


def main():
    args = parse_args()
    # Official checkpoints are plain pickles (some with argparse namespaces); only convert
    # files you trust.
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=False)
    state_dict = convert_state_dict(args.source, unwrap_state_dict(checkpoint))
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save({'state_dict': state_dict, 'meta': {'converted_from': osp.basename(args.src),
                                                   'converter': args.source}}, args.dst)
    print(f'saved {len(state_dict)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
