"""The post-processing of mmdet's RPN, bbox, mask, dense (RetinaNet, FCOS, ATSS, RTMDet, ...),
YOLOv3 and YOLOX heads and of Cascade R-CNN's stage refinement, written so that
``torch.export`` can trace it: no Python branch on tensor values, no loop whose length depends
on the data. Each function computes what the mmdet code it names computes (the tests compare
whole detectors with mmdet's ``predict``), with these standard replacements:

- ``mask.nonzero()`` + indexing where mmdet filters (a data-dependent size, which the exporter
  carries as an unbacked dimension and ONNX as NonZero + Gather);
- torchvision's ``nms`` (ONNX NonMaxSuppression) with mmdet's class-offset trick;
- torchvision's ``roi_align`` (ONNX RoiAlign) for mmcv's RoIAlign layers, with their settings.
"""

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import nms, roi_align


def keep_where(mask: Tensor) -> Tensor:
    """Indices of the true entries of a 1-D mask (mmdet: ``mask.nonzero().squeeze(1)``)."""
    return mask.nonzero().squeeze(1)


def batched_nms(
    boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float, max_num: int = -1
) -> Tensor:
    """mmcv's ``batched_nms``: NMS within each ``idxs`` group, by shifting every group by
    ``idxs * (max coordinate + 1)``; the kept indices in descending score order.

    mmcv switches to a loop over the groups above 10000 boxes; that keeps the same boxes
    (groups never overlap after the shift), so one shifted NMS stands for both."""
    # mmcv takes boxes.max(); the -inf entry only makes the max of no boxes defined
    max_coordinate = torch.cat([boxes.reshape(-1), boxes.new_full((1,), float('-inf'))]).max()
    offsets = idxs.to(boxes) * (max_coordinate + 1)
    keep = nms(boxes + offsets[:, None], scores, iou_threshold)
    return keep[:max_num] if max_num > 0 else keep


def nms_detections(
    boxes: Tensor,
    scores: Tensor,
    labels: Tensor,
    cfg,
    owner: str,
    valid: Tensor | None = None,
    max_num: int | None = None,
):
    """The end of mmdet's dense-head post-processing: the ``valid`` rows (default: all),
    ``min_bbox_size``, batched NMS by label (mmcv's, class-agnostic where ``cfg.nms`` says
    so), the best ``max_num`` (default ``cfg.max_per_img``). Returns dets [K, 5], labels."""
    iou_threshold, class_agnostic = nms_settings(cfg, owner)
    valid = torch.ones_like(scores, dtype=torch.bool) if valid is None else valid
    if cfg.get('min_bbox_size', -1) >= 0:
        valid = valid & positive_size(boxes, cfg.min_bbox_size)
    valid = keep_where(valid)
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    max_num = cfg.get('max_per_img', -1) if max_num is None else max_num
    keep = batched_nms(
        boxes,
        scores,
        torch.zeros_like(labels) if class_agnostic else labels,
        iou_threshold,
        max_num,
    )
    return torch.cat([boxes[keep], scores[keep, None]], dim=1), labels[keep]


def topk_padded(scores: Tensor, k: int):
    """The ``k`` largest scores and their indices: mmdet's ``scores.sort(descending=True)``
    cut at ``k``, padded with -inf scores (index ``len(scores)``) where there are fewer.

    A constant ``k`` instead of ``min(k, len(scores))``: with symbolic image sizes the
    exporter would carry (and simplify, for minutes) that min through everything after it.
    Callers drop the padding with :func:`is_real`."""
    padded = torch.cat([scores, scores.new_full((k,), float('-inf'))])
    return padded.topk(k)


def pad_rows(tensor: Tensor, k: int) -> Tensor:
    """``tensor`` with ``k`` zero rows appended: the rows :func:`topk_padded`'s padding
    indices point at."""
    return torch.cat([tensor, tensor.new_zeros((k, *tuple(tensor.shape[1:])))])


def is_real(scores: Tensor) -> Tensor:
    return scores > float('-inf')


def flatten_level(feature_map: Tensor, channels: int) -> Tensor:
    """One image's prediction map [1, A * channels, H, W] as rows [H * W * A, channels], in
    mmdet's order (position-major, then anchor)."""
    return feature_map[0].permute(1, 2, 0).reshape(-1, channels)


def level_predictions(head, cls_score: Tensor, bbox_pred: Tensor) -> tuple[Tensor, Tensor]:
    """A dense head's class logits [N, cls_out_channels] and box deltas [N, encode_size] at
    one level."""
    return (
        flatten_level(cls_score, head.cls_out_channels),
        flatten_level(bbox_pred, head.bbox_coder.encode_size),
    )


def filter_scores_and_topk(scores: Tensor, score_thr: float, nms_pre: int):
    """mmdet's ``filter_scores_and_topk`` for ``scores`` [N, C]: the (box, class) pairs above
    ``score_thr``, the best ``nms_pre`` of them (all where ``nms_pre <= 0``). Returns their
    scores, labels and box indices; with ``nms_pre``, padded to ``nms_pre`` entries of score
    -inf and box index N (index a tensor with one zero row appended, :func:`pad_rows`, and drop
    them with :func:`is_real`)."""
    num_boxes, num_classes = scores.shape
    pairs = keep_where(scores.reshape(-1) > score_thr)
    kept = scores.reshape(-1)[pairs]
    if nms_pre > 0:
        kept, order = topk_padded(kept, nms_pre)
        pairs = torch.cat([pairs, pairs.new_full((nms_pre,), num_boxes * num_classes)])[order]
    return kept, pairs % num_classes, pairs // num_classes


def nms_settings(cfg, owner: str):
    """The IoU threshold and class-agnosticism of ``cfg.nms``; mmcv's plain NMS only (ONNX
    NonMaxSuppression computes nothing else)."""
    nms_type = cfg.nms.get('type', 'nms')
    if nms_type != 'nms':
        raise ValueError(
            f"{owner}: the ONNX path supports test_cfg nms type 'nms', got {nms_type!r}"
        )
    return cfg.nms.iou_threshold, bool(cfg.nms.get('class_agnostic', False))


def positive_size(boxes: Tensor, min_size: float) -> Tensor:
    """mmdet's ``min_bbox_size`` filter: width and height both greater than ``min_size``."""
    return (boxes[:, 2] - boxes[:, 0] > min_size) & (boxes[:, 3] - boxes[:, 1] > min_size)


def rpn_proposals(rpn_head, cls_scores, bbox_preds, img_shape, cfg) -> tuple[Tensor, Tensor]:
    """``RPNHead.predict_by_feat`` for one image (batch 1): the proposals [N, 4] and their
    objectness scores [N]."""
    height, width = img_shape
    featmap_sizes = [score.shape[-2:] for score in cls_scores]
    priors = rpn_head.prior_generator.grid_priors(featmap_sizes, device=cls_scores[0].device)
    nms_pre = cfg.get('nms_pre', -1)
    level_scores, level_deltas, level_priors, level_ids = [], [], [], []
    for level, (cls_score, bbox_pred, level_prior) in enumerate(
        zip(cls_scores, bbox_preds, priors, strict=True)
    ):
        logits, deltas = level_predictions(rpn_head, cls_score, bbox_pred)
        if rpn_head.use_sigmoid_cls:
            scores = logits.sigmoid()[:, 0]
        else:  # softmax over (fg, bg): the foreground column
            scores = logits.softmax(-1)[:, 0]
        if nms_pre > 0:
            scores, order = topk_padded(scores, nms_pre)
            deltas, level_prior = (
                pad_rows(deltas, nms_pre)[order],
                pad_rows(level_prior, nms_pre)[order],
            )
        level_scores.append(scores)
        level_deltas.append(deltas)
        level_priors.append(level_prior)
        level_ids.append(torch.full_like(scores, level, dtype=torch.long))
    boxes = rpn_head.bbox_coder.decode(
        torch.cat(level_priors), torch.cat(level_deltas), max_shape=(height, width)
    )
    scores, ids = torch.cat(level_scores), torch.cat(level_ids)
    valid = is_real(scores)
    if cfg.get('min_bbox_size', -1) >= 0:
        valid = valid & positive_size(boxes, cfg.min_bbox_size)
    valid = keep_where(valid)
    boxes, scores, ids = boxes[valid], scores[valid], ids[valid]
    keep = batched_nms(boxes, scores, ids, cfg.nms.iou_threshold, cfg.max_per_img)
    return boxes[keep], scores[keep]


def check_roi_layer(layer, owner: str):
    """mmcv's RoIAlign in its average mode is what ONNX RoiAlign computes; nothing else is."""
    name = type(layer).__name__
    if name != 'RoIAlign' or getattr(layer, 'pool_mode', 'avg') != 'avg':
        raise ValueError(
            f'{owner}: the ONNX path supports mmcv RoIAlign layers in avg mode '
            f'(ONNX RoiAlign), got {name} with '
            f'pool_mode={getattr(layer, "pool_mode", None)!r}'
        )


def extract_roi_features(extractor, feats, rois: Tensor) -> Tensor:
    """``SingleRoIExtractor.forward``: every RoI pooled from the level its scale maps to."""
    layers = extractor.roi_layers
    num_levels = len(feats)

    def pool(layer, feat, level_rois):
        return roi_align(
            feat,
            level_rois,
            layer.output_size,
            layer.spatial_scale,
            layer.sampling_ratio,
            layer.aligned,
        )

    if num_levels == 1:
        return pool(layers[0], feats[0], rois)
    target_levels = extractor.map_roi_levels(rois, num_levels)
    out_h, out_w = layers[0].output_size
    roi_feats = feats[0].new_zeros(rois.shape[0], extractor.out_channels, out_h, out_w)
    for level in range(num_levels):
        inds = keep_where(target_levels == level)
        roi_feats = roi_feats.index_put((inds,), pool(layers[level], feats[level], rois[inds]))
    return roi_feats


def multiclass_nms(
    boxes: Tensor,
    scores: Tensor,
    score_thr: float,
    iou_threshold: float,
    max_num: int,
    score_factors: Tensor | None = None,
):
    """mmdet's ``multiclass_nms``: ``boxes`` [N, C, 4] (or [N, 4] shared by the classes),
    ``scores`` [N, C] without the background column. Returns dets [K, 5] and labels [K]."""
    num_classes = scores.shape[1]
    if boxes.dim() == 2:
        boxes = boxes[:, None].expand(-1, num_classes, 4)
    labels = torch.arange(num_classes, device=scores.device).view(1, -1).expand_as(scores)
    boxes, labels = boxes.reshape(-1, 4), labels.reshape(-1)
    valid_mask = scores.reshape(-1) > score_thr
    scores = scores.reshape(-1)
    if score_factors is not None:  # mmdet thresholds before it applies the factors
        scores = scores * score_factors.view(-1, 1).expand(-1, num_classes).reshape(-1)
    valid = keep_where(valid_mask)
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    keep = batched_nms(boxes, scores, labels, iou_threshold, max_num)
    return torch.cat([boxes[keep], scores[keep, None]], dim=1), labels[keep]


def roi_head_detections(
    bbox_head, rois: Tensor, cls_score: Tensor, bbox_pred: Tensor, img_shape, cfg
):
    """``BBoxHead.predict_by_feat`` for one image (batch 1, no rescale)."""
    scores = F.softmax(cls_score, dim=-1)
    num_classes = 1 if bbox_head.reg_class_agnostic else bbox_head.num_classes
    boxes = bbox_head.bbox_coder.decode(
        rois[:, 1:].repeat_interleave(num_classes, dim=0),
        bbox_pred.reshape(-1, bbox_head.bbox_coder.encode_size),
        max_shape=img_shape,
    )
    boxes = boxes.reshape(rois.shape[0], num_classes, 4)
    if num_classes == 1:
        boxes = boxes[:, 0]
    return multiclass_nms(
        boxes, scores[:, :-1], cfg.score_thr, cfg.nms.iou_threshold, cfg.max_per_img
    )


def regress_by_class(
    bbox_head, boxes: Tensor, labels: Tensor, bbox_pred: Tensor, img_shape
) -> Tensor:
    """``BBoxHead.regress_by_class``: each box refined by the deltas of its label (or the
    class-agnostic ones), as a cascade stage passes its boxes to the next."""
    if not bbox_head.reg_class_agnostic:
        size = bbox_head.bbox_coder.encode_size
        columns = labels[:, None] * size + torch.arange(size, device=labels.device)
        bbox_pred = torch.gather(bbox_pred, 1, columns)
    return bbox_head.bbox_coder.decode(boxes, bbox_pred, max_shape=img_shape)


def paste_masks(masks: Tensor, boxes: Tensor, height, width) -> Tensor:
    """mmdet's ``_do_paste_mask`` over the whole image (``skip_empty=False``, which gives the
    same values as its CPU crop): each [h, w] mask probability map resampled into its box."""
    x0, y0, x1, y1 = torch.split(boxes, 1, dim=1)
    img_y = torch.arange(height, device=masks.device, dtype=torch.float32) + 0.5
    img_x = torch.arange(width, device=masks.device, dtype=torch.float32) + 0.5
    img_y = (img_y - y0) / (y1 - y0) * 2 - 1
    img_x = (img_x - x0) / (x1 - x0) * 2 - 1
    img_y = torch.where(torch.isinf(img_y), torch.zeros_like(img_y), img_y)
    img_x = torch.where(torch.isinf(img_x), torch.zeros_like(img_x), img_x)
    num = masks.shape[0]
    gx = img_x[:, None, :].expand(num, img_y.shape[1], img_x.shape[1])
    gy = img_y[:, :, None].expand(num, img_y.shape[1], img_x.shape[1])
    grid = torch.stack([gx, gy], dim=3)
    return F.grid_sample(masks.float(), grid, align_corners=False)[:, 0]


def mask_head_masks(
    mask_head,
    mask_preds: Tensor,
    boxes: Tensor,
    labels: Tensor,
    height,
    width,
    threshold: float,
    activated: bool = False,
) -> Tensor:
    """``FCNMaskHead.predict_by_feat`` for one image (no rescale): binary masks [N, H, W];
    ``activated``: ``mask_preds`` are probabilities already (mmdet's ``activate_map``)."""
    probs = mask_preds if activated else mask_preds.sigmoid()
    if not mask_head.class_agnostic:
        probs = probs[torch.arange(probs.shape[0], device=probs.device), labels]
    else:
        probs = probs[:, 0]
    return paste_masks(probs[:, None], boxes, height, width) >= threshold


def yolo_detections(head, pred_maps, cfg):
    """``YOLOV3Head.predict_by_feat`` for one image (batch 1, no rescale)."""
    featmap_sizes = [pred_map.shape[-2:] for pred_map in pred_maps]
    anchors = head.prior_generator.grid_priors(featmap_sizes, device=pred_maps[0].device)
    level_preds, strides = [], []
    for pred_map, stride in zip(pred_maps, head.featmap_strides, strict=True):
        pred = flatten_level(pred_map, head.num_attrib)
        level_preds.append(torch.cat([pred[:, :2].sigmoid(), pred[:, 2:]], dim=1))
        strides.append(torch.full_like(pred[:, 0], stride))
    preds = torch.cat(level_preds)
    boxes = head.bbox_coder.decode(torch.cat(anchors), preds[:, :4], torch.cat(strides)[:, None])
    objectness = preds[:, 4].sigmoid()
    cls_scores = preds[:, 5:].sigmoid()
    conf_thr = cfg.get('conf_thr', -1)
    if conf_thr > 0:
        confident = keep_where(objectness >= conf_thr)
        boxes, cls_scores, objectness = (
            boxes[confident],
            cls_scores[confident],
            objectness[confident],
        )
    scores, labels, box_inds = filter_scores_and_topk(
        cls_scores, cfg.get('score_thr', 0), cfg.get('nms_pre', -1)
    )
    boxes = pad_rows(boxes, 1)[box_inds]
    valid = is_real(scores)
    scores = scores * pad_rows(objectness, 1)[box_inds]
    return nms_detections(boxes, scores, labels, cfg, 'YOLOV3Head', valid)


def dense_detections(head, outputs, img_shape, cfg):
    """``BaseDenseHead.predict_by_feat(*outputs)`` for one image (batch 1, no rescale), the
    post-processing of every dense head that keeps mmdet's base (RetinaNet, FCOS, ATSS,
    RTMDet, ...): per level the classification activation (sigmoid, or softmax without the
    background column), the score threshold and the ``nms_pre`` best (box, class) pairs; the
    head's own ``bbox_coder`` decoding over its priors (anchors or points); the score factors
    (FCOS's centerness, ATSS's: the head's third output, as mmdet passes it) multiplied in
    after the threshold; then :func:`nms_detections`."""
    cls_scores, bbox_preds, *rest = outputs
    score_factors = rest[0] if rest else None
    featmap_sizes = [score.shape[-2:] for score in cls_scores]
    priors = head.prior_generator.grid_priors(
        featmap_sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device
    )
    nms_pre, score_thr = cfg.get('nms_pre', -1), cfg.get('score_thr', 0)
    factors = [None] * len(cls_scores) if score_factors is None else score_factors
    level_deltas, level_priors, level_scores, level_labels, level_factors = [], [], [], [], []
    for cls_score, bbox_pred, factor, level_prior in zip(
        cls_scores, bbox_preds, factors, priors, strict=True
    ):
        logits, deltas = level_predictions(head, cls_score, bbox_pred)
        scores = logits.sigmoid() if head.use_sigmoid_cls else logits.softmax(-1)[:, :-1]
        scores, labels, box_inds = filter_scores_and_topk(scores, score_thr, nms_pre)
        level_deltas.append(pad_rows(deltas, 1)[box_inds])
        level_priors.append(pad_rows(level_prior, 1)[box_inds])
        level_scores.append(scores)
        level_labels.append(labels)
        if factor is not None:
            level_factors.append(pad_rows(flatten_level(factor, 1)[:, 0].sigmoid(), 1)[box_inds])
    boxes = head.bbox_coder.decode(
        torch.cat(level_priors), torch.cat(level_deltas), max_shape=img_shape
    )
    scores = torch.cat(level_scores)
    valid = is_real(scores)
    if level_factors:
        scores = scores * torch.cat(level_factors)
    return nms_detections(boxes, scores, torch.cat(level_labels), cfg, type(head).__name__, valid)


def yolox_detections(head, cls_scores, bbox_preds, objectnesses, cfg):
    """``YOLOXHead.predict_by_feat`` for one image (batch 1, no rescale): one label per box
    (its best class), score = class score x objectness, thresholded, NMS, no ``max_per_img``
    cut (YOLOX's own post-processing has none)."""
    featmap_sizes = [score.shape[-2:] for score in cls_scores]
    priors = torch.cat(
        head.prior_generator.grid_priors(
            featmap_sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device, with_stride=True
        )
    )

    def flat(maps, channels):
        return torch.cat([flatten_level(m, channels) for m in maps])

    cls = flat(cls_scores, head.cls_out_channels).sigmoid()
    objectness = flat(objectnesses, 1)[:, 0].sigmoid()
    boxes = head._bbox_decode(priors, flat(bbox_preds, 4))
    max_scores, labels = cls.max(1)
    valid = objectness * max_scores >= cfg.score_thr
    return nms_detections(
        boxes, max_scores * objectness, labels, cfg, 'YOLOXHead', valid, max_num=-1
    )
