"""Export a whole detector (Faster/Mask/Cascade R-CNN, RetinaNet, FCOS, ATSS, RTMDet, YOLOX,
YOLOv3/v4) to ONNX, and on to the model file of a deployment backend (onnxruntime: the .onnx
itself; OpenVINO: IR): one image in, detections out, standard operators only.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx \\
        [--shape H W] [--dynamic]
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --backend openvino \\
        --precision {fp32,bf16,int8} --out FILE.xml [--calib-images N] [--shape H W] [--dynamic]

Input ``image``: float32 [1, 3, H, W], BGR 0-255 as mmdet's LoadImageFromFile gives, resized as
the config's test pipeline resizes (the graph normalises and pads). Outputs in the input
image's coordinates: ``dets`` [N, 5] (x1, y1, x2, y2, score), ``labels`` [N] int64 and, for
Mask R-CNN, ``masks`` [N, H, W] bool, after the config's score threshold and NMS.
``--shape`` defaults to the test pipeline's Resize scale; without ``--dynamic`` the graph has
that one size (mmlight's runners pad a smaller resized image to it and refuse a larger one),
with it any side in [128, 4096]. With another backend than onnxruntime
the ONNX graph is written beside its model file (FILE.onnx) and converted; ``--precision`` is
kept in the model's metadata as the precision it runs in by default. ``int8`` quantizes with NNCF on
``--calib-images`` images (default 300, or all the set has) chosen with ``--calib-seed`` from
the config's ``--calib-split`` (default its validation set), taken through the config's own
pipeline; the calibration settings go into the IR's metadata.
"""

import argparse
import os.path as osp
import time

from mmengine.config import DictAction

import mmlight.registration  # noqa: F401
from mmlight.apis import init_detector, pipeline_resize_shape
from mmlight.deployment.backends import all_precisions, backend_names, get_backend
from mmlight.deployment.calibration import DEFAULT_CALIBRATION_IMAGES, calibration_images
from mmlight.deployment.export import default_model_path, export_onnx


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="the detector checkpoint ('none': random weights)")
    parser.add_argument(
        '--out',
        help="the backend's model file (.onnx for onnxruntime, .xml "
        'for openvino; default work_dirs/BACKEND/CONFIG.SUFFIX)',
    )
    parser.add_argument('--backend', choices=backend_names(), default=backend_names()[0])
    parser.add_argument(
        '--precision',
        choices=all_precisions(),
        help="the precision the model runs in by default (the backend's "
        'first: '
        + ', '.join(f'{name} {get_backend(name).default_precision}' for name in backend_names())
        + ')',
    )
    parser.add_argument(
        '--calib-images',
        type=int,
        default=DEFAULT_CALIBRATION_IMAGES,
        help='int8: how many calibration images',
    )
    parser.add_argument(
        '--calib-split',
        default='val_dataloader',
        help='int8: the config\'s dataloader the images come from',
    )
    parser.add_argument('--calib-seed', type=int, default=0, help='int8: which images')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help="example size (default: the test pipeline's Resize scale)",
    )
    parser.add_argument('--dynamic', action='store_true', help='height and width symbolic')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override config settings, key=value (as tools/train.py)',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    backend = get_backend(args.backend)
    try:
        precision = backend.check_precision(args.precision) or backend.default_precision
    except ValueError as err:
        raise SystemExit(f'--precision: {err}') from None
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    detector = init_detector(args.config, checkpoint, cfg_options=args.cfg_options)
    shape = args.shape or pipeline_resize_shape(detector.cfg)
    if shape is None:
        raise SystemExit(f'{args.config}: no Resize in the test pipeline; pass --shape H W')
    model_file = args.out or default_model_path(args.config, backend.name, backend.suffix)
    onnx_file = osp.splitext(model_file)[0] + '.onnx'
    start = time.perf_counter()
    export_onnx(detector, onnx_file, shape, dynamic=args.dynamic)
    kind = 'any size in [128, 4096]' if args.dynamic else f'{shape[0]}x{shape[1]} only'
    print(f'wrote {onnx_file} ({kind}) in {time.perf_counter() - start:.0f} s')
    if osp.abspath(model_file) == osp.abspath(onnx_file):
        return
    images, metadata = None, dict(source=args.config)
    if precision in backend.calibrated:
        images = calibration_images(
            detector.cfg, args.calib_images, args.calib_split, args.calib_seed
        )
        wrong = [image.shape for image in images if tuple(image.shape[2:]) != tuple(shape)]
        if wrong and not args.dynamic:
            raise SystemExit(
                f'the {args.calib_split} pipeline makes images of other sizes '
                f'than {shape[0]}x{shape[1]} (e.g. {wrong[0]}): export with '
                f'--dynamic'
            )
        metadata.update(calibration_split=args.calib_split, calibration_seed=args.calib_seed)
    start = time.perf_counter()
    backend.convert(onnx_file, model_file, precision, calibration=images, metadata=metadata)
    calibrated = f', calibrated on {len(images)} images' if images else ''
    print(
        f'wrote {model_file} ({backend.name}, {precision}{calibrated}) in '
        f'{time.perf_counter() - start:.0f} s'
    )


if __name__ == '__main__':
    main()
