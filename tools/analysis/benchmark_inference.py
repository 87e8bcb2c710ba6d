"""Per-image CPU inference latency (batch 1) and peak memory of detector configs in eager
PyTorch (mmdet's predict), eager with conv + BN fused, onnxruntime (the graph of
tools/deployment/export_onnx.py) and OpenVINO in FP32, BF16 and INT8 (where openvino and nncf
are installed), beside mmdet's R50 Faster R-CNN, R50 RetinaNet and RTMDet-tiny; params and
FLOPs per row; the CPU's measured matrix-product peak per precision and what each exported
runtime achieves of it; a markdown table, a JSON file and a PNG plot (one panel per image size).

    python tools/analysis/benchmark_inference.py      # every config of configs/ + references,
                                                      # at the demo size and at 800 x 1344
    python tools/analysis/benchmark_inference.py faster_rcnn_ghostnet_fpn_1x mmdet_rtmdet_tiny \
        --shape 800 1344 --iters 5 --plot docs/inference_benchmark.png

Configs are names under configs/, paths (``mmdet::PATH`` too), or mmdet_faster_rcnn_r50 /
mmdet_retinanet_r50 / mmdet_rtmdet_tiny; ``CONFIG:unfolded`` is CONFIG exported with its
backbone's training-time branches kept (RepViT, FastViT), a row beside CONFIG's that shows what
folding them buys. Weights
are random (latency does not depend on them; the score threshold keeps what it keeps, the
cost of NMS included). Latency: all runtimes of a config in one subprocess, timed in
alternating rounds (the median round counts). Peak memory: each runtime alone in a subprocess,
the peak resident set of building its model (torch weights or the onnxruntime session) and
running one image, above the process after its imports. A detector the ONNX
path does not support has no onnxruntime or OpenVINO row. The OpenVINO INT8 IR is
calibrated on a few random images (the weights are random too: this measures speed, not AP).
Achieved GFLOP/s counts two FLOPs per multiply-add of the row's FLOPs (mmengine counts one) over
the runtime's seconds; the peak is a 2048 x 2048 matrix product in torch in that precision
(FP32 for eager, fused and onnxruntime), measured once per run. With ``--json`` the rows are
written as they come, and a second run with the same ``--json`` measures only the rows still
missing.
``--profile`` measures instead where the time goes: seconds per image in each module of the
detector, eager and in each exported runtime of ``--runtimes`` (onnxruntime's profiler,
OpenVINO's performance counters), and in each of their operator types
(:mod:`mmlight.analysis.profile`).
"""

import argparse
import os.path as osp

# torch-free: a worker that measures an exported runtime's memory starts without the training
# stack (mmlight.analysis.benchmark_worker); the rest imports it when it runs
from mmlight.analysis.benchmark_worker import worker
from mmlight.analysis.runtimes import REFERENCES, available_runtimes, runtime_labels
from mmlight.utils.benchmark import emit_result

# the README demo's image size, and the 800 x 1333 class of COCO test sizes (padded to 32)
DEFAULT_SHAPES = [[192, 192], [800, 1344]]


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        'configs', nargs='*', help="default: every config of configs/, then mmdet's references"
    )
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        action='append',
        metavar=('H', 'W'),
        help=f'an image size (repeat for several; default {DEFAULT_SHAPES})',
    )
    parser.add_argument('--iters', type=int, default=5, help='timed calls per runtime')
    parser.add_argument('--json', help='write the rows here (and keep the rows it holds)')
    parser.add_argument('--plot', help='write the latency-vs-params PNG here')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='print where the time goes (per module, eager and in each '
        'exported runtime, and per operator type) instead of the latency table',
    )
    parser.add_argument(
        '--runtimes',
        nargs='+',
        choices=runtime_labels(),
        default=None,
        help='runtimes to measure: eager PyTorch, and each backend of the '
        'deployment backend table in each precision it runs (default: every '
        'one this environment has)',
    )
    parser.add_argument(
        '--memory',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='measure each runtime\'s peak memory (a subprocess per runtime; '
        '--no-memory: latency only)',
    )
    parser.add_argument(
        '--worker',
        choices=['timing', 'profile', 'peak'] + [f'memory-{r}' for r in runtime_labels()],
        help=argparse.SUPPRESS,
    )
    parser.add_argument('--onnx', help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.shape = args.shape or DEFAULT_SHAPES
    args.runtimes = args.runtimes or available_runtimes()
    args.script = osp.abspath(__file__)  # what runs each measurement in a fresh process
    return args


def main():
    args = parse_args()
    if args.worker:
        emit_result(worker(args))
        return
    from mmlight.analysis.inference_benchmark import run
    from mmlight.apis import config_names

    args.configs = args.configs or config_names() + sorted(REFERENCES)
    run(args)


if __name__ == '__main__':
    main()
