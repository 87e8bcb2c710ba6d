"""End to end: image files to detections through mmlight.runtime, stage by stage (decode and
resize, the graph, back to the image), with one request and with several in flight, beside the
full stack (mmcv's test pipeline, the same runner); and the cold start of a process (imports,
loading the model, the first image) of the runtime alone (torch, mmcv, mmengine and mmdet
blocked, as in a runtime-only install) against the full stack's.

    python tools/analysis/benchmark_runtime.py MODEL IMAGE_OR_FOLDER... [--config CONFIG]
        [--requests 1 2 4] [--rounds 3] [--json FILE]

MODEL is a file of tools/deployment/export_onnx.py; CONFIG, its config, adds the full stack's
rows. A markdown table; the CPU and versions go with it in docs/benchmarks.md.
"""

import argparse
import json
import platform

from mmlight.analysis.runtime_benchmark import (
    FULL_STACK_COLD_START,
    RUNTIME_COLD_START,
    TRAINING_STACK,
    cold_start_seconds,
    full_stack_seconds,
    images_per_second,
    stage_seconds,
)
from mmlight.runtime import Detector
from mmlight.runtime.image import image_files


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('model', help='the exported model file (.onnx or .xml)')
    parser.add_argument('images', nargs='+', help='image files and folders of images')
    parser.add_argument('--config', help="the model's config: adds the full stack's rows")
    parser.add_argument(
        '--requests',
        type=int,
        nargs='+',
        default=[1, 2, 4],
        help='images in flight for the throughput rows (default 1 2 4)',
    )
    parser.add_argument('--rounds', type=int, default=3, help='timed passes over the images')
    parser.add_argument(
        '--cold-starts',
        type=int,
        default=3,
        help='new processes per cold-start row, the best counts (0: no such rows; default 3)',
    )
    parser.add_argument('--json', help='write the measurements here')
    return parser.parse_args()


def main():
    args = parse_args()
    images = image_files(args.images)
    detector = Detector(args.model)
    row = dict(
        model=args.model,
        backend=detector.backend,
        images=len(images),
        cpu=platform.processor() or platform.machine(),
    )
    row.update(stage_seconds(detector, images, args.rounds))
    for requests in args.requests:
        row[f'images_per_s_{requests}'] = images_per_second(detector, images, requests, args.rounds)
    if args.config:
        row['full_stack_s'] = full_stack_seconds(
            args.config, args.model, detector.backend, images, args.rounds
        )
    if args.cold_starts:
        row['cold_start_runtime_s'] = cold_start_seconds(
            RUNTIME_COLD_START.format(model=args.model, image=images[0]),
            TRAINING_STACK,
            args.cold_starts,
        )
        if args.config:
            row['cold_start_full_stack_s'] = cold_start_seconds(
                FULL_STACK_COLD_START.format(
                    config=args.config, backend=detector.backend, model=args.model, image=images[0]
                ),
                repeats=args.cold_starts,
            )
    print(f"| stage (s per image, 1 request) | {args.model} |\n|---|---|")
    for key in ('decode_preprocess_s', 'graph_s', 'postprocess_s', 'end_to_end_s', 'full_stack_s'):
        if key in row:
            print(f'| {key[:-2].replace("_", " ")} | {row[key]:.4f} |')
    print(f"| end to end / graph | {row['end_to_end_s'] / row['graph_s']:.3f} |")
    base = row.get('images_per_s_1')
    for requests in args.requests:
        rate = row[f'images_per_s_{requests}']
        versus = f' ({rate / base:.2f}x one request)' if base else ''
        print(f'| images/s, {requests} in flight | {rate:.2f}{versus} |')
    for key in ('cold_start_runtime_s', 'cold_start_full_stack_s'):
        if key in row:
            print(f'| {key.replace("_", " ")[:-2]} | {row[key]:.2f} s |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(row, f, indent=1)


if __name__ == '__main__':
    main()
