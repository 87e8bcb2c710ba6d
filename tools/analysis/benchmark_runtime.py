"""End to end: image files to detections through mmlight.runtime, stage by stage (decode and
resize, the graph, back to the image), with one request and with several in flight, beside the
full stack (mmcv's test pipeline, the same runner) and eager mmdet, with the candidates that
enter NMS; and the cold start of a process (imports, loading the model, the first image) of
the runtime alone (torch, mmcv, mmengine and mmdet blocked, as in a runtime-only install)
against the full stack's.

    python tools/analysis/benchmark_runtime.py MODEL IMAGE_OR_FOLDER... [--precision P]
        [--config CONFIG [--checkpoint CHECKPOINT] [--cfg-options KEY=VALUE ...]]
        [--resize-images HEIGHT WIDTH] [--requests 1 2 4] [--rounds 3] [--json FILE]

MODEL is a file of tools/deployment/export_onnx.py; CONFIG, its config (with the same
--cfg-options as the export), adds the full stack's rows, and CHECKPOINT eager mmdet's and the
NMS counts. A markdown table; the CPU and versions go with it in docs/benchmarks.md.
"""

import argparse
import json
import tempfile

from mmlight.analysis.runtime_benchmark import (
    FULL_STACK_COLD_START,
    RUNTIME_COLD_START,
    TRAINING_STACK,
    cold_start_seconds,
    cpu_description,
    eager_detector,
    eager_inference,
    end_to_end_seconds,
    full_stack_predict,
    nms_candidates,
    print_table,
    resized_copies,
    usable_cores,
)
from mmlight.runtime import Detector
from mmlight.runtime.arguments import add_model_arguments
from mmlight.runtime.image import image_files


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument('--config', help="the model's config: adds the full stack's rows")
    parser.add_argument(
        '--checkpoint', help="the config's checkpoint: adds eager mmdet's rows and NMS counts"
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help="overrides of the config, as the export's (mmengine's --cfg-options syntax)",
    )
    parser.add_argument(
        '--resize-images',
        type=int,
        nargs=2,
        metavar=('HEIGHT', 'WIDTH'),
        help='run on copies of the images resized to this size (JPEG, quality 95)',
    )
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
    args = parser.parse_args()
    if args.checkpoint and not args.config:
        parser.error('--checkpoint needs --config')
    return args


def cfg_options(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings parsed as mmengine's ``--cfg-options`` parses them."""
    if not pairs:
        return {}
    from mmengine.config import DictAction

    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='options')(None, namespace, pairs)
    return namespace.options


def main():
    args = parse_args()
    images = image_files(args.images)
    if args.resize_images:
        height, width = args.resize_images
        images = resized_copies(images, height, width, tempfile.mkdtemp(prefix='mmlight_bench_'))
    options = cfg_options(args.cfg_options)
    detector = Detector(args.model, precision=args.precision)
    row = dict(
        model=args.model,
        backend=detector.backend,
        precision=detector.runner.precision,
        images=len(images),
        image_shape=list(detector.load(images[0]).shape[:2]),
        cpu=cpu_description(),
    )
    others = {}
    if args.config:
        others['full_stack'] = full_stack_predict(
            args.config, args.model, detector.backend, options, args.precision
        )
    if args.checkpoint:
        eager = eager_detector(args.config, args.checkpoint, options)
        others['eager_mmdet'] = eager_inference(eager)
        row['nms_candidates'] = nms_candidates(eager, images)
    row['cores'] = usable_cores()
    row.update(end_to_end_seconds(detector, images, args.requests, args.rounds, others))
    if args.cold_starts:
        row['cold_start_runtime_s'] = cold_start_seconds(
            RUNTIME_COLD_START.format(model=args.model, image=images[0]),
            TRAINING_STACK,
            args.cold_starts,
        )
        if args.config:
            row['cold_start_full_stack_s'] = cold_start_seconds(
                FULL_STACK_COLD_START.format(
                    config=args.config,
                    cfg_options=options,
                    backend=detector.backend,
                    model=args.model,
                    image=images[0],
                ),
                repeats=args.cold_starts,
            )
    print_table(row, args.requests)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(row, f, indent=1)


if __name__ == '__main__':
    main()
