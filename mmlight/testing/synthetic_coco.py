"""A large synthetic COCO-format ground truth with detector-like predictions, for checking and
timing COCO evaluation (no images: only annotations and results)."""

import json

import numpy as np
from pycocotools import mask as mask_utils


def _ellipse_polygon(cx, cy, rx, ry, points=12):
    angles = np.linspace(0, 2 * np.pi, points, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], 1).ravel().tolist()


def make_coco_set(num_images=5000, num_classes=20, width=320, height=240, with_masks=True, seed=0):
    """(ground truth dict in COCO format, predictions in mmdet's per-image result format).

    Each image holds 0-8 objects (ellipses, polygon masks; some crowd regions); the
    predictions find most of them with jittered boxes/masks and some wrong labels, and add
    false positives, each with a score, as a detector's output would.
    """
    rng = np.random.default_rng(seed)
    images, annotations, predictions = [], [], []
    categories = [dict(id=i + 1, name=f'class_{i}') for i in range(num_classes)]
    for image_id in range(1, num_images + 1):
        images.append(
            dict(id=image_id, width=width, height=height, file_name=f'{image_id:06d}.jpg')
        )
        boxes, scores, labels, masks = [], [], [], []
        for _ in range(rng.integers(0, 9)):
            rx, ry = rng.uniform(3, 60), rng.uniform(3, 60)
            cx, cy = rng.uniform(rx, width - rx), rng.uniform(ry, height - ry)
            label = int(rng.integers(num_classes))
            polygon = _ellipse_polygon(cx, cy, rx, ry)
            rle = mask_utils.merge(mask_utils.frPyObjects([polygon], height, width))
            x, y, w, h = mask_utils.toBbox(rle).tolist()
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=label + 1,
                    bbox=[x, y, w, h],
                    area=float(mask_utils.area(rle)),
                    iscrowd=int(rng.random() < 0.03),
                    segmentation=[polygon],
                )
            )
            if rng.random() < 0.85:  # found, with some error in place, size and label
                jitter = rng.normal(0, 0.08, 4)
                dx, dy = jitter[0] * rx, jitter[1] * ry
                sx, sy = np.exp(jitter[2]), np.exp(jitter[3])
                boxes.append([x + dx, y + dy, x + dx + w * sx, y + dy + h * sy])
                scores.append(rng.uniform(0.3, 1.0))
                labels.append(label if rng.random() < 0.9 else int(rng.integers(num_classes)))
                masks.append(_ellipse_polygon(cx + dx, cy + dy, rx * sx, ry * sy))
        for _ in range(rng.integers(0, 6)):  # false positives
            w, h = rng.uniform(4, 100, 2)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            boxes.append([x, y, x + w, y + h])
            scores.append(rng.uniform(0.0, 0.6))
            labels.append(int(rng.integers(num_classes)))
            masks.append(_ellipse_polygon(x + w / 2, y + h / 2, w / 2, h / 2))
        result = dict(
            img_id=image_id,
            bboxes=np.array(boxes, np.float32).reshape(-1, 4),
            scores=np.array(scores, np.float32),
            labels=np.array(labels, np.int64),
        )
        if with_masks:
            rles = [mask_utils.merge(mask_utils.frPyObjects([p], height, width)) for p in masks]
            result['masks'] = rles  # encoded as mmdet's encode_mask_results leaves them
        predictions.append(result)
    ground_truth = dict(images=images, annotations=annotations, categories=categories)
    return ground_truth, predictions


def write_coco_set(path, **kwargs):
    ground_truth, predictions = make_coco_set(**kwargs)
    with open(path, 'w') as f:
        json.dump(ground_truth, f)
    return predictions
