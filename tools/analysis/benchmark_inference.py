"""Per-image CPU inference latency (batch 1) and peak memory of detector configs in eager
PyTorch (mmdet's predict), eager with conv + BN fused, and onnxruntime (the graph of
tools/deployment/export_onnx.py), beside mmdet's R50 Faster R-CNN and RTMDet-tiny; params and
FLOPs per row; a markdown table, a JSON file and a PNG plot (latency vs params).

    python tools/analysis/benchmark_inference.py                       # the default set
    python tools/analysis/benchmark_inference.py faster_rcnn_ghostnet_fpn_1x mmdet_rtmdet_tiny \
        --shape 800 1344 --iters 5 --plot docs/inference_benchmark.png

Configs are names under configs/, paths, or mmdet_faster_rcnn_r50 / mmdet_rtmdet_tiny. Weights
are random (latency does not depend on them; the score threshold keeps what it keeps, the
cost of NMS included). Latency: all runtimes of a config in one subprocess, timed in
alternating rounds (the median round counts). Peak memory: each runtime alone in a subprocess,
the peak resident set of building its model (torch weights or the onnxruntime session) and
running one image, above the process after its imports. A detector the ONNX
path does not support (RTMDet) has no onnxruntime row.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile

import torch

import mmlight  # noqa: F401
from mmlight.analysis import detector_complexity
from mmlight.analysis.inference import RUNTIMES, inference_fns, resolve_config
from mmlight.deployment.build import build_detector
from mmlight.deployment.detector import detector_layout
from mmlight.deployment.onnx import export_onnx
from mmlight.utils.benchmark import PeakMemory, alternating_rounds, emit_result, run_isolated

DEFAULT = ['faster_rcnn_ghostnet_fpn_1x', 'faster_rcnn_shufflenetv2_fpn_1x',
           'yolov4_ghostnet_416', 'mmdet_faster_rcnn_r50', 'mmdet_rtmdet_tiny']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='*', default=DEFAULT)
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1344], metavar=('H', 'W'))
    parser.add_argument('--iters', type=int, default=5, help='timed calls per runtime')
    parser.add_argument('--json', help='write the rows here')
    parser.add_argument('--plot', help='write the latency-vs-params PNG here')
    parser.add_argument('--worker', choices=['timing'] + [f'memory-{r}' for r in RUNTIMES],
                        help=argparse.SUPPRESS)
    parser.add_argument('--onnx', help=argparse.SUPPRESS)
    parser.add_argument('--runtimes', nargs='+', default=list(RUNTIMES), help=argparse.SUPPRESS)
    return parser.parse_args()


def worker(args):
    if args.worker == 'timing':
        detector = build_detector(resolve_config(args.configs[0]))
        fns = inference_fns(detector, args.shape, args.runtimes, args.onnx)
        seconds = alternating_rounds(fns, args.iters, warmup=1)
        return {f'{runtime}_s': value for runtime, value in seconds.items()}
    # the whole footprint of one runtime: its model (torch weights, or the onnxruntime
    # session, which does not build the torch model) and one call, above the imports
    runtime = args.worker[len('memory-'):]
    with PeakMemory(torch.device('cpu')) as memory:
        detector = None if runtime == 'onnxruntime' else build_detector(
            resolve_config(args.configs[0]))
        inference_fns(detector, args.shape, [runtime], args.onnx)[runtime]()
    return {f'{runtime}_peak_mib': memory.mib}


def run_worker(args, config, mode, runtimes, onnx_file):
    cmd = [sys.executable, osp.abspath(__file__), config, '--worker', mode, '--shape',
           *map(str, args.shape), '--iters', str(args.iters), '--runtimes', *runtimes]
    if onnx_file:
        cmd += ['--onnx', onnx_file]
    return run_isolated(cmd, f'{config} ({mode})')


def measure(args, config, tmp):
    path = resolve_config(config)
    detector = build_detector(path)
    complexity = detector_complexity(path, args.shape)
    row = dict(config=config, shape=list(args.shape),
               params_m=complexity['detector']['params'] / 1e6,
               gflops=complexity['detector']['flops'] / 1e9)
    runtimes = ['eager', 'eager_fused']
    onnx_file = None
    try:
        detector_layout(detector)
        onnx_file = export_onnx(detector, osp.join(tmp, config + '.onnx'), args.shape)
        runtimes.append('onnxruntime')
    except ValueError as err:  # a detector the ONNX path does not cover
        row['onnx'] = str(err)
    row.update(run_worker(args, config, 'timing', runtimes, onnx_file))
    for runtime in runtimes:
        row.update(run_worker(args, config, f'memory-{runtime}', [runtime], onnx_file))
    return row


def print_table(rows):
    print('| config | params (M) | GFLOPs | eager (s) | fused (s) | onnxruntime (s) | '
          'eager / onnxruntime | peak MiB eager / fused / ort |')
    print('|---|---|---|---|---|---|---|---|')
    for row in rows:
        def cell(key, fmt='{:.3f}'):
            return fmt.format(row[key]) if key in row else 'n/a'
        speedup = (f"{row['eager_s'] / row['onnxruntime_s']:.2f}x"
                   if 'onnxruntime_s' in row else 'n/a')
        memory = ' / '.join(cell(f'{r}_peak_mib', '{:.0f}') for r in RUNTIMES)
        print(f"| {row['config']} | {row['params_m']:.2f} | {row['gflops']:.1f} | "
              f"{cell('eager_s')} | {cell('eager_fused_s')} | {cell('onnxruntime_s')} | "
              f'{speedup} | {memory} |')


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = dict(eager='o', eager_fused='s', onnxruntime='^')
    for runtime, marker in markers.items():
        points = [(row['params_m'], row[f'{runtime}_s'], row['config']) for row in rows
                  if f'{runtime}_s' in row]
        if points:
            ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, s=60,
                       label=runtime)
    for row in rows:
        ax.annotate(row['config'], (row['params_m'], row['eager_s']), fontsize=7,
                    xytext=(4, 4), textcoords='offset points')
    height, width = rows[0]['shape']
    ax.set_xlabel('parameters (M)')
    ax.set_ylabel('seconds per image (batch 1)')
    ax.set_title(f'CPU inference at {height}x{width}, {os.cpu_count()} cores')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def main():
    args = parse_args()
    if args.worker:
        emit_result(worker(args))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            rows.append(measure(args, config, tmp))
            print(json.dumps(rows[-1]), flush=True)
    print_table(rows)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    if args.plot:
        print(f'plot: {plot(rows, args.plot)}')


if __name__ == '__main__':
    main()
