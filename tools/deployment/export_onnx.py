"""Export a whole detector (Faster R-CNN, Mask R-CNN, YOLOv4 of configs/) to ONNX for
onnxruntime, or on to OpenVINO IR: one image in, detections out, standard operators only.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx \\
        [--shape H W] [--dynamic]
    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --backend openvino \\
        --precision {fp32,bf16,int8} --out FILE.xml [--calib-images N] [--shape H W] [--dynamic]

Input ``image``: float32 [1, 3, H, W], BGR 0-255 as mmdet's LoadImageFromFile gives, resized as
the config's test pipeline resizes (the graph normalises and pads). Outputs in the input
image's coordinates: ``dets`` [N, 5] (x1, y1, x2, y2, score), ``labels`` [N] int64 and, for
Mask R-CNN, ``masks`` [N, H, W] bool, after the config's score threshold and NMS.
``--shape`` defaults to the test pipeline's Resize scale; without ``--dynamic`` the graph
accepts only that size, with it any side in [128, 4096]. With ``--backend openvino`` the ONNX
graph is written beside the IR (FILE.onnx) and converted; ``--precision`` is kept in the IR's
metadata as the precision it runs in by default. ``int8`` quantizes with NNCF on
``--calib-images`` images (default 300, or all the set has) chosen with ``--calib-seed`` from
the config's ``--calib-split`` (default its validation set), taken through the config's own
pipeline; the calibration settings go into the IR's metadata.
"""
import argparse
import os.path as osp
import time

from mmengine.config import DictAction

import mmlight  # noqa: F401
from mmlight.apis import init_detector, pipeline_resize_shape
from mmlight.deployment.calibration import DEFAULT_CALIBRATION_IMAGES, calibration_images
from mmlight.deployment.onnx import default_onnx_path, export_onnx
from mmlight.deployment.openvino import PRECISIONS, convert_to_openvino
from mmlight.deployment.runner import runner_options


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="the detector checkpoint ('none': random weights)")
    parser.add_argument('--out', help='the .onnx file, or with --backend openvino the .xml '
                        '(default work_dirs/onnx/CONFIG.onnx, work_dirs/openvino/CONFIG.xml)')
    parser.add_argument('--backend', choices=['onnxruntime', 'openvino'], default='onnxruntime')
    parser.add_argument('--precision', choices=PRECISIONS,
                        help='OpenVINO: the precision the IR runs in by default (fp32)')
    parser.add_argument('--calib-images', type=int, default=DEFAULT_CALIBRATION_IMAGES,
                        help='int8: how many calibration images')
    parser.add_argument('--calib-split', default='val_dataloader',
                        help='int8: the config\'s dataloader the images come from')
    parser.add_argument('--calib-seed', type=int, default=0, help='int8: which images')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="example size (default: the test pipeline's Resize scale)")
    parser.add_argument('--dynamic', action='store_true', help='height and width symbolic')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config settings, key=value (as tools/train.py)')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        runner_options(args.backend, args.precision)
    except ValueError as err:
        raise SystemExit(f'--precision: {err}')
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    detector = init_detector(args.config, checkpoint, cfg_options=args.cfg_options)
    shape = args.shape or pipeline_resize_shape(detector.cfg)
    if shape is None:
        raise SystemExit(f'{args.config}: no Resize in the test pipeline; pass --shape H W')
    if args.backend == 'openvino':
        name = osp.splitext(osp.basename(args.config))[0]
        xml_file = args.out or osp.join('work_dirs', 'openvino', name + '.xml')
        out = osp.splitext(xml_file)[0] + '.onnx'
    else:
        out = default_onnx_path(args.config, args.out)
    start = time.perf_counter()
    export_onnx(detector, out, shape, dynamic=args.dynamic)
    kind = 'any size in [128, 4096]' if args.dynamic else f'{shape[0]}x{shape[1]} only'
    print(f'wrote {out} ({kind}) in {time.perf_counter() - start:.0f} s')
    if args.backend != 'openvino':
        return
    precision = args.precision or 'fp32'
    images, info = None, None
    if precision == 'int8':
        images = calibration_images(detector.cfg, args.calib_images, args.calib_split,
                                    args.calib_seed)
        wrong = [image.shape for image in images if tuple(image.shape[2:]) != tuple(shape)]
        if wrong and not args.dynamic:
            raise SystemExit(f'the {args.calib_split} pipeline makes images of other sizes '
                             f'than {shape[0]}x{shape[1]} (e.g. {wrong[0]}): export with '
                             f'--dynamic')
        info = dict(calibration_split=args.calib_split, calibration_seed=args.calib_seed)
    start = time.perf_counter()
    convert_to_openvino(out, xml_file, precision, source=args.config, calibration=images,
                        calibration_info=info)
    calibrated = f', calibrated on {len(images)} images' if images else ''
    print(f'wrote {xml_file} (OpenVINO IR, {precision}{calibrated}) in '
          f'{time.perf_counter() - start:.0f} s')


if __name__ == '__main__':
    main()
