"""A deterministic synthetic COCO-format detection/instance segmentation set.

Filled shapes (a few classes) of several scales on textured backgrounds, with occlusions
(masks and boxes describe the visible part), polygon masks, and crowd regions annotated as
RLE with ``iscrowd=1``. Same seed, same bytes: the demo and the tests train on it without
any download.
"""

import json
import os
import os.path as osp

import cv2
import numpy as np
from pycocotools import mask as mask_utils

CLASSES = ('circle', 'square', 'triangle')
SPLITS = {'train': 0, 'val': 1}  # seed offsets


def _background(rng, size):
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    grad = rng.uniform(-0.4, 0.4, size=(2, 3))
    img = base + yy[..., None] * grad[0] + xx[..., None] * grad[1]
    # low-contrast stripes or checks so that "non-uniform" is not a shape cue
    period = rng.uniform(6, 20)
    angle = rng.uniform(0, np.pi)
    wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    if rng.random() < 0.5:
        wave = np.sign(wave) * np.sign(
            np.sin((xx * np.sin(angle) - yy * np.cos(angle)) * 2 * np.pi / period)
        )
    img = img + wave[..., None] * rng.uniform(5, 20)
    img = img + rng.normal(0, 6, size=img.shape)
    return img


def _shape_mask(rng, label, size, cx, cy, radius):
    canvas = np.zeros((size, size), np.uint8)
    if CLASSES[label] == 'circle':
        cv2.circle(canvas, (int(cx), int(cy)), int(radius), 1, -1)
    else:
        corners = 4 if CLASSES[label] == 'square' else 3
        start = rng.uniform(0, 2 * np.pi)
        angles = start + np.arange(corners) * 2 * np.pi / corners
        pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)
    return canvas.astype(bool)


def _polygons(mask):
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    return polys


def _bbox(mask):
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _make_image(rng, size, with_crowd):
    img = _background(rng, size)
    objects = []  # (label, full mask)
    for _ in range(rng.integers(1, 5)):
        label = int(rng.integers(len(CLASSES)))
        radius = float(np.exp(rng.uniform(np.log(8), np.log(size * 0.3))))
        cx, cy = rng.uniform(radius * 0.6, size - radius * 0.6, size=2)
        full = _shape_mask(rng, label, size, cx, cy, radius)
        if full.sum() < 30:
            continue
        color = rng.uniform(0, 255, size=3)
        shade = rng.uniform(-25, 25, size=3)
        yy, xx = np.nonzero(full)
        img[yy, xx] = color + shade * ((xx - cx) / max(radius, 1))[:, None]
        objects.append((label, full))
    crowd = None
    if with_crowd:
        label = int(rng.integers(len(CLASSES)))
        crowd_mask = np.zeros((size, size), bool)
        x0, _y0 = rng.uniform(0, size * 0.6, size=2)
        color = rng.uniform(0, 255, size=3)
        for _ in range(8):
            cx, cy = x0 + rng.uniform(0, size * 0.35, size=2)
            part = _shape_mask(rng, label, size, cx, cy, rng.uniform(3, 5))
            crowd_mask |= part
        img[crowd_mask] = color
        crowd = (label, crowd_mask)
    # later shapes occlude earlier ones: masks and boxes describe what is visible
    annotations = []
    for i, (label, full) in enumerate(objects):
        visible = full.copy()
        for _, later in objects[i + 1 :]:
            visible &= ~later
        if crowd is not None:
            visible &= ~crowd[1]
        if visible.sum() < 0.3 * full.sum() or visible.sum() < 20:
            continue
        polys = _polygons(visible)
        if not polys:
            continue
        annotations.append(
            dict(
                category_id=label + 1,
                bbox=_bbox(visible),
                area=float(visible.sum()),
                segmentation=polys,
                iscrowd=0,
            )
        )
    if crowd is not None and crowd[1].sum() > 0:
        rle = mask_utils.encode(np.asfortranarray(crowd[1].astype(np.uint8)))
        rle['counts'] = rle['counts'].decode('ascii')
        annotations.append(
            dict(
                category_id=crowd[0] + 1,
                bbox=_bbox(crowd[1]),
                area=float(crowd[1].sum()),
                segmentation=rle,
                iscrowd=1,
            )
        )
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img, annotations


def generate_split(root, split, num_images, size=192, seed=0):
    """Write ``root/<split>/*.png`` and ``root/annotations/instances_<split>.json``."""
    rng = np.random.default_rng(seed * 1000 + SPLITS.get(split, 7))
    img_dir = osp.join(root, split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        # every 8th image holds a crowd region, so each split has several iscrowd RLEs
        img, anns = _make_image(rng, size, with_crowd=image_id % 8 == 1)
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(img_dir, file_name), img)
        images.append(dict(id=image_id, file_name=file_name, height=size, width=size))
        for ann in anns:
            ann.update(id=len(annotations) + 1, image_id=image_id)
            annotations.append(ann)
    coco = dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)],
    )
    ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return ann_file


def generate(root='data/demo', num_train=400, num_val=100, size=192, seed=0):
    """Generate both splits unless they already exist with the same settings."""
    stamp = osp.join(root, 'settings.json')
    settings = dict(num_train=num_train, num_val=num_val, size=size, seed=seed, version=1)
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == settings:
                return False
    generate_split(root, 'train', num_train, size, seed)
    generate_split(root, 'val', num_val, size, seed)
    with open(stamp, 'w') as f:
        json.dump(settings, f)
    return True
