"""Time mmlight models beside their reference implementations, with the same weights, in one
run: forward and forward+backward images/s, peak memory, params and FLOPs.

    python tools/analysis/benchmark_backbones.py                          # the backbone pairs
    python tools/analysis/benchmark_backbones.py odresnet50 --batch 2 --size 800 1333
    python tools/analysis/benchmark_backbones.py faster_rcnn_odconv_r50 --batch 2 --size 800 1333
    python tools/analysis/benchmark_backbones.py ghostnet --device cuda --batch 8

Backbone pairs compare an mmlight backbone with a third-party one (timm, torchvision,
mmpretrain) after converting the reference's weights; the ODConv pairs compare mmlight's
ODConv2d formulation with the official code's formulation in the same module. Detector pairs
(``faster_rcnn_*``) time a full training step (loss + backward + SGD) of two detectors on the
same random images and boxes; their "reference" is the baseline detector.

Timing runs both implementations in one subprocess, in alternating rounds (the median round
counts), so that drifts of a shared machine hit both alike. Peak memory is measured with each
implementation alone in a subprocess (CUDA: max allocated; CPU: the peak resident set, reset
through /proc/self/clear_refs, minus the resident set before the measured iteration). Ratios
are mmlight / reference throughput (> 1: mmlight faster) and mmlight / reference memory.
"""

import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmlight.analysis.backbone_benchmark import (  # noqa: E402
    DEFAULT_PAIRS,
    DETECTOR_PAIRS,
    PAIRS,
    run,
    worker,
)
from mmlight.testing import references  # noqa: E402
from mmlight.utils.benchmark import emit_result  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    choices = sorted(PAIRS) + sorted(DETECTOR_PAIRS)
    parser.add_argument(
        'pairs',
        nargs='*',
        default=[],
        metavar='PAIR',
        help=f'what to compare (default: {list(DEFAULT_PAIRS)}); one of {choices}',
    )
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[320, 320], metavar=('H', 'W'))
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--json', help='also write the rows to this file')
    parser.add_argument(
        '--worker', choices=['timing', 'memory-reference', 'memory-mmlight'], help=argparse.SUPPRESS
    )
    parser.add_argument('--reference-weights', help=argparse.SUPPRESS)
    parser.add_argument('--mmlight-weights', help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.script = osp.abspath(__file__)  # what runs each measurement in a fresh process
    args.references = references
    for pair in args.pairs:
        if pair not in choices:
            parser.error(f'unknown pair {pair!r}; valid choices: {choices}')
    return args


def main():
    args = parse_args()
    if args.worker:
        emit_result(worker(args))
        return
    run(args)


if __name__ == '__main__':
    main()
