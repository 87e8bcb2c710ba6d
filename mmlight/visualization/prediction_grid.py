"""A PNG grid of ground truth beside predictions on a few validation images, drawn by mmdet's
DetLocalVisualizer."""

import os
import os.path as osp
import warnings

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData


def _ground_truth(coco, image_id, cat_to_label):
    anns = [
        a for a in coco.load_anns(coco.get_ann_ids(img_ids=[image_id])) if not a.get('iscrowd', 0)
    ]
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
    gt = InstanceData()
    gt.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    gt.labels = torch.tensor([cat_to_label[a['category_id']] for a in anns], dtype=torch.long)
    return gt


def _titled(panel, title):
    bar = np.full((22, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, panel], 0)


def prediction_grid(
    config: str,
    checkpoint: str,
    out_file: str,
    num_images: int = 6,
    columns: int = 2,
    score_thr: float = 0.5,
    device: str = 'cpu',
    split: str = 'val_dataloader',
) -> str:
    """Run the detector on the first ``num_images`` images of the config's validation set and
    write one PNG: for each image, the ground truth (left) beside the predictions with score
    >= ``score_thr`` (right). Returns ``out_file``."""
    from mmdet.datasets.api_wrappers import COCO
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer

    from mmlight.apis import inference_detector, init_detector

    cfg = Config.fromfile(config)
    dataset = cfg[split].dataset
    if 'ann_file' not in dataset or 'data_prefix' not in dataset:
        raise ValueError(
            f'{config}: {split}.dataset has no ann_file/data_prefix (a COCO-style '
            f'dataset is expected), found keys {sorted(dataset)}'
        )
    root = dataset.get('data_root', '')
    coco = COCO(osp.join(root, dataset.ann_file))
    model = init_detector(cfg, checkpoint, device=device)  # safe, strict loading
    classes = model.dataset_meta['classes']
    cat_ids = coco.get_cat_ids(cat_names=classes)
    cat_to_label = {cat_id: i for i, cat_id in enumerate(cat_ids)}
    visualizer = DetLocalVisualizer(name=f'prediction_grid_{os.getpid()}')
    visualizer.dataset_meta = model.dataset_meta

    panels = []
    for image_id in sorted(coco.get_img_ids())[:num_images]:
        info = coco.load_imgs([image_id])[0]
        path = osp.join(root, dataset.data_prefix.get('img', ''), info['file_name'])
        image = mmcv.imread(path, channel_order='rgb')
        result = inference_detector(model, path)
        sample = DetDataSample()
        sample.gt_instances = _ground_truth(coco, image_id, cat_to_label)
        sample.pred_instances = result.pred_instances
        with warnings.catch_warnings():
            # a box that reaches past the image's edge is drawn clipped, which is what we want
            warnings.filterwarnings('ignore', message='.*polygon is out of bounds')
            visualizer.add_datasample(
                info['file_name'],
                image,
                sample,
                draw_gt=True,
                draw_pred=True,
                show=False,
                pred_score_thr=score_thr,
            )
        found = int((result.pred_instances.scores >= score_thr).sum())
        panels.append(
            _titled(
                visualizer.get_image(),
                f'{info["file_name"]}: ground truth {len(sample.gt_instances)} | '
                f'predicted {found} (score >= {score_thr})',
            )
        )
    if not panels:
        raise ValueError(f'{config}: the {split} set has no images')
    height = max(p.shape[0] for p in panels)
    width = max(p.shape[1] for p in panels)
    padded = [
        np.pad(p, ((0, height - p.shape[0]), (0, width - p.shape[1]), (0, 0)), constant_values=255)
        for p in panels
    ]
    while len(padded) % columns:
        padded.append(np.full_like(padded[0], 255))
    rows = [np.concatenate(padded[i : i + columns], 1) for i in range(0, len(padded), columns)]
    grid = np.concatenate(rows, 0)
    if osp.dirname(out_file):
        os.makedirs(osp.dirname(out_file), exist_ok=True)
    if not cv2.imwrite(out_file, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {out_file}')
    return out_file
