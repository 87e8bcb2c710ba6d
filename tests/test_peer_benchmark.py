"""The comparison with Ultralytics (mmlight.analysis.peer_benchmark, behind
tools/analysis/benchmark_ultralytics.py): the demo set in Ultralytics' layout holds the same
boxes, both sides are scored by the same pycocotools evaluation, and the configs of mmlight's
light detectors on today's backbones build. Ultralytics itself is not needed here."""

import json
import os.path as osp

import numpy as np
import pytest

from mmlight.analysis import peer_benchmark as peer

pytestmark = pytest.mark.quick


def _annotations(demo_root, split):
    with open(osp.join(demo_root, 'annotations', f'instances_{split}.json')) as f:
        return json.load(f)


def test_the_demo_set_in_ultralytics_layout_holds_the_same_boxes(demo_root, tmp_path):
    data_yaml = peer.demo_as_yolo(demo_root, str(tmp_path))
    text = open(data_yaml).read()
    assert 'train: images/train' in text
    assert '0: circle' in text
    for split in ('train', 'val'):
        coco = _annotations(demo_root, split)
        for image in coco['images']:
            stem = osp.splitext(image['file_name'])[0]
            lines = open(tmp_path / 'labels' / split / f'{stem}.txt').read().split('\n')
            lines = [line for line in lines if line]
            expected = [
                a for a in coco['annotations'] if a['image_id'] == image['id'] and not a['iscrowd']
            ]
            assert len(lines) == len(expected)
            for line, ann in zip(lines, expected, strict=True):
                label, cx, cy, w, h = (float(v) for v in line.split())
                x, y, bw, bh = ann['bbox']
                assert int(label) == ann['category_id'] - 1
                back = [
                    (cx - w / 2) * image['width'],
                    (cy - h / 2) * image['height'],
                    w * image['width'],
                    h * image['height'],
                ]
                np.testing.assert_allclose(back, [x, y, bw, bh], atol=1e-3)
            assert osp.isfile(tmp_path / 'images' / split / image['file_name'])


def test_both_sides_are_scored_by_one_coco_evaluation(demo_root):
    coco = _annotations(demo_root, 'val')
    ann_file = osp.join(demo_root, 'annotations', 'instances_val.json')
    truth = []
    for image in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == image['id'] and not a['iscrowd']]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        labels = [a['category_id'] - 1 for a in anns]
        truth += peer._results(image['id'], np.array(boxes), np.ones(len(anns)), labels)
    assert peer.coco_bbox_map(ann_file, truth) == pytest.approx(1.0)
    # every box one class off: nothing right
    wrong = [dict(d, category_id=d['category_id'] % 3 + 1) for d in truth]
    assert peer.coco_bbox_map(ann_file, wrong) == pytest.approx(0.0)
    assert peer.coco_bbox_map(ann_file, []) == 0.0


def test_the_compared_mmlight_detectors_are_demo_configs_trained_from_scratch():
    from mmengine.config import Config

    for name in peer.MMLIGHT_DETECTORS:
        cfg = Config.fromfile(peer.mmlight_config(name))
        assert cfg.model.backbone.init_cfg is None
        assert cfg.train_cfg.max_epochs == 16
