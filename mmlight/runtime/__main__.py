"""Run an exported detector on images and folders of images: pictures and JSON.

    python -m mmlight.runtime MODEL IMAGE_OR_FOLDER... [--out-dir DIR] [--score-thr S]
        [--json FILE] [--precision P] [--requests N]
    mmlight-detect MODEL IMAGE_OR_FOLDER...   (the same)

MODEL is a file of tools/deployment/export_onnx.py (.onnx: onnxruntime; .xml: OpenVINO).
A file that cannot be read is one line on stderr naming it and why; the others still run, and
the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

import cv2

from .arguments import add_model_arguments
from .detector import Detections, Detector
from .draw import draw_detections
from .image import image_files, read_image


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m mmlight.runtime',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n\n'.join(__doc__.split('\n\n')[1:]),
    )
    add_model_arguments(parser)
    parser.add_argument('--out-dir', help='write the pictures here (IMAGE_NAME.png)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw and list the detections with at least this score (default 0.3)',
    )
    parser.add_argument('--json', help='write the detections of every image to this file')
    parser.add_argument(
        '--requests', type=int, default=2, help='images in flight at once (default 2)'
    )
    return parser.parse_args(argv)


def progress(items, total):
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, total=total, unit='image', disable=total < 2 or not sys.stderr.isatty())


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        detector = Detector(args.model, precision=args.precision)
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f'{args.model}: {err}', file=sys.stderr)
        return 2
    files = image_files(args.images)
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
    results, failed = {}, 0
    found = detector.stream(files, requests=args.requests)
    for path, result in progress(zip(files, found, strict=True), len(files)):
        if isinstance(result, Exception):
            failed += 1
            reason = str(result)
            print(reason if reason.startswith(path) else f'{path}: {reason}', file=sys.stderr)
            continue
        kept: Detections = result.above(args.score_thr)
        results[path] = kept.to_dict()
        if args.out_dir:
            picture = draw_detections(read_image(path), kept)
            name = osp.splitext(osp.basename(path))[0] + '.png'
            cv2.imwrite(osp.join(args.out_dir, name), picture)
        if not args.json:
            print(
                f'{path}: {len(kept)} detections with score >= {args.score_thr}: '
                + ', '.join(f'{n} {s:.2f}' for n, s in zip(kept.names, kept.scores, strict=True))
            )
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
        print(f'{len(results)} images: detections in {args.json}')
    if args.out_dir:
        print(f'pictures in {osp.abspath(args.out_dir)}')
    if failed:
        print(f'{failed} of {len(files)} images could not be read', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
