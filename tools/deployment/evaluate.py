"""Evaluate an exported detector on the config's test set with mmdet's own evaluator (the COCO
AP that tools/test.py prints, for the deployed model), in any backend of the backend table
(onnxruntime, OpenVINO).

    python tools/deployment/evaluate.py CONFIG FILE.onnx [--out preds.pkl]
    python tools/deployment/evaluate.py CONFIG FILE.xml --backend openvino [--precision bf16]

``--out`` writes the same format as ``tools/test.py --out``. Images reach the model as the
config's test pipeline makes them; a graph exported without --dynamic accepts only images of
its size. OpenVINO reads the IR that export_onnx.py --backend openvino writes, or the .onnx.
"""

import argparse

from mmengine.config import DictAction

import mmlight.registration  # noqa: F401
from mmlight.apis import load_detector_config
from mmlight.deployment.backends import (
    all_precisions,
    backend_names,
    get_backend,
    load_runner,
)
from mmlight.deployment.evaluate import evaluate_deployed


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('config')
    parser.add_argument(
        'model_file', help="the backend's model file (the .onnx export; for OpenVINO its .xml IR)"
    )
    parser.add_argument('--backend', choices=backend_names(), default=backend_names()[0])
    parser.add_argument(
        '--precision',
        choices=all_precisions(),
        help='inference precision (default: the one the model was exported '
        "for, else the backend's first)",
    )
    parser.add_argument('--out', help='dump predictions to a pickle file (as tools/test.py)')
    parser.add_argument('--threads', type=int, default=0, help='runtime threads (0: all)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override config settings, key=value (as tools/test.py)',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_detector_config(args.config, args.cfg_options)
    try:
        get_backend(args.backend).check_precision(args.precision)
    except ValueError as err:
        raise SystemExit(f'--precision: {err}') from None
    detector = load_runner(args.backend, args.model_file, args.precision, num_threads=args.threads)
    description = detector.describe()  # what ran: bf16 falls back to f32 on CPUs without it
    if description:
        print(description)
    metrics = evaluate_deployed(cfg, detector, out=args.out)
    print(metrics)


if __name__ == '__main__':
    main()
