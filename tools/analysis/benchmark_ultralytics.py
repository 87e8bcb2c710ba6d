"""mmlight's light detectors beside Ultralytics' YOLO11n, YOLO11s and YOLO26n on the same data
and the same CPU (mmlight.analysis.peer_benchmark): each trained from scratch on the demo set for
the same epochs, COCO bbox mAP by pycocotools on the demo val set, params and GFLOPs, and end to
end latency (an image file to boxes) of the exported models in onnxruntime FP32 and OpenVINO
FP32 and INT8, in alternating rounds in one process.

    pip install ultralytics
    python tools/analysis/benchmark_ultralytics.py [--epochs 16] [--sizes 640 416]
        [--work-dir work_dirs/ultralytics] [--iters 20] [--json FILE]

Trained models and exports in --work-dir are reused by a second run (delete it to start over).
"""

import argparse
import json
import os
import os.path as osp
import time

from mmlight.analysis import peer_benchmark as peer


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('--epochs', type=int, default=16, help='epochs of training, both sides')
    parser.add_argument('--sizes', type=int, nargs='+', default=[640, 416], help='square inputs')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'ultralytics'))
    parser.add_argument('--iters', type=int, default=20, help='timed calls per model')
    parser.add_argument('--threads', type=int, default=2, help='threads of every runtime')
    parser.add_argument(
        '--mmlight', nargs='+', default=list(peer.MMLIGHT_DETECTORS), help='mmlight detectors'
    )
    parser.add_argument(
        '--ultralytics', nargs='+', default=list(peer.ULTRALYTICS_MODELS), help='their models'
    )
    parser.add_argument('--json', help='write the results here')
    return parser.parse_args()


def main():
    args = parse_args()
    peer.import_ultralytics()
    import cv2
    import torch

    from mmlight.analysis.complexity import detector_complexity
    from mmlight.demo_data import generate
    from mmlight.utils.benchmark import alternating_rounds

    # Ultralytics sets torch to cpu_count - 1 threads when imported; the timing gives both
    # sides the same threads
    torch.set_num_threads(args.threads)
    work_dir = osp.abspath(args.work_dir)
    demo_root = osp.join(work_dir, 'demo') + '/'
    generate(demo_root)
    data_yaml = peer.demo_as_yolo(demo_root, osp.join(work_dir, 'yolo_data'))
    ann_file = osp.join(demo_root, 'annotations', 'instances_val.json')
    sides = []
    for name in args.mmlight:
        side = peer.Side(name, 'mmlight')
        config = peer.mmlight_config(name)
        run_dir = osp.join(work_dir, name)
        checkpoint = osp.join(run_dir, f'epoch_{args.epochs}.pth')
        if not osp.isfile(checkpoint):
            start = time.perf_counter()
            peer.train_mmlight(config, run_dir, args.epochs, demo_root)
            side.train_minutes = (time.perf_counter() - start) / 60
        side.bbox_map = peer.coco_bbox_map(
            ann_file, peer.mmlight_detections(config, checkpoint, demo_root)
        )
        for size in args.sizes:
            complexity = detector_complexity(config, (size, size))['detector']
            side.params_m = complexity['params'] / 1e6
            side.gflops[size] = 2 * complexity['flops'] / 1e9  # mmengine counts multiply-adds
            for runtime in peer.RUNTIMES:
                side.exported[(size, runtime)] = peer.export_mmlight(
                    config, checkpoint, size, runtime, osp.join(work_dir, name), demo_root
                )
        sides.append(side)
    for name in args.ultralytics:
        from ultralytics import YOLO
        from ultralytics.utils.torch_utils import get_flops

        side = peer.Side(name, 'ultralytics')
        weights = osp.join(work_dir, name, 'weights', 'last.pt')
        if not osp.isfile(weights):
            start = time.perf_counter()
            weights = peer.train_ultralytics(name, data_yaml, args.epochs, work_dir)
            side.train_minutes = (time.perf_counter() - start) / 60
        side.bbox_map = peer.coco_bbox_map(
            ann_file, peer.ultralytics_detections(weights, demo_root)
        )
        model = YOLO(weights).model
        side.params_m = sum(p.numel() for p in model.parameters()) / 1e6
        for size in args.sizes:
            side.gflops[size] = get_flops(model, size)  # Ultralytics counts 2 per multiply-add
            for runtime in peer.RUNTIMES:
                size_dir = osp.join(work_dir, name, f'{size}_{runtime}')
                os.makedirs(size_dir, exist_ok=True)
                copy = osp.join(size_dir, 'last.pt')
                if not osp.exists(copy):
                    os.symlink(weights, copy)
                side.exported[(size, runtime)] = peer.export_ultralytics(
                    copy, size, runtime, data_yaml
                )
        sides.append(side)
    torch.set_num_threads(args.threads)
    results = dict(
        sides={
            side.name: dict(
                library=side.library,
                params_m=side.params_m,
                gflops={str(k): v for k, v in side.gflops.items()},
                bbox_map=side.bbox_map,
                train_minutes=side.train_minutes,
            )
            for side in sides
        },
        latency_s={},
    )
    for size in args.sizes:
        image = osp.join(work_dir, f'image_{size}.jpg')
        source = cv2.imread(osp.join(demo_root, 'val', '000001.png'))
        cv2.imwrite(image, cv2.resize(source, (size, size)))
        seconds = alternating_rounds(
            peer.latency_fns(sides, size, image, args.threads), args.iters, warmup=2
        )
        results['latency_s'][str(size)] = seconds
    print(peer.markdown_table(results, args.sizes))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
