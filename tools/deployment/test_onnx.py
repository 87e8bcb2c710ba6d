"""Evaluate an exported detector in onnxruntime on the config's test set with mmdet's own
evaluator (the COCO AP that tools/test.py prints, for the ONNX graph).

    python tools/deployment/test_onnx.py CONFIG FILE.onnx [--out preds.pkl]

``--out`` writes the same format as ``tools/test.py --out``. Images reach the graph as the
config's test pipeline makes them; a graph exported without --dynamic accepts only images of
its size.
"""
import argparse

from mmengine.config import DictAction

import mmlight  # noqa: F401
from mmlight.apis import load_detector_config
from mmlight.deployment.evaluate import evaluate_onnx


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('onnx_file')
    parser.add_argument('--out', help='dump predictions to a pickle file (as tools/test.py)')
    parser.add_argument('--threads', type=int, default=0, help='onnxruntime threads (0: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config settings, key=value (as tools/test.py)')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_detector_config(args.config, args.cfg_options)
    metrics = evaluate_onnx(cfg, args.onnx_file, out=args.out, num_threads=args.threads)
    print(metrics)


if __name__ == '__main__':
    main()
