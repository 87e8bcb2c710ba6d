"""Write a PNG of ground truth beside a detector's predictions on a few validation images.

python tools/analysis/show_predictions.py CONFIG CHECKPOINT [--out predictions.png]
"""

import argparse
import os.path as osp

import mmlight.registration  # noqa: F401
from mmlight.visualization import prediction_grid


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', default='predictions.png', help='PNG file to write')
    parser.add_argument('--num', type=int, default=6, help='number of validation images')
    parser.add_argument('--columns', type=int, default=2)
    parser.add_argument('--score-thr', type=float, default=0.5)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def main():
    args = parse_args()
    path = prediction_grid(
        args.config,
        args.checkpoint,
        args.out,
        num_images=args.num,
        columns=args.columns,
        score_thr=args.score_thr,
        device=args.device,
    )
    print(f'predictions (right) vs ground truth (left): {osp.abspath(path)}')


if __name__ == '__main__':
    main()
