"""Do two runs of a detector give the same detections? A comparison that holds on any CPU.

Two implementations of the same detector (mmdet's ``predict`` and an exported graph, or one
graph on two CPUs) compute every score and box to float rounding (1e-6), but the cuts after
them are discontinuous: a box whose score sits within rounding of the score threshold, of the
last place kept before NMS (``nms_pre``, per level) or after it (``max_per_img``), or whose
overlap with a kept neighbour sits within rounding of the NMS IoU threshold, or whose score
ties with an overlapping neighbour's (NMS keeps whichever it takes first), can be kept by one
and dropped by the other, and a box that one run keeps can then suppress, in that run only, a
neighbour that the other run keeps; a mask pixel whose probability sits within rounding of the
mask threshold can be in one mask only. Such a difference is a tie, not an error.

:func:`match_detections` matches detections one to one (same label, box and score within
tolerances, masks pixel by pixel) and accepts a detection without a twin, or a mask pixel
that differs, only where the reference explains it by one of those near-ties; anything else
fails, with the detection and what was checked.

A two-stage detector is compared stage by stage: its proposals (the RPN is a detector with one
class, :meth:`Cuts.from_test_cfg` with ``stage='rpn'``), then its detections against the
reference's RoI head run on the candidate's own proposals; a proposal that only one run kept
would otherwise change the RoIs and, through them, detections no tie at the last stage
explains.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

# score and box agreement of two float32 runs of the same computation
SCORE_ATOL = 1e-4
BOX_ATOL = 1e-2
MASK_IOU = 0.99
# how close a score or an IoU must be to a cut for a flip across it to count as a tie
SCORE_EPS = 1e-4
IOU_EPS = 1e-4
MASK_EPS = 1e-4


@dataclass
class Detections:
    """One image's detections: ``boxes`` [N, 4] (x1, y1, x2, y2), ``scores`` [N], ``labels``
    [N] and optionally ``masks`` [N, H, W] bool and, for a reference, the mask probabilities
    they were thresholded from, ``mask_probs`` [N, H, W]."""
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    masks: Optional[np.ndarray] = None
    mask_probs: Optional[np.ndarray] = None

    @classmethod
    def from_outputs(cls, outputs: Dict[str, np.ndarray]) -> 'Detections':
        """From a runner's ``dets``, ``labels`` (and ``masks``)."""
        dets = np.asarray(outputs['dets'], dtype=np.float64)
        return cls(dets[:, :4], dets[:, 4], np.asarray(outputs['labels']),
                   None if 'masks' not in outputs else np.asarray(outputs['masks']))

    @classmethod
    def from_proposals(cls, proposals: np.ndarray) -> 'Detections':
        """From a runner's ``proposals`` [P, 5] (one class)."""
        proposals = np.asarray(proposals, dtype=np.float64)
        return cls(proposals[:, :4], proposals[:, 4], np.zeros(len(proposals), np.int64))

    @classmethod
    def from_instances(cls, instances, mask_probs=None) -> 'Detections':
        """From mmdet's ``pred_instances`` (bboxes, scores, labels (none: the RPN's), masks),
        with the probabilities of the masks where given."""
        def array(value):
            return value.detach().cpu().numpy() if hasattr(value, 'detach') else np.asarray(value)
        masks = array(instances.masks) if 'masks' in instances else None
        scores = array(instances.scores).astype(np.float64)
        labels = array(instances.labels) if 'labels' in instances else np.zeros(
            len(scores), np.int64)
        return cls(array(instances.bboxes).astype(np.float64), scores, labels, masks,
                   None if mask_probs is None else array(mask_probs))

    def __len__(self):
        return len(self.scores)


@dataclass
class Cuts:
    """Where the detector cuts: the post-processing's score threshold(s), the NMS IoU
    threshold (``None``: no NMS), whether NMS is class-agnostic, ``max_per_img`` (-1: none),
    the scores at which the top-k before NMS cut in the reference (``rank_scores``: the
    ``nms_pre``-th score of each level that had more) and the masks' threshold."""
    score_thrs: Sequence[float] = ()
    iou_threshold: Optional[float] = None
    class_agnostic: bool = False
    max_per_img: int = -1
    rank_scores: Sequence[float] = ()
    mask_thr: float = 0.5

    @classmethod
    def from_test_cfg(cls, cfg, stage: str = 'rcnn', rank_scores: Sequence[float] = ()
                      ) -> 'Cuts':
        """From a single-stage test_cfg, or a two-stage one's ``stage`` part: ``'rcnn'``
        (the detections) or ``'rpn'`` (the proposals: one class; NMS within each level,
        taken here as across them, which accepts more flips, never fewer)."""
        cfg = cfg.get(stage, cfg)
        nms = cfg.get('nms') or {}
        return cls(score_thrs=[cfg.get('score_thr', 0.0)], rank_scores=list(rank_scores),
                   iou_threshold=nms.get('iou_threshold'),
                   class_agnostic=stage == 'rpn' or bool(nms.get('class_agnostic', False)),
                   max_per_img=cfg.get('max_per_img', -1),
                   mask_thr=cfg.get('mask_thr_binary', 0.5))


def rank_cut_scores(level_scores: Sequence[np.ndarray], k: int) -> List[float]:
    """The score of the ``k``-th place of each level with more than ``k`` candidates: where
    a top-``k`` before NMS (``nms_pre``) cuts."""
    if k <= 0:
        return []
    return [float(np.sort(np.ravel(scores))[::-1][k - 1]) for scores in level_scores
            if np.size(scores) > k]


@dataclass
class Match:
    """The outcome: pairs ``(reference index, candidate index)``, and for each detection
    without a twin the near-tie that explains it (``explained``) or, where there is none, what
    was checked (``unexplained``)."""
    pairs: List[tuple] = field(default_factory=list)
    explained: List[str] = field(default_factory=list)
    unexplained: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unexplained

    def report(self) -> str:
        lines = [f'{len(self.pairs)} detections matched']
        lines += [f'accepted: {line}' for line in self.explained]
        lines += [f'NOT EXPLAINED: {line}' for line in self.unexplained]
        return '\n'.join(lines)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``boxes``, as mmcv's NMS computes it (no +1)."""
    if len(boxes) == 0:
        return np.zeros(0)
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def _twins(ref: Detections, i: int, cand: Detections, free: Sequence[int]) -> List[int]:
    return [j for j in free if cand.labels[j] == ref.labels[i]
            and abs(cand.scores[j] - ref.scores[i]) <= SCORE_ATOL
            and np.abs(cand.boxes[j] - ref.boxes[i]).max() <= BOX_ATOL]


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def _mask_difference(ref: Detections, i: int, mask: np.ndarray, threshold: float
                     ) -> Optional[str]:
    """Why the candidate's ``mask`` is not the reference's ``i``-th, or None: with the
    reference's probabilities, every differing pixel must lie within :data:`MASK_EPS` of the
    threshold; without them, the masks must overlap to IoU :data:`MASK_IOU`."""
    if ref.masks[i].shape != mask.shape:
        return f'its mask is {ref.masks[i].shape}, its twin\'s {mask.shape}'
    if ref.mask_probs is None:
        iou = _mask_iou(ref.masks[i], mask)
        return None if iou >= MASK_IOU else \
            f'its mask has IoU {iou:.4f} with its twin (< {MASK_IOU})'
    differ = ref.masks[i] != mask
    far = differ & (np.abs(ref.mask_probs[i] - threshold) > MASK_EPS)
    if far.any():
        return (f'{int(far.sum())} of the {int(differ.sum())} pixels where its mask and its '
                f"twin's differ have a probability further than {MASK_EPS} from the mask "
                f'threshold {threshold}')
    return None


def _describe(side: str, dets: Detections, i: int) -> str:
    return (f'{side} detection {i} (label {int(dets.labels[i])}, score {dets.scores[i]:.6f}, '
            f'box {np.round(dets.boxes[i], 2).tolist()})')


def match_detections(reference: Detections, candidate: Detections, cuts: Cuts,
                     names=('reference', 'candidate')) -> Match:
    """Match ``candidate`` to ``reference`` (see the module's docstring). A detection found in
    one run only is accepted where:

    - its score is within :data:`SCORE_EPS` of a score threshold of ``cuts``, or of one of
      its ``rank_scores`` (where ``nms_pre`` cut a level);
    - its run holds ``max_per_img`` detections and its score is within :data:`SCORE_EPS` of
      that run's lowest (the last places may go to either of near-equal boxes);
    - the other run keeps a box of its label (any label, class-agnostic NMS) with at least its
      score (less :data:`SCORE_EPS`) whose IoU with it is within :data:`IOU_EPS` of the NMS
      threshold: there the NMS decision was a near-tie;
    - the other run keeps, without a twin in this one, a box of its label with a score within
      :data:`SCORE_EPS` of its that overlaps it above the NMS threshold: the order in which
      NMS took the two was a near-tie;
    - it overlaps above the NMS threshold (less :data:`IOU_EPS`) a box with at least its score
      that only its own run lost to an accepted near-tie: the other run's box suppressed it.

    Matched masks must agree pixel for pixel where the reference's probabilities are further
    than :data:`MASK_EPS` from the mask threshold (without them, to IoU :data:`MASK_IOU`).
    """
    match = Match()
    free = list(range(len(candidate)))
    lonely = {0: [], 1: []}  # per run: indices without a twin
    for i in range(len(reference)):
        twins = _twins(reference, i, candidate, free)
        if not twins:
            lonely[0].append(i)
            continue
        j = min(twins, key=lambda j: np.abs(candidate.boxes[j] - reference.boxes[i]).max())
        free.remove(j)
        match.pairs.append((i, j))
        if reference.masks is not None and candidate.masks is not None:
            problem = _mask_difference(reference, i, candidate.masks[j], cuts.mask_thr)
            if problem:
                match.unexplained.append(f'{_describe(names[0], reference, i)}: {problem}')
    lonely[1] = free
    runs = (reference, candidate)
    accepted = {0: set(), 1: set()}

    def same_class(a: Detections, i: int, b: Detections) -> np.ndarray:
        return np.ones(len(b), bool) if cuts.class_agnostic else b.labels == a.labels[i]

    def near_tie(side: int, i: int) -> Optional[str]:
        dets, other = runs[side], runs[1 - side]
        score = dets.scores[i]
        for thr in cuts.score_thrs:
            if abs(score - thr) <= SCORE_EPS:
                return f'its score is within {SCORE_EPS} of the score threshold {thr}'
        for cut in cuts.rank_scores:
            if abs(score - cut) <= SCORE_EPS:
                return (f'its score is within {SCORE_EPS} of {cut:.6f}, where the top-k '
                        'before NMS (nms_pre) cut a level')
        if cuts.max_per_img > 0 and len(dets) >= cuts.max_per_img and \
                score <= dets.scores.min() + SCORE_EPS:
            return (f'its run holds max_per_img={cuts.max_per_img} detections and its score is '
                    f'within {SCORE_EPS} of the lowest')
        if cuts.iou_threshold is None:
            return None
        ious = box_iou(dets.boxes[i], other.boxes)
        stronger = (other.scores >= score - SCORE_EPS) & same_class(dets, i, other)
        close = stronger & (np.abs(ious - cuts.iou_threshold) <= IOU_EPS)
        if close.any():
            k = int(np.flatnonzero(close)[0])
            return (f'IoU {ious[k]:.6f} with {names[1 - side]} detection {k} is within '
                    f'{IOU_EPS} of the NMS threshold {cuts.iou_threshold}')
        # two overlapping boxes of near-equal scores: NMS keeps whichever it takes first, and
        # each run kept one of them, without a twin in the other
        rival = np.zeros(len(other), bool)
        rival[lonely[1 - side]] = True
        rival &= same_class(dets, i, other) & (np.abs(other.scores - score) <= SCORE_EPS) & (
            ious > cuts.iou_threshold - IOU_EPS)
        if rival.any():
            k = int(np.flatnonzero(rival)[0])
            return (f'{names[1 - side]} detection {k}, without a twin here, has a score within '
                    f'{SCORE_EPS} of its and overlaps it above the NMS threshold '
                    f'{cuts.iou_threshold} (IoU {ious[k]:.4f}): NMS kept whichever of the two '
                    'it took first')
        return None

    def suppressed_by_a_flip(side: int, i: int) -> Optional[str]:
        # the other run kept a box that this run lost to a near-tie, and that box suppressed
        # this one there
        dets, other = runs[side], runs[1 - side]
        if cuts.iou_threshold is None:
            return None
        for k in accepted[1 - side]:
            if other.scores[k] >= dets.scores[i] - SCORE_EPS and \
                    same_class(dets, i, other)[k] and \
                    box_iou(dets.boxes[i], other.boxes[k:k + 1])[0] > \
                    cuts.iou_threshold - IOU_EPS:
                return (f'{names[1 - side]} detection {k}, itself a near-tie flip, overlaps it '
                        f'above the NMS threshold there')
        return None

    for side in (0, 1):
        for i in lonely[side]:
            why = near_tie(side, i)
            if why:
                accepted[side].add(i)
                match.explained.append(f'{_describe(names[side], runs[side], i)} has no twin: '
                                       f'{why}')
    changed = True
    while changed:  # flips that follow from accepted flips
        changed = False
        for side in (0, 1):
            for i in lonely[side]:
                if i in accepted[side]:
                    continue
                why = suppressed_by_a_flip(side, i)
                if why:
                    accepted[side].add(i)
                    changed = True
                    match.explained.append(f'{_describe(names[side], runs[side], i)} has no '
                                           f'twin: {why}')
    for side in (0, 1):
        for i in lonely[side]:
            if i not in accepted[side]:
                match.unexplained.append(
                    f'{_describe(names[side], runs[side], i)} has no twin in '
                    f'{names[1 - side]} (label, score within {SCORE_ATOL}, box within '
                    f'{BOX_ATOL} px), and no near-tie explains it: not within {SCORE_EPS} of a '
                    f'score threshold {list(cuts.score_thrs)}, of an nms_pre cut '
                    f'{np.round(cuts.rank_scores, 6).tolist()} or of the lowest kept score at '
                    f'max_per_img={cuts.max_per_img}, no IoU within {IOU_EPS} of the NMS '
                    f'threshold {cuts.iou_threshold} with a kept box of at least its score')
    return match
