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
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmlight.models.layers import GlobalLocalFilter

from . import postprocess as post

OUTPUT_NAMES = {'bbox': ('dets', 'labels'), 'mask': ('dets', 'labels', 'masks')}
PROPOSALS = 'proposals'


# BaseDenseHead's post-processing, which a dense head must not override to be exported
BASE_POST_PROCESSING = (
    'predict',
    'predict_by_feat',
    '_predict_by_feat_single',
    '_bbox_post_process',
)


def _class_names(obj):
    return {cls.__name__ for cls in type(obj).__mro__}


def _largest_stride(head) -> int:
    """The largest stride of the feature maps ``head`` predicts from (its prior generator's)."""
    return int(
        max(
            max(stride) if isinstance(stride, (tuple, list)) else stride
            for stride in head.prior_generator.strides
        )
    )


def _with_rois(boxes: Tensor) -> Tensor:
    """Boxes [N, 4] as RoIs [N, 5] of image 0."""
    return torch.cat([boxes.new_zeros(boxes.shape[0], 1), boxes], dim=1)


class DetectorKind:
    """How one kind of mmdet detector turns its neck's features into detections for one image.

    A kind says which detectors it takes (:meth:`matches`), checks when it is built that the
    detector is one the export computes exactly (a ValueError naming what it found otherwise),
    knows the head whose priors set the largest stride and the layers whose outputs become
    scores. :func:`detector_kind` tries :data:`KINDS` in order; a new kind is one subclass
    added there, with its post-processing in :mod:`mmlight.deployment.postprocess`.

    Args:
        detector: the mmdet detector to check.
        with_proposals: also output the RPN's proposals; only a kind with an RPN
            (``has_proposals``) takes it.
    """

    name = ''
    # what the kind exports, for the list of what is supported
    supports = ''
    with_mask = False
    has_proposals = False

    def __init__(self, detector: Any, with_proposals: bool = False):
        if with_proposals and not self.has_proposals:
            raise ValueError(
                'DeployableDetector: with_proposals needs a two-stage detector (an RPN), got '
                f'{type(detector).__name__} with '
                f'{type(getattr(detector, "bbox_head", None)).__name__}'
            )
        self.with_proposals = with_proposals
        self.check(detector)

    @classmethod
    def matches(cls, detector: Any) -> bool:
        """Whether ``detector`` is of this kind (its checks may still refuse it)."""
        raise NotImplementedError

    @classmethod
    def refusal(cls, detector: Any) -> str | None:
        """Why a detector that no kind matches is not of this kind, where it looks like one
        (None: it does not)."""
        return None

    def check(self, detector: Any) -> None:
        """Raise unless the export computes what this detector's ``predict`` computes."""

    def largest_stride(self, detector: Any) -> int:
        return _largest_stride(detector.bbox_head)

    def score_biases(self, detector: Any) -> list[Tensor]:
        """The biases (views of them) of the layers whose outputs become the detections'
        scores: classification and objectness. Their init puts an untrained single-stage
        detector's scores under the score threshold."""
        return []

    def detections(self, detector: Any, feats, height, width) -> tuple[Tensor, ...]:
        """(dets, labels[, masks][, proposals]) from the neck's ``feats`` of an image of
        ``height`` x ``width``."""
        raise NotImplementedError


class RoIHeadKind(DetectorKind):
    """A two-stage detector: an RPN's proposals, then an RoI head's stages (one for
    StandardRoIHead, several for CascadeRoIHead), with masks where it has a mask head.

    Args:
        detector: the mmdet detector.
        with_proposals: also output the RPN's proposals [P, 5] (x1, y1, x2, y2, objectness).
    """

    roi_head_type = ''
    has_proposals = True

    def __init__(self, detector: Any, with_proposals: bool = False):
        super().__init__(detector, with_proposals)
        self.with_mask = bool(detector.roi_head.with_mask)

    @classmethod
    def matches(cls, detector: Any) -> bool:
        # exactly this RoI head class: a subclass (HTC, SCNet, ...) has its own inference
        return (
            'TwoStageDetector' in _class_names(detector)
            and type(getattr(detector, 'roi_head', None)).__name__ == cls.roi_head_type
        )

    @classmethod
    def refusal(cls, detector: Any) -> str | None:
        if 'TwoStageDetector' not in _class_names(detector):
            return None
        return (
            'DeployableDetector: a two-stage detector needs an RPNHead and a StandardRoIHead '
            f"or CascadeRoIHead, got {type(getattr(detector, 'rpn_head', None)).__name__} and "
            f"{type(getattr(detector, 'roi_head', None)).__name__}; supported: {supported()}"
        )

    @staticmethod
    def stages(module) -> list:
        """A cascade's per-stage modules (a ModuleList) or a single stage's one, as a list."""
        return list(module) if isinstance(module, nn.ModuleList) else [module]

    def check(self, detector: Any) -> None:
        rpn = getattr(detector, 'rpn_head', None)
        if rpn is None or 'RPNHead' not in _class_names(rpn):
            raise ValueError(
                f'DeployableDetector: a two-stage detector needs an RPNHead, got '
                f'{type(rpn).__name__}; supported: {supported()}'
            )
        roi_head = detector.roi_head
        for extractor in self.stages(roi_head.bbox_roi_extractor):
            post.check_roi_layer(extractor.roi_layers[0], 'bbox_roi_extractor')
        for bbox_head in self.stages(roi_head.bbox_head):
            if bbox_head.custom_cls_channels or bbox_head.custom_activation:
                raise ValueError(
                    'DeployableDetector: a bbox head with its own '
                    'classification activation (e.g. Seesaw loss) is not '
                    f'supported, got {type(bbox_head.loss_cls).__name__}'
                )
        if roi_head.with_mask:
            for extractor in self.stages(roi_head.mask_roi_extractor):
                post.check_roi_layer(extractor.roi_layers[0], 'mask_roi_extractor')

    def largest_stride(self, detector: Any) -> int:
        return _largest_stride(detector.rpn_head)

    def detections(self, detector, feats, height, width):
        cls_scores, bbox_preds = detector.rpn_head(feats)
        boxes, scores = post.rpn_proposals(
            detector.rpn_head, cls_scores, bbox_preds, (height, width), detector.test_cfg.rpn
        )
        proposals = torch.cat([boxes, scores[:, None]], dim=1)
        dets, labels = self.roi_detections(detector, feats, _with_rois(boxes), height, width)
        outputs: tuple[Tensor, ...] = (dets, labels)
        if self.with_mask:
            outputs += (self.masks(detector, feats, dets, labels, height, width),)
        return (*outputs, proposals) if self.with_proposals else outputs

    @staticmethod
    def roi_features(roi_head, extractor, feats, rois):
        roi_feats = post.extract_roi_features(extractor, feats[: extractor.num_inputs], rois)
        return roi_head.shared_head(roi_feats) if roi_head.with_shared_head else roi_feats

    def roi_detections(self, detector, feats, rois, height, width):
        """``CascadeRoIHead.predict`` (``StandardRoIHead``'s for one stage): each stage's box
        head on the RoIs the stage before refined (by its best non-background class), the
        stages' mean class logits with the last stage's deltas for the detections."""
        roi_head = detector.roi_head
        extractors = self.stages(roi_head.bbox_roi_extractor)
        bbox_heads = self.stages(roi_head.bbox_head)
        stage_scores = []
        for stage, (extractor, bbox_head) in enumerate(zip(extractors, bbox_heads, strict=True)):
            cls_score, bbox_pred = bbox_head(self.roi_features(roi_head, extractor, feats, rois))
            stage_scores.append(cls_score)
            if stage < len(bbox_heads) - 1:
                boxes = post.regress_by_class(
                    bbox_head,
                    rois[:, 1:],
                    cls_score[:, :-1].argmax(dim=1),
                    bbox_pred,
                    (height, width),
                )
                rois = torch.cat([rois[:, :1], boxes], dim=1)
        if len(stage_scores) > 1:
            cls_score = sum(stage_scores) / float(len(stage_scores))
        return post.roi_head_detections(
            bbox_heads[-1], rois, cls_score, bbox_pred, (height, width), detector.test_cfg.rcnn
        )

    def masks(self, detector, feats, dets, labels, height, width):
        """``FCNMaskHead`` masks of the detections: the mean of every stage's mask
        probabilities (a cascade's; one stage's own otherwise), pasted and thresholded."""
        roi_head, boxes = detector.roi_head, dets[:, :4]
        mask_rois = _with_rois(boxes)
        mask_heads = self.stages(roi_head.mask_head)
        probs = [
            mask_head(self.roi_features(roi_head, extractor, feats, mask_rois)).sigmoid()
            for extractor, mask_head in zip(
                self.stages(roi_head.mask_roi_extractor), mask_heads, strict=True
            )
        ]
        mean = probs[0] if len(probs) == 1 else torch.stack(probs).mean(0)
        return post.mask_head_masks(
            mask_heads[-1],
            mean,
            boxes,
            labels,
            height,
            width,
            detector.test_cfg.rcnn.mask_thr_binary,
            activated=True,
        )


class TwoStageKind(RoIHeadKind):
    """RPN + StandardRoIHead: Faster and Mask R-CNN."""

    name = 'two_stage'
    supports = 'two-stage: RPNHead + StandardRoIHead (Faster/Mask R-CNN)'
    roi_head_type = 'StandardRoIHead'


class CascadeKind(RoIHeadKind):
    """RPN + CascadeRoIHead: Cascade (Mask) R-CNN."""

    name = 'cascade'
    supports = 'cascade: RPNHead + CascadeRoIHead (Cascade (Mask) R-CNN)'
    roi_head_type = 'CascadeRoIHead'


class SingleStageKind(DetectorKind):
    """A single-stage detector: its ``bbox_head``'s outputs, then the head's post-processing."""

    @classmethod
    def matches(cls, detector: Any) -> bool:
        return (
            'SingleStageDetector' in _class_names(detector)
            and getattr(detector, 'bbox_head', None) is not None
            and cls.matches_head(detector.bbox_head)
        )

    @classmethod
    def matches_head(cls, head) -> bool:
        raise NotImplementedError

    # the score layers of mmdet's dense heads (RetinaNet, FCOS, ATSS, RTMDet, YOLOX)
    score_layer_names = (
        'retina_cls',
        'conv_cls',
        'atss_cls',
        'rtm_cls',
        'multi_level_conv_cls',
        'multi_level_conv_obj',
    )

    def score_biases(self, detector: Any) -> list[Tensor]:
        biases: list[Tensor] = []
        for name in self.score_layer_names:
            layer = getattr(detector.bbox_head, name, None)
            convs = [] if layer is None else layer if isinstance(layer, nn.ModuleList) else [layer]
            biases += [conv.bias.data for conv in convs if isinstance(conv.bias, Tensor)]
        return biases

    def detections(self, detector, feats, height, width):
        return self.head_detections(
            detector.bbox_head, detector.bbox_head(feats), (height, width), detector.test_cfg
        )

    def head_detections(self, head, outputs, img_shape, cfg):
        raise NotImplementedError


class YOLOKind(SingleStageKind):
    """YOLOV3Head and its subclasses (YOLOv4Head)."""

    name = 'yolo'
    supports = 'YOLOV3Head (and YOLOv4Head)'

    @classmethod
    def matches_head(cls, head) -> bool:
        return 'YOLOV3Head' in _class_names(head)

    def score_biases(self, detector: Any) -> list[Tensor]:
        # each prediction conv's outputs: per anchor (x, y, w, h, objectness, classes...)
        head = detector.bbox_head
        return [conv.bias.data.view(-1, head.num_attrib)[:, 4:] for conv in head.convs_pred]

    def head_detections(self, head, outputs, img_shape, cfg):
        return post.yolo_detections(head, outputs[0], cfg)


def _overridden_post_processing(head, base) -> list:
    return [
        method
        for method in BASE_POST_PROCESSING
        if getattr(type(head), method, None) is not getattr(base, method)
    ]


class YOLOXKind(SingleStageKind):
    """YOLOXHead with its own post-processing as mmdet has it."""

    name = 'yolox'
    supports = 'YOLOXHead'

    @classmethod
    def matches_head(cls, head) -> bool:
        from mmdet.models.dense_heads import YOLOXHead

        return isinstance(head, YOLOXHead) and not _overridden_post_processing(head, YOLOXHead)

    def head_detections(self, head, outputs, img_shape, cfg):
        cls_scores, bbox_preds, objectnesses = outputs
        return post.yolox_detections(head, cls_scores, bbox_preds, objectnesses, cfg)


class DenseKind(SingleStageKind):
    """A dense head that keeps mmdet's base post-processing: RetinaNet, FCOS, ATSS, RTMDet..."""

    name = 'dense'
    supports = (
        "the dense heads that keep mmdet's base post-processing (RetinaHead, FCOSHead, "
        'ATSSHead, RTMDetHead, ...)'
    )

    @classmethod
    def matches_head(cls, head) -> bool:
        return True  # the last single-stage kind: check() says why a head is not one

    def check(self, detector: Any) -> None:
        from mmdet.models.dense_heads.base_dense_head import BaseDenseHead

        head = detector.bbox_head
        overridden = _overridden_post_processing(head, BaseDenseHead)
        if not isinstance(head, BaseDenseHead) or overridden:
            own = f" (its own {', '.join(overridden)})" if overridden else ''
            raise ValueError(
                f'DeployableDetector: the ONNX path does not export '
                f'{type(head).__name__}{own}; supported: {supported()}'
            )
        if getattr(head.loss_cls, 'custom_cls_channels', False):
            raise ValueError(
                f'DeployableDetector: {type(head).__name__} with its own '
                'classification activation (custom_cls_channels) is not '
                f'supported, got {type(head.loss_cls).__name__}'
            )

    def head_detections(self, head, outputs, img_shape, cfg):
        return post.dense_detections(head, outputs, img_shape, cfg)


# in the order they are tried: the dense kind takes every other single-stage detector
KINDS: tuple[type[DetectorKind], ...] = (TwoStageKind, CascadeKind, YOLOKind, YOLOXKind, DenseKind)


def supported() -> str:
    """What the export covers, kind by kind (for the errors that refuse the rest)."""
    two_stage = [kind.supports for kind in KINDS if kind.has_proposals]
    single_stage = [kind.supports for kind in KINDS if not kind.has_proposals]
    if len(single_stage) > 1:
        single_stage[-1] = 'and ' + single_stage[-1]
    return f"{'; '.join(two_stage)}; single-stage: {', '.join(single_stage)}"


def detector_kind(detector: nn.Module, with_proposals: bool = False) -> DetectorKind:
    """The :class:`DetectorKind` of an mmdet detector: the first of :data:`KINDS` that matches
    it (two-stage, cascade, yolo, yolox, dense); anything else raises, naming what it found
    and what is supported.

    Args:
        detector: a built mmdet detector.
        with_proposals: a two-stage kind also outputs the RPN's proposals; refused for the
            others.

    Returns:
        The kind, built (its checks passed).
    """
    for kind in KINDS:
        if kind.matches(detector):
            return kind(detector, with_proposals)
    for kind in KINDS:
        reason = kind.refusal(detector)
        if reason is not None:
            raise ValueError(reason)
    raise ValueError(
        f'DeployableDetector: expected an mmdet detector, got '
        f'{type(detector).__name__}; supported: {supported()}'
    )


class DeployableDetector(nn.Module):
    """An mmdet detector's inference for one image, traceable by ``torch.export``.

    It runs on its own copy of ``detector``, in eval mode, with HorNet's GlobalLocalFilter
    layers computing their DFT as matrix products (the same numbers to ~1e-6; ONNX's DFT runs
    slowly in onnxruntime), and with the backbone's training-time branches folded where it
    has a ``reparameterize`` method (RepViT, FastViT). The detector it is given is left as it
    was. Changes to that detector after wrapping do not reach the copy.

    Args:
        detector (nn.Module): a built mmdet detector (Faster/Mask R-CNN, YOLOv3/v4, YOLOX, or
            a dense detector such as RetinaNet, FCOS, ATSS, RTMDet: :func:`supported`); its
            ``test_cfg`` sets the thresholds, NMS and the number of detections.
        with_proposals (bool): a two-stage detector also outputs its RPN's proposals, after
            the detections (what its RoI head ran on: to compare an export with mmdet stage
            by stage). Default: False.
        reparameterize (bool): fold the backbone's training-time branches (RepViT, FastViT).
            False keeps them, to measure what folding buys. Default: True.
    """

    def __init__(
        self, detector: nn.Module, with_proposals: bool = False, reparameterize: bool = True
    ):
        super().__init__()
        self.kind = detector_kind(detector, with_proposals)
        self.with_proposals = with_proposals
        self.with_mask = self.kind.with_mask
        detector = copy.deepcopy(detector).eval()
        self.detector: Any = detector
        for module in detector.modules():
            if isinstance(module, GlobalLocalFilter):
                module.dft_as_matmul = True
        # a backbone with training-time branches (RepViT, FastViT) folds them for inference
        fold = getattr(getattr(detector, 'backbone', None), 'reparameterize', None)
        if reparameterize and callable(fold):
            fold()
        preprocessor = detector.data_preprocessor
        self.swap_channels = bool(getattr(preprocessor, '_channel_conversion', False))
        self.normalize = bool(getattr(preprocessor, '_enable_normalize', False))
        self.pad_divisor = int(getattr(preprocessor, 'pad_size_divisor', 1))
        self.pad_value = float(getattr(preprocessor, 'pad_value', 0))

    @property
    def largest_stride(self) -> int:
        """The largest stride of the feature maps the heads predict from (their prior
        generator's)."""
        return self.kind.largest_stride(self.detector)

    @property
    def output_names(self) -> tuple[str, ...]:
        names = OUTPUT_NAMES['mask' if self.with_mask else 'bbox']
        return (*names, PROPOSALS) if self.with_proposals else names

    def preprocess(self, image: Tensor) -> Tensor:
        """DetDataPreprocessor: channel swap, (x - mean) / std, pad right and bottom."""
        if self.swap_channels:
            image = image.flip(1)
        if self.normalize:
            preprocessor: Any = self.detector.data_preprocessor
            image = (image - preprocessor.mean) / preprocessor.std
        if self.pad_divisor > 1:
            height, width = image.shape[-2:]
            pad_h = (self.pad_divisor - height % self.pad_divisor) % self.pad_divisor
            pad_w = (self.pad_divisor - width % self.pad_divisor) % self.pad_divisor
            image = F.pad(image, (0, pad_w, 0, pad_h), value=self.pad_value)
        return image

    def forward(self, image: Tensor):
        if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
            raise ValueError(
                'DeployableDetector: expected one image as float [1, 3, H, W] '
                f'(BGR, 0-255), got shape {tuple(image.shape)}'
            )
        height, width = image.shape[-2:]
        feats = self.detector.extract_feat(self.preprocess(image.float()))
        return self.kind.detections(self.detector, feats, height, width)
