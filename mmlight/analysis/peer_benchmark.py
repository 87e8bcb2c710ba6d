"""mmlight's light detectors beside Ultralytics' YOLO on the same data and the same CPU, the
benchmark behind ``tools/analysis/benchmark_ultralytics.py``.

Both sides train from scratch on the demo set for the same number of epochs; COCO bbox mAP is
computed for both by pycocotools on the demo val set from each side's own predictions (its
PyTorch model, at the demo's 192x192, score threshold 0.001, at most 100 boxes per image).
Latency is end to end, an image file to boxes (reading, resizing, the network, NMS), of each
side's exported model in onnxruntime FP32 and OpenVINO FP32 and INT8 (each calibrated on the
demo val images), timed in alternating rounds in one process. Ultralytics is imported here
only (``pip install ultralytics``).
"""

from __future__ import annotations

import json
import os
import os.path as osp
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mmlight.demo_data import CLASSES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ULTRALYTICS_MODELS = ('yolo11n', 'yolo11s', 'yolo26n')
RUNTIMES = ('onnxruntime_fp32', 'openvino_fp32', 'openvino_int8')
# mmlight's demo YOLOv4 and the same detector on MobileNetV4-Conv-S (configs/demo/), trained
# from scratch as the demo is
MMLIGHT_DETECTORS = ('yolov4_ghostnet_demo', 'yolov4_mobilenetv4-conv-small_demo')


@dataclass
class Side:
    """One detector of the comparison: how it was trained, what it scores, its files."""

    name: str
    library: str
    params_m: float = 0.0
    gflops: dict[int, float] = field(default_factory=dict)
    bbox_map: float | None = None
    train_minutes: float | None = None
    exported: dict[tuple[int, str], str] = field(default_factory=dict)


def import_ultralytics():
    try:
        import ultralytics
    except ImportError as err:
        raise ImportError(
            'the comparison with Ultralytics needs it: pip install ultralytics'
        ) from err
    return ultralytics


# ------------------------------------------------------------------------------- data


def demo_as_yolo(demo_root: str, out_dir: str) -> str:
    """The demo set in Ultralytics' layout (images/, labels/ with one ``class cx cy w h`` line
    per box, normalized; crowd regions left out, as COCO's evaluation ignores them), and its
    data.yaml. Returns the yaml's path."""
    for split in ('train', 'val'):
        with open(osp.join(demo_root, 'annotations', f'instances_{split}.json')) as f:
            coco = json.load(f)
        images = {image['id']: image for image in coco['images']}
        boxes: dict[int, list[str]] = {image_id: [] for image_id in images}
        for ann in coco['annotations']:
            if ann.get('iscrowd'):
                continue
            image = images[ann['image_id']]
            x, y, w, h = ann['bbox']
            boxes[ann['image_id']].append(
                f'{ann["category_id"] - 1} {(x + w / 2) / image["width"]:.6f} '
                f'{(y + h / 2) / image["height"]:.6f} {w / image["width"]:.6f} '
                f'{h / image["height"]:.6f}'
            )
        image_dir = osp.join(out_dir, 'images', split)
        label_dir = osp.join(out_dir, 'labels', split)
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for image_id, image in images.items():
            link = osp.join(image_dir, image['file_name'])
            if not osp.exists(link):
                os.symlink(osp.abspath(osp.join(demo_root, split, image['file_name'])), link)
            stem = osp.splitext(image['file_name'])[0]
            with open(osp.join(label_dir, stem + '.txt'), 'w') as f:
                f.write('\n'.join(boxes[image_id]))
    data_yaml = osp.join(out_dir, 'data.yaml')
    with open(data_yaml, 'w') as f:
        f.write(f'path: {osp.abspath(out_dir)}\ntrain: images/train\nval: images/val\nnames:\n')
        f.writelines(f'  {i}: {name}\n' for i, name in enumerate(CLASSES))
    return data_yaml


def coco_bbox_map(ann_file: str, detections: list[dict]) -> float:
    """pycocotools' bbox AP@[.5:.95] of ``detections`` (COCO result dicts) on ``ann_file``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ground_truth = COCO(ann_file)
    if not detections:
        return 0.0
    evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), 'bbox')
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


def _results(image_id, boxes, scores, labels) -> list[dict]:
    """COCO result dicts of one image's top 100 boxes (x1, y1, x2, y2), labels from 0."""
    order = np.argsort(-np.asarray(scores))[:100]
    return [
        dict(
            image_id=image_id,
            category_id=int(labels[i]) + 1,
            bbox=[
                float(boxes[i][0]),
                float(boxes[i][1]),
                float(boxes[i][2] - boxes[i][0]),
                float(boxes[i][3] - boxes[i][1]),
            ],
            score=float(scores[i]),
        )
        for i in order
    ]


def val_images(demo_root: str) -> list[tuple[int, str]]:
    with open(osp.join(demo_root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    return [
        (image['id'], osp.join(demo_root, 'val', image['file_name'])) for image in coco['images']
    ]


# ------------------------------------------------------------------------------- mmlight


def mmlight_config(name: str) -> str:
    """The config file of one of :data:`MMLIGHT_DETECTORS`."""
    from mmlight.apis import resolve_config

    return resolve_config(f'demo/{name}')


DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _data_options(data_root: str) -> list[str]:
    """--cfg-options that point the demo config's loaders and evaluators at ``data_root``."""
    ann_file = f'{data_root}annotations/instances_val.json'
    return [
        *(f'{loader}.dataset.data_root={data_root}' for loader in DATALOADERS),
        f'val_evaluator.ann_file={ann_file}',
        f'test_evaluator.ann_file={ann_file}',
    ]


def train_mmlight(config: str, work_dir: str, epochs: int, data_root: str) -> str:
    """tools/train.py on the demo set; the last checkpoint."""
    run = [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'),
        config,
        '--work-dir',
        work_dir,
        '--cfg-options',
        f'train_cfg.max_epochs={epochs}',
        f'train_cfg.val_interval={epochs}',
        f'default_hooks.checkpoint.interval={epochs}',
        *_data_options(data_root),
    ]
    subprocess.run(run, check=True, cwd=ROOT)
    return osp.join(work_dir, f'epoch_{epochs}.pth')


def mmlight_detections(config: str, checkpoint: str, demo_root: str) -> list[dict]:
    import torch
    from mmdet.apis import inference_detector

    from mmlight.apis import init_detector

    detector = init_detector(config, checkpoint, cfg_options={'model.test_cfg.score_thr': 0.001})
    detections = []
    with torch.no_grad():
        for image_id, path in val_images(demo_root):
            found = inference_detector(detector, path).pred_instances
            detections += _results(
                image_id, found.bboxes.numpy(), found.scores.numpy(), found.labels.numpy()
            )
    return detections


def export_mmlight(
    config: str, checkpoint: str, size: int, runtime: str, out_dir: str, data_root: str
) -> str:
    """tools/deployment/export_onnx.py at ``size`` x ``size`` (the test pipeline resized to it;
    INT8 calibrated on the demo val images)."""
    backend, precision = runtime.split('_')
    suffix = '.onnx' if backend == 'onnxruntime' else '.xml'
    out = osp.join(out_dir, f'mmlight_{size}_{runtime}{suffix}')
    subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools', 'deployment', 'export_onnx.py'),
            config,
            checkpoint,
            '--out',
            out,
            '--backend',
            backend,
            '--precision',
            precision,
            '--shape',
            str(size),
            str(size),
            '--cfg-options',
            f'test_dataloader.dataset.pipeline.1.scale=({size},{size})',
            f'val_dataloader.dataset.pipeline.1.scale=({size},{size})',
            *_data_options(data_root),
        ],
        check=True,
        cwd=ROOT,
    )
    return out


# --------------------------------------------------------------------------- Ultralytics


def train_ultralytics(model: str, data_yaml: str, epochs: int, work_dir: str) -> str:
    """Ultralytics' own training of ``model`` (built from its yaml, no weights) at the demo's
    192; the last weights."""
    from ultralytics import YOLO

    YOLO(f'{model}.yaml').train(
        data=data_yaml,
        epochs=epochs,
        imgsz=192,
        batch=8,
        workers=0,
        device='cpu',
        pretrained=False,
        amp=False,
        plots=False,
        project=work_dir,
        name=model,
        exist_ok=True,
        seed=0,
        verbose=False,
    )
    return osp.join(work_dir, model, 'weights', 'last.pt')


def ultralytics_detections(weights: str, demo_root: str) -> list[dict]:
    from ultralytics import YOLO

    model = YOLO(weights)
    detections = []
    for image_id, path in val_images(demo_root):
        found = model.predict(path, imgsz=192, conf=0.001, max_det=100, verbose=False)[0].boxes
        detections += _results(
            image_id, found.xyxy.numpy(), found.conf.numpy(), found.cls.numpy().astype(int)
        )
    return detections


def export_ultralytics(weights: str, size: int, runtime: str, data_yaml: str) -> str:
    """Ultralytics' own export of ``weights`` at ``size``: ONNX (FP32) or OpenVINO (FP32, or
    INT8 calibrated by NNCF on the demo val images, as its ``int8=True, data=`` does)."""
    from ultralytics import YOLO

    backend, precision = runtime.split('_')
    kwargs = dict(format='onnx' if backend == 'onnxruntime' else 'openvino', imgsz=size)
    if precision == 'int8':
        kwargs.update(int8=True, data=data_yaml, fraction=1.0)
    return YOLO(weights).export(**kwargs)


# ------------------------------------------------------------------------------- timing


def latency_fns(sides: list[Side], size: int, image: str, threads: int) -> dict[str, Callable]:
    """label -> a call that takes ``image`` (a file) to boxes, for every exported model."""
    from ultralytics import YOLO

    from mmlight.runtime import Detector

    fns: dict[str, Callable] = {}
    for side in sides:
        for runtime in RUNTIMES:
            path = side.exported.get((size, runtime))
            if path is None:
                continue
            label = f'{side.name} {runtime}'
            if side.library == 'mmlight':
                detector = Detector(path, num_threads=threads)
                fns[label] = lambda detector=detector: detector(image)
            else:
                model = YOLO(path, task='detect')
                fns[label] = lambda model=model: model.predict(
                    image, imgsz=size, verbose=False, device='cpu'
                )
    return fns


def markdown_table(results: dict, sizes: list[int]) -> str:
    """One row per detector: params, GFLOPs and end-to-end milliseconds at each size in each
    runtime, and its demo mAP."""
    header = ['detector', 'params (M)', 'demo bbox mAP']
    for size in sizes:
        header += [f'GFLOPs {size}'] + [f'{runtime} {size} (ms)' for runtime in RUNTIMES]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for name, side in results['sides'].items():
        cells = [name, f'{side["params_m"]:.2f}', f'{side["bbox_map"]:.3f}']
        for size in sizes:
            latency = results['latency_s'].get(str(size), {})
            cells.append(f'{side["gflops"][str(size)]:.2f}')
            for runtime in RUNTIMES:
                value = latency.get(f'{name} {runtime}')
                cells.append('n/a' if value is None else f'{value * 1000:.1f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
