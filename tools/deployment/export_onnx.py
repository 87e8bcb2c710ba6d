"""Export a whole detector (Faster R-CNN, Mask R-CNN, YOLOv4 of configs/) to ONNX for
onnxruntime: one image in, detections out, standard ONNX operators only.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx \\
        [--shape H W] [--dynamic]

Input ``image``: float32 [1, 3, H, W], BGR 0-255 as mmdet's LoadImageFromFile gives, resized as
the config's test pipeline resizes (the graph normalises and pads). Outputs in the input
image's coordinates: ``dets`` [N, 5] (x1, y1, x2, y2, score), ``labels`` [N] int64 and, for
Mask R-CNN, ``masks`` [N, H, W] bool, after the config's score threshold and NMS.
``--shape`` defaults to the test pipeline's Resize scale; without ``--dynamic`` the graph
accepts only that size, with it any side in [128, 4096].
"""
import argparse
import time

from mmengine.config import DictAction

import mmlight  # noqa: F401
from mmlight.apis import init_detector, pipeline_resize_shape
from mmlight.deployment.onnx import default_onnx_path, export_onnx


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="the detector checkpoint ('none': random weights)")
    parser.add_argument('--out', help='the .onnx file (default work_dirs/onnx/CONFIG.onnx)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="example size (default: the test pipeline's Resize scale)")
    parser.add_argument('--dynamic', action='store_true', help='height and width symbolic')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config settings, key=value (as tools/train.py)')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    detector = init_detector(args.config, checkpoint, cfg_options=args.cfg_options)
    shape = args.shape or pipeline_resize_shape(detector.cfg)
    if shape is None:
        raise SystemExit(f'{args.config}: no Resize in the test pipeline; pass --shape H W')
    out = default_onnx_path(args.config, args.out)
    start = time.perf_counter()
    export_onnx(detector, out, shape, dynamic=args.dynamic)
    kind = 'any size in [128, 4096]' if args.dynamic else f'{shape[0]}x{shape[1]} only'
    print(f'wrote {out} ({kind}) in {time.perf_counter() - start:.0f} s')


if __name__ == '__main__':
    main()
