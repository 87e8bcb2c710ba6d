"""FastCocoMetric gives CocoMetric's numbers (bbox and segm) on the demo set and on a large
synthetic COCO-format set."""

import copy
import json
import os.path as osp
from unittest import mock

import numpy as np
import pytest
from faster_coco_eval import COCOeval_faster
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

import mmlight.registration  # noqa: F401
from mmlight.demo_data import CLASSES
from mmlight.testing.synthetic_coco import write_coco_set

ORIGINAL_FASTER, ORIGINAL_PYCOCOTOOLS = COCOeval_faster.evaluate, COCOeval.evaluate


def _evaluate(metric_type, ann_file, classes, predictions, tmp_path, **kwargs):
    """The metric's numbers, checking which COCO evaluation computed them."""
    metric = METRICS.build(dict(type=metric_type, ann_file=ann_file, **kwargs))
    metric.dataset_meta = dict(classes=classes)
    # compute_metrics reads the ground truth from ann_file; the gt half is unused there
    results = [(dict(), copy.deepcopy(p)) for p in predictions]
    used = []
    with (
        mock.patch.object(
            COCOeval_faster,
            'evaluate',
            autospec=True,
            side_effect=lambda self: (used.append('faster-coco-eval'), ORIGINAL_FASTER(self)),
        ),
        mock.patch.object(
            COCOeval,
            'evaluate',
            autospec=True,
            side_effect=lambda self: (used.append('pycocotools'), ORIGINAL_PYCOCOTOOLS(self)),
        ),
    ):
        metrics = metric.compute_metrics(results)
    expected = 'faster-coco-eval' if metric_type == 'FastCocoMetric' else 'pycocotools'
    assert used
    assert set(used) == {expected}, used
    return metrics


def _assert_same(ours, theirs):
    assert set(ours) == set(theirs)
    assert len(ours) > 0
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_fast_coco_metric_matches_coco_metric_on_the_demo_set(demo_root, tmp_path):
    """Predictions made from the demo ground truth (jittered, mislabelled, missed, extra)."""
    ann_file = osp.join(demo_root, 'annotations', 'instances_val.json')
    with open(ann_file) as f:
        gt = json.load(f)
    rng = np.random.default_rng(0)
    predictions = []
    for image in gt['images']:
        anns = [a for a in gt['annotations'] if a['image_id'] == image['id']]
        boxes, scores, labels, masks = [], [], [], []
        for ann in anns:
            if rng.random() < 0.2:
                continue
            x, y, w, h = ann['bbox']
            jitter = rng.normal(0, 2, 4)
            boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
            scores.append(rng.uniform(0.2, 1))
            labels.append(ann['category_id'] - 1 if rng.random() < 0.9 else 0)
            segm = ann['segmentation']
            rle = (
                mask_utils.merge(mask_utils.frPyObjects(segm, image['height'], image['width']))
                if isinstance(segm, list)
                else segm
            )
            masks.append(rle)
        predictions.append(
            dict(
                img_id=image['id'],
                bboxes=np.array(boxes).reshape(-1, 4),
                scores=np.array(scores),
                labels=np.array(labels, np.int64),
                masks=masks,
            )
        )
    kwargs = dict(metric=['bbox', 'segm'], classwise=True)
    theirs = _evaluate('CocoMetric', ann_file, CLASSES, predictions, tmp_path, **kwargs)
    ours = _evaluate('FastCocoMetric', ann_file, CLASSES, predictions, tmp_path, **kwargs)
    assert theirs['bbox_mAP'] > 0.3
    assert theirs['segm_mAP'] > 0.3
    _assert_same(ours, theirs)


def test_fast_coco_metric_matches_coco_metric_on_5000_synthetic_images(tmp_path):
    ann_file = str(tmp_path / 'synthetic.json')
    predictions = write_coco_set(ann_file, num_images=5000, with_masks=True)
    assert sum(len(p['scores']) for p in predictions) > 20000
    classes = tuple(f'class_{i}' for i in range(20))
    for metric in ('bbox', 'segm'):
        theirs = _evaluate('CocoMetric', ann_file, classes, predictions, tmp_path, metric=metric)
        ours = _evaluate('FastCocoMetric', ann_file, classes, predictions, tmp_path, metric=metric)
        assert 0.2 < theirs[f'{metric}_mAP'] < 0.9
        _assert_same(ours, theirs)
    # and the proposal recall CocoMetric computes (class-agnostic AR@100/300/1000)
    theirs = _evaluate('CocoMetric', ann_file, classes, predictions, tmp_path, metric='proposal')
    ours = _evaluate('FastCocoMetric', ann_file, classes, predictions, tmp_path, metric='proposal')
    _assert_same(ours, theirs)


def test_fast_coco_metric_leaves_coco_metric_alone(demo_root):
    from mmdet.evaluation.metrics import coco_metric

    before = coco_metric.COCOeval
    ann_file = osp.join(demo_root, 'annotations', 'instances_val.json')
    metric = METRICS.build(dict(type='FastCocoMetric', ann_file=ann_file))
    assert isinstance(metric, CocoMetric)
    assert coco_metric.COCOeval is before
