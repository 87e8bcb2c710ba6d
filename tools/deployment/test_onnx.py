"""Evaluate an exported detector on the config's test set with mmdet's own evaluator (the COCO
AP that tools/test.py prints, for the deployed model), in onnxruntime or OpenVINO.

    python tools/deployment/test_onnx.py CONFIG FILE.onnx [--out preds.pkl]
    python tools/deployment/test_onnx.py CONFIG FILE.xml --backend openvino [--precision bf16]

``--out`` writes the same format as ``tools/test.py --out``. Images reach the model as the
config's test pipeline makes them; a graph exported without --dynamic accepts only images of
its size. OpenVINO reads the IR that export_onnx.py --backend openvino writes, or the .onnx.
"""
import argparse

from mmengine.config import DictAction

import mmlight  # noqa: F401
from mmlight.apis import load_detector_config
from mmlight.deployment.evaluate import evaluate_deployed
from mmlight.deployment.openvino import PRECISIONS
from mmlight.deployment.runner import load_runner, runner_options


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('model_file', help='the .onnx export (or, for OpenVINO, its .xml IR)')
    parser.add_argument('--backend', choices=['onnxruntime', 'openvino'], default='onnxruntime')
    parser.add_argument('--precision', choices=PRECISIONS,
                        help='OpenVINO inference precision (default: the one the IR was '
                        'exported for, else fp32)')
    parser.add_argument('--out', help='dump predictions to a pickle file (as tools/test.py)')
    parser.add_argument('--threads', type=int, default=0, help='runtime threads (0: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config settings, key=value (as tools/test.py)')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        options = runner_options(args.backend, args.precision, num_threads=args.threads)
    except ValueError as err:
        raise SystemExit(f'--precision: {err}')
    cfg = load_detector_config(args.config, args.cfg_options)
    detector = load_runner(args.backend, args.model_file, **options)
    if args.backend == 'openvino':  # what ran: bf16 falls back to f32 on CPUs without it
        layers = ', '.join(f'{count} in {precision}' for precision, count in
                           sorted(detector.compute_precisions().items()))
        print(f'OpenVINO: {detector.precision} asked for; inference precision '
              f'{detector.precision_used}; convolutions and matrix products: {layers}')
    metrics = evaluate_deployed(cfg, detector, out=args.out)
    print(metrics)


if __name__ == '__main__':
    main()
