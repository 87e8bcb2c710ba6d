"""Time COCO evaluation: mmdet's CocoMetric vs mmlight's FastCocoMetric (faster-coco-eval), on
the same synthetic COCO-format set and predictions, in one run (alternating rounds), and check
that they give the same numbers.

    python tools/analysis/benchmark_coco_eval.py                  # 5000 images, bbox and segm
    python tools/analysis/benchmark_coco_eval.py --images 1000 --metric bbox
"""

import argparse
import copy
import os.path as osp
import tempfile

from mmdet.registry import METRICS
from mmengine.logging import MMLogger

import mmlight.registration  # noqa: F401
from mmlight.testing.synthetic_coco import write_coco_set
from mmlight.utils.benchmark import alternating_rounds


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--images', type=int, default=5000)
    parser.add_argument('--classes', type=int, default=20)
    parser.add_argument(
        '--metric', nargs='+', default=['bbox', 'segm'], choices=['bbox', 'segm', 'proposal']
    )
    parser.add_argument('--iters', type=int, default=2, help='timed evaluations of each')
    return parser.parse_args()


def main():
    args = parse_args()
    MMLogger.get_instance('mmengine', log_level='ERROR')
    with tempfile.TemporaryDirectory() as tmp:
        ann_file = osp.join(tmp, 'synthetic.json')
        predictions = write_coco_set(
            ann_file,
            num_images=args.images,
            num_classes=args.classes,
            with_masks='segm' in args.metric,
        )
        classes = tuple(f'class_{i}' for i in range(args.classes))
        metrics, outputs = {}, {}
        for name in ('CocoMetric', 'FastCocoMetric'):
            metric = METRICS.build(dict(type=name, ann_file=ann_file, metric=args.metric))
            metric.dataset_meta = dict(classes=classes)
            metrics[name] = metric

        def evaluate(name):
            results = [(dict(), p) for p in copy.deepcopy(predictions)]
            outputs[name] = metrics[name].compute_metrics(results)

        seconds = alternating_rounds(
            {name: (lambda n=name: evaluate(n)) for name in metrics}, args.iters, warmup=0
        )
    num_predictions = sum(len(p['scores']) for p in predictions)
    differences = max(
        abs(outputs['FastCocoMetric'][k] - v) for k, v in outputs['CocoMetric'].items()
    )
    print(
        f'\n{args.images} images, {num_predictions} predictions, metric {args.metric}; '
        f'median of {args.iters} evaluations each'
    )
    print('| metric | seconds | speed-up |\n|---|---|---|')
    for name, value in seconds.items():
        print(f'| {name} | {value:.2f} | {seconds["CocoMetric"] / value:.2f}x |')
    print(f'max abs difference of the reported numbers: {differences:.1e}')


if __name__ == '__main__':
    main()
