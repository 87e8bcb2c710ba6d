"""The export-friendly inference path of an mmdet detector: one image in, detections out.

``DeployableDetector`` wraps a built (and trained) mmdet detector, reusing its modules and
weights: the data preprocessor's normalisation and padding, backbone, neck and heads run as
they are; the post-processing is :mod:`mmlight.deployment.postprocess`, which computes what
mmdet's ``predict`` computes in a form ``torch.export`` can trace.

Input: ``image`` float32 [1, 3, H, W] in the pixel range and channel order that mmdet's
``LoadImageFromFile`` gives (BGR, 0-255), at the size the test pipeline resized it to.
Outputs (mmdeploy's convention), in the input image's coordinates:
``dets`` [N, 5] (x1, y1, x2, y2, score), ``labels`` [N] int64 and, for Mask R-CNN,
``masks`` [N, H, W] bool; with ``with_proposals``, a two-stage detector's RPN proposals too,
``proposals`` [P, 5] (x1, y1, x2, y2, objectness), the RoIs its RoI head runs on.
"""
import copy
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmlight.models.layers import GlobalLocalFilter

from . import postprocess as post

OUTPUT_NAMES = {'bbox': ('dets', 'labels'), 'mask': ('dets', 'labels', 'masks')}
PROPOSALS = 'proposals'


# what the export covers, for the errors that refuse the rest
SUPPORTED = ('two-stage: RPNHead + StandardRoIHead (Faster/Mask R-CNN) or CascadeRoIHead '
             '(Cascade (Mask) R-CNN); single-stage: '
             'YOLOV3Head (and YOLOv4Head), YOLOXHead, and the dense heads that keep mmdet\'s '
             'base post-processing (RetinaHead, FCOSHead, ATSSHead, RTMDetHead, ...)')
# BaseDenseHead's post-processing, which a dense head must not override to be exported
BASE_POST_PROCESSING = ('predict', 'predict_by_feat', '_predict_by_feat_single',
                        '_bbox_post_process')


def _class_names(obj):
    return {cls.__name__ for cls in type(obj).__mro__}


def _single_stage_layout(head) -> str:
    from mmdet.models.dense_heads import YOLOXHead
    from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
    names = _class_names(head)
    if 'YOLOV3Head' in names:
        return 'yolo'
    overridden = [m for m in BASE_POST_PROCESSING
                  if getattr(type(head), m, None) is not getattr(BaseDenseHead, m)]
    if isinstance(head, YOLOXHead) and all(getattr(type(head), m) is getattr(YOLOXHead, m)
                                           for m in BASE_POST_PROCESSING):
        return 'yolox'
    if not isinstance(head, BaseDenseHead) or overridden:
        own = f" (its own {', '.join(overridden)})" if overridden else ''
        raise ValueError(f'DeployableDetector: the ONNX path does not export '
                         f'{type(head).__name__}{own}; supported: {SUPPORTED}')
    if getattr(head.loss_cls, 'custom_cls_channels', False):
        raise ValueError(f'DeployableDetector: {type(head).__name__} with its own '
                         'classification activation (custom_cls_channels) is not supported, '
                         f'got {type(head.loss_cls).__name__}')
    return 'dense'


def detector_layout(detector) -> str:
    """'two_stage' (RPN + StandardRoIHead), 'cascade' (RPN + CascadeRoIHead), 'yolo'
    (YOLOV3Head and subclasses), 'yolox' (YOLOXHead) or 'dense' (a dense head with mmdet's base
    post-processing); anything else raises, naming what it found and what is supported."""
    names = _class_names(detector)
    if 'TwoStageDetector' in names:
        rpn, roi = getattr(detector, 'rpn_head', None), getattr(detector, 'roi_head', None)
        if rpn is not None and 'RPNHead' in _class_names(rpn) and roi is not None:
            # exactly these classes: a subclass (HTC, SCNet, ...) has its own inference
            if type(roi).__name__ == 'StandardRoIHead':
                return 'two_stage'
            if type(roi).__name__ == 'CascadeRoIHead':
                return 'cascade'
        raise ValueError(
            'DeployableDetector: a two-stage detector needs an RPNHead and a StandardRoIHead '
            f'or CascadeRoIHead, got {type(rpn).__name__} and {type(roi).__name__}; '
            f'supported: {SUPPORTED}')
    if 'SingleStageDetector' in names and getattr(detector, 'bbox_head', None) is not None:
        return _single_stage_layout(detector.bbox_head)
    raise ValueError(f'DeployableDetector: expected an mmdet detector, got '
                     f'{type(detector).__name__}; supported: {SUPPORTED}')


class DeployableDetector(nn.Module):
    """An mmdet detector's inference for one image, traceable by ``torch.export``.

    It runs on its own copy of ``detector``, in eval mode, with HorNet's GlobalLocalFilter
    layers computing their DFT as matrix products (the same numbers to ~1e-6; ONNX's DFT runs
    slowly in onnxruntime): the detector it is given is left as it was. Changes to that
    detector after wrapping do not reach the copy.

    Args:
        detector (nn.Module): a built mmdet detector (Faster/Mask R-CNN, YOLOv3/v4, YOLOX, or
            a dense detector such as RetinaNet, FCOS, ATSS, RTMDet: :data:`SUPPORTED`); its
            ``test_cfg`` sets the thresholds, NMS and the number of detections.
        with_proposals (bool): a two-stage detector also outputs its RPN's proposals, after
            the detections (what its RoI head ran on: to compare an export with mmdet stage
            by stage). Default: False.
    """

    def __init__(self, detector: nn.Module, with_proposals: bool = False):
        super().__init__()
        self.layout = detector_layout(detector)
        if with_proposals and self.layout not in ('two_stage', 'cascade'):
            raise ValueError('DeployableDetector: with_proposals needs a two-stage detector '
                             f'(an RPN), got {type(detector).__name__} with '
                             f'{type(detector.bbox_head).__name__}')
        self.with_proposals = with_proposals
        detector = copy.deepcopy(detector).eval()
        self.detector = detector
        for module in detector.modules():
            if isinstance(module, GlobalLocalFilter):
                module.dft_as_matmul = True
        preprocessor = detector.data_preprocessor
        self.swap_channels = bool(getattr(preprocessor, '_channel_conversion', False))
        self.normalize = bool(getattr(preprocessor, '_enable_normalize', False))
        self.pad_divisor = int(getattr(preprocessor, 'pad_size_divisor', 1))
        self.pad_value = float(getattr(preprocessor, 'pad_value', 0))
        if self.layout in ('two_stage', 'cascade'):
            roi_head = detector.roi_head
            cascade = self.layout == 'cascade'
            bbox_heads = list(roi_head.bbox_head) if cascade else [roi_head.bbox_head]
            extractors = list(roi_head.bbox_roi_extractor) if cascade else [
                roi_head.bbox_roi_extractor]
            for extractor in extractors:
                post.check_roi_layer(extractor.roi_layers[0], 'bbox_roi_extractor')
            for bbox_head in bbox_heads:
                if bbox_head.custom_cls_channels or bbox_head.custom_activation:
                    raise ValueError('DeployableDetector: a bbox head with its own '
                                     'classification activation (e.g. Seesaw loss) is not '
                                     f'supported, got {type(bbox_head.loss_cls).__name__}')
            self.with_mask = bool(roi_head.with_mask)
            if self.with_mask:
                extractors = list(roi_head.mask_roi_extractor) if cascade else [
                    roi_head.mask_roi_extractor]
                for extractor in extractors:
                    post.check_roi_layer(extractor.roi_layers[0], 'mask_roi_extractor')
        else:
            self.with_mask = False

    @property
    def largest_stride(self) -> int:
        """The largest stride of the feature maps the heads predict from (their prior
        generator's)."""
        layout = self.layout
        head = self.detector.rpn_head if layout in ('two_stage', 'cascade') else \
            self.detector.bbox_head
        return int(max(max(stride) if isinstance(stride, (tuple, list)) else stride
                       for stride in head.prior_generator.strides))

    @property
    def output_names(self) -> Tuple[str, ...]:
        names = OUTPUT_NAMES['mask' if self.with_mask else 'bbox']
        return names + (PROPOSALS, ) if self.with_proposals else names

    def preprocess(self, image: Tensor) -> Tensor:
        """DetDataPreprocessor: channel swap, (x - mean) / std, pad right and bottom."""
        if self.swap_channels:
            image = image.flip(1)
        if self.normalize:
            preprocessor = self.detector.data_preprocessor
            image = (image - preprocessor.mean) / preprocessor.std
        if self.pad_divisor > 1:
            height, width = image.shape[-2:]
            pad_h = (self.pad_divisor - height % self.pad_divisor) % self.pad_divisor
            pad_w = (self.pad_divisor - width % self.pad_divisor) % self.pad_divisor
            image = F.pad(image, (0, pad_w, 0, pad_h), value=self.pad_value)
        return image

    def forward(self, image: Tensor):
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError('DeployableDetector: expected one image as float [1, 3, H, W] '
                             f'(BGR, 0-255), got shape {tuple(image.shape)}')
        height, width = image.shape[-2:]
        feats = self.detector.extract_feat(self.preprocess(image.float()))
        if self.layout in ('two_stage', 'cascade'):
            proposals = self._rpn_proposals(feats, height, width)
            rois = torch.cat([proposals.new_zeros(proposals.shape[0], 1), proposals[:, :4]],
                             dim=1)
            run = self._two_stage if self.layout == 'two_stage' else self._cascade
            outputs = run(feats, rois, height, width)
            return outputs + (proposals, ) if self.with_proposals else outputs
        head, cfg = self.detector.bbox_head, self.detector.test_cfg
        outputs = head(feats)
        if self.layout == 'yolo':
            return post.yolo_detections(head, outputs[0], cfg)
        if self.layout == 'yolox':
            return post.yolox_detections(head, *outputs, cfg)
        return post.dense_detections(head, outputs, (height, width), cfg)

    def _two_stage(self, feats, rois, height, width):
        detector, roi_head = self.detector, self.detector.roi_head
        extractor = roi_head.bbox_roi_extractor
        roi_feats = post.extract_roi_features(extractor, feats[:extractor.num_inputs], rois)
        if roi_head.with_shared_head:
            roi_feats = roi_head.shared_head(roi_feats)
        cls_score, bbox_pred = roi_head.bbox_head(roi_feats)
        rcnn_cfg = detector.test_cfg.rcnn
        dets, labels = post.roi_head_detections(roi_head.bbox_head, rois, cls_score, bbox_pred,
                                                (height, width), rcnn_cfg)
        if not self.with_mask:
            return dets, labels
        boxes = dets[:, :4]
        mask_rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)
        extractor = roi_head.mask_roi_extractor
        mask_feats = post.extract_roi_features(extractor, feats[:extractor.num_inputs],
                                               mask_rois)
        if roi_head.with_shared_head:
            mask_feats = roi_head.shared_head(mask_feats)
        mask_preds = roi_head.mask_head(mask_feats)
        masks = post.mask_head_masks(roi_head.mask_head, mask_preds, boxes, labels, height,
                                     width, rcnn_cfg.mask_thr_binary)
        return dets, labels, masks

    def _rpn_proposals(self, feats, height, width):
        """[P, 5]: the RPN's boxes and objectness."""
        detector = self.detector
        cls_scores, bbox_preds = detector.rpn_head(feats)
        boxes, scores = post.rpn_proposals(detector.rpn_head, cls_scores, bbox_preds,
                                           (height, width), detector.test_cfg.rpn)
        return torch.cat([boxes, scores[:, None]], dim=1)

    def _cascade(self, feats, rois, height, width):
        """``CascadeRoIHead.predict``: each stage's box head on the RoIs the stage before
        refined (by its best non-background class), the stages' mean class logits with the last
        stage's deltas for the detections, and masks as the mean of every stage's mask
        probabilities."""
        roi_head, rcnn_cfg = self.detector.roi_head, self.detector.test_cfg.rcnn
        stage_scores = []
        for stage in range(roi_head.num_stages):
            extractor = roi_head.bbox_roi_extractor[stage]
            roi_feats = post.extract_roi_features(extractor, feats[:extractor.num_inputs], rois)
            cls_score, bbox_pred = roi_head.bbox_head[stage](roi_feats)
            stage_scores.append(cls_score)
            if stage < roi_head.num_stages - 1:
                boxes = post.regress_by_class(roi_head.bbox_head[stage], rois[:, 1:],
                                              cls_score[:, :-1].argmax(dim=1), bbox_pred,
                                              (height, width))
                rois = torch.cat([rois[:, :1], boxes], dim=1)
        cls_score = sum(stage_scores) / float(len(stage_scores))
        dets, labels = post.roi_head_detections(roi_head.bbox_head[-1], rois, cls_score,
                                                bbox_pred, (height, width), rcnn_cfg)
        if not self.with_mask:
            return dets, labels
        boxes = dets[:, :4]
        mask_rois = torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)
        probs = []
        for stage in range(roi_head.num_stages):
            extractor = roi_head.mask_roi_extractor[stage]
            mask_feats = post.extract_roi_features(extractor, feats[:extractor.num_inputs],
                                                   mask_rois)
            probs.append(roi_head.mask_head[stage](mask_feats).sigmoid())
        masks = post.mask_head_masks(roi_head.mask_head[-1], torch.stack(probs).mean(0), boxes,
                                     labels, height, width, rcnn_cfg.mask_thr_binary,
                                     activated=True)
        return dets, labels, masks
