"""Parameters and FLOPs of a detector config and of its backbone (no dataset needed).

    python tools/analysis/get_flops.py configs/faster_rcnn_ghostnet_fpn_1x.py --shape 800 1333
    python tools/analysis/get_flops.py configs/yolov4_ghostnet_416.py --shape 416 416 \
        --cfg-options model.neck.use_depthwise=False model.bbox_head.use_depthwise=False
"""

import argparse

from mmengine.config import Config, DictAction

import mmlight.registration  # noqa: F401
from mmlight.analysis import detector_complexity


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333], metavar=('H', 'W'))
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override config settings, key=value (as tools/train.py)',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    result = detector_complexity(cfg, args.shape)
    height, width = result['shape']
    print(
        f'{args.config} at {args.shape[0]}x{args.shape[1]} (padded to {height}x{width}); '
        f'FLOPs counted by mmengine (one multiply-add = one FLOP), test-time forward'
    )
    print('| part | params (M) | GFLOPs |\n|---|---|---|')
    for part in ('detector', 'backbone'):
        row = result[part]
        print(f'| {part} | {row["params"] / 1e6:.2f} | {row["flops"] / 1e9:.2f} |')


if __name__ == '__main__':
    main()
