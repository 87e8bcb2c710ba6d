"""Do two runs of a detector give the same detections? A comparison that holds on any CPU: the
parity tests' matcher (numpy only; :mod:`mmlight.testing.mmdet_parity` runs mmdet beside it).

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
fails, with the detection and what was checked. Each near-tie is one small rule
(:data:`NEAR_TIES`, :func:`suppressed_by_a_flip`), tested on constructed detections.

A two-stage detector is compared stage by stage: its proposals (the RPN is a detector with one
class, :meth:`Cuts.from_test_cfg` with ``stage='rpn'``), then its detections against the
reference's RoI head run on the candidate's own proposals; a proposal that only one run kept
would otherwise change the RoIs and, through them, detections no tie at the last stage
explains.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
    masks: np.ndarray | None = None
    mask_probs: np.ndarray | None = None

    @classmethod
    def from_outputs(cls, outputs: dict[str, np.ndarray]) -> 'Detections':
        """From a runner's ``dets``, ``labels`` (and ``masks``)."""
        dets = np.asarray(outputs['dets'], dtype=np.float64)
        return cls(
            dets[:, :4],
            dets[:, 4],
            np.asarray(outputs['labels']),
            None if 'masks' not in outputs else np.asarray(outputs['masks']),
        )

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
        labels = (
            array(instances.labels) if 'labels' in instances else np.zeros(len(scores), np.int64)
        )
        return cls(
            array(instances.bboxes).astype(np.float64),
            scores,
            labels,
            masks,
            None if mask_probs is None else array(mask_probs),
        )

    def __len__(self):
        return len(self.scores)


@dataclass
class Cuts:
    """Where the detector cuts: the post-processing's score threshold(s), the NMS IoU
    threshold (``None``: no NMS), whether NMS is class-agnostic, ``max_per_img`` (-1: none),
    the scores at which the top-k before NMS cut in the reference (``rank_scores``: the
    ``nms_pre``-th score of each level that had more) and the masks' threshold."""

    score_thrs: Sequence[float] = ()
    iou_threshold: float | None = None
    class_agnostic: bool = False
    max_per_img: int = -1
    rank_scores: Sequence[float] = ()
    mask_thr: float = 0.5

    @classmethod
    def from_test_cfg(cls, cfg, stage: str = 'rcnn', rank_scores: Sequence[float] = ()) -> 'Cuts':
        """From a single-stage test_cfg, or a two-stage one's ``stage`` part: ``'rcnn'``
        (the detections) or ``'rpn'`` (the proposals: one class; NMS within each level,
        taken here as across them, which accepts more flips, never fewer)."""
        cfg = cfg.get(stage, cfg)
        nms = cfg.get('nms') or {}
        return cls(
            score_thrs=[cfg.get('score_thr', 0.0)],
            rank_scores=list(rank_scores),
            iou_threshold=nms.get('iou_threshold'),
            class_agnostic=stage == 'rpn' or bool(nms.get('class_agnostic', False)),
            max_per_img=cfg.get('max_per_img', -1),
            mask_thr=cfg.get('mask_thr_binary', 0.5),
        )


def rank_cut_scores(level_scores: Sequence[np.ndarray], k: int) -> list[float]:
    """The score of the ``k``-th place of each level with more than ``k`` candidates: where
    a top-``k`` before NMS (``nms_pre``) cuts."""
    if k <= 0:
        return []
    return [
        float(np.sort(np.ravel(scores))[::-1][k - 1])
        for scores in level_scores
        if np.size(scores) > k
    ]


@dataclass
class Match:
    """The outcome: pairs ``(reference index, candidate index)``, and for each detection
    without a twin the near-tie that explains it (``explained``) or, where there is none, what
    was checked (``unexplained``)."""

    pairs: list[tuple] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)

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
    # an infinite box has no IoU (nan): no near-tie is measured against it
    with np.errstate(invalid='ignore'):
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = (box[2] - box[0]) * (box[3] - box[1])
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return inter / np.maximum(area + areas - inter, 1e-12)


def boxes_close(a: np.ndarray, b: np.ndarray, atol: float = BOX_ATOL) -> bool:
    """Two boxes agree: their finite coordinates within ``atol``, and any non-finite one the
    same in both (a box regression that overflows gives [-inf, -inf, inf, inf] in every
    implementation, and inf - inf is no distance)."""
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(finite_a, finite_b) or not np.array_equal(
        a[~finite_a], b[~finite_b], equal_nan=True
    ):
        return False
    return bool(np.abs(a[finite_a] - b[finite_b]).max(initial=0.0) <= atol)


def box_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The largest coordinate difference of two boxes, over their finite coordinates."""
    finite = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a[finite] - b[finite]).max(initial=0.0))


def _twins(ref: Detections, i: int, cand: Detections, free: Sequence[int]) -> list[int]:
    return [
        j
        for j in free
        if cand.labels[j] == ref.labels[i]
        and abs(cand.scores[j] - ref.scores[i]) <= SCORE_ATOL
        and boxes_close(cand.boxes[j], ref.boxes[i])
    ]


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def _mask_difference(ref: Detections, i: int, mask: np.ndarray, threshold: float) -> str | None:
    """Why the candidate's ``mask`` is not the reference's ``i``-th, or None: with the
    reference's probabilities, every differing pixel must lie within :data:`MASK_EPS` of the
    threshold; without them, the masks must overlap to IoU :data:`MASK_IOU`."""
    if ref.masks[i].shape != mask.shape:
        return f'its mask is {ref.masks[i].shape}, its twin\'s {mask.shape}'
    if ref.mask_probs is None:
        iou = _mask_iou(ref.masks[i], mask)
        return (
            None if iou >= MASK_IOU else f'its mask has IoU {iou:.4f} with its twin (< {MASK_IOU})'
        )
    differ = ref.masks[i] != mask
    far = differ & (np.abs(ref.mask_probs[i] - threshold) > MASK_EPS)
    if far.any():
        return (
            f'{int(far.sum())} of the {int(differ.sum())} pixels where its mask and its '
            f"twin's differ have a probability further than {MASK_EPS} from the mask "
            f'threshold {threshold}'
        )
    return None


def _describe(side: str, dets: Detections, i: int) -> str:
    return (
        f'{side} detection {i} (label {int(dets.labels[i])}, score {dets.scores[i]:.6f}, '
        f'box {np.round(dets.boxes[i], 2).tolist()})'
    )


@dataclass
class Lonely:
    """A detection of one run without a twin in the other, with what the rules need: both
    runs, the cuts, and which detections of each run are without a twin."""

    side: int
    index: int
    runs: tuple[Detections, Detections]
    cuts: Cuts
    names: Sequence[str]
    lonely: dict[int, list[int]]

    @property
    def dets(self) -> Detections:
        return self.runs[self.side]

    @property
    def other(self) -> Detections:
        return self.runs[1 - self.side]

    @property
    def other_name(self) -> str:
        return self.names[1 - self.side]

    @property
    def score(self) -> float:
        return float(self.dets.scores[self.index])

    @property
    def box(self) -> np.ndarray:
        return self.dets.boxes[self.index]

    def same_class(self) -> np.ndarray:
        """Which of the other run's detections NMS compares with this one."""
        if self.cuts.class_agnostic:
            return np.ones(len(self.other), bool)
        return self.other.labels == self.dets.labels[self.index]


def at_score_threshold(d: Lonely) -> str | None:
    """Its score is within :data:`SCORE_EPS` of a score threshold."""
    for thr in d.cuts.score_thrs:
        if abs(d.score - thr) <= SCORE_EPS:
            return f'its score is within {SCORE_EPS} of the score threshold {thr}'
    return None


def at_rank_cut(d: Lonely) -> str | None:
    """Its score is within :data:`SCORE_EPS` of a score where the top-k before NMS
    (``nms_pre``) cut a level."""
    for cut in d.cuts.rank_scores:
        if abs(d.score - cut) <= SCORE_EPS:
            return (
                f'its score is within {SCORE_EPS} of {cut:.6f}, where the top-k '
                'before NMS (nms_pre) cut a level'
            )
    return None


def at_max_per_img(d: Lonely) -> str | None:
    """Its run holds ``max_per_img`` detections and its score is within :data:`SCORE_EPS` of
    that run's lowest: the last places may go to either of near-equal boxes."""
    max_per_img = d.cuts.max_per_img
    if (
        max_per_img > 0
        and len(d.dets) >= max_per_img
        and d.score <= d.dets.scores.min() + SCORE_EPS
    ):
        return (
            f'its run holds max_per_img={max_per_img} detections and its score is '
            f'within {SCORE_EPS} of the lowest'
        )
    return None


def at_nms_iou_threshold(d: Lonely) -> str | None:
    """The other run keeps a box NMS compares it with, of at least its score (less
    :data:`SCORE_EPS`), whose IoU with it is within :data:`IOU_EPS` of the NMS threshold."""
    if d.cuts.iou_threshold is None:
        return None
    ious = box_iou(d.box, d.other.boxes)
    stronger = (d.other.scores >= d.score - SCORE_EPS) & d.same_class()
    close = stronger & (np.abs(ious - d.cuts.iou_threshold) <= IOU_EPS)
    if close.any():
        k = int(np.flatnonzero(close)[0])
        return (
            f'IoU {ious[k]:.6f} with {d.other_name} detection {k} is within '
            f'{IOU_EPS} of the NMS threshold {d.cuts.iou_threshold}'
        )
    return None


def nms_order_tie(d: Lonely) -> str | None:
    """Two overlapping boxes of near-equal scores: NMS keeps whichever it takes first, and
    each run kept one of them, without a twin in the other."""
    if d.cuts.iou_threshold is None:
        return None
    ious = box_iou(d.box, d.other.boxes)
    rival = np.zeros(len(d.other), bool)
    rival[d.lonely[1 - d.side]] = True
    rival &= (
        d.same_class()
        & (np.abs(d.other.scores - d.score) <= SCORE_EPS)
        & (ious > d.cuts.iou_threshold - IOU_EPS)
    )
    if rival.any():
        k = int(np.flatnonzero(rival)[0])
        return (
            f'{d.other_name} detection {k}, without a twin here, has a score within '
            f'{SCORE_EPS} of its and overlaps it above the NMS threshold '
            f'{d.cuts.iou_threshold} (IoU {ious[k]:.4f}): NMS kept whichever of the two '
            'it took first'
        )
    return None


# the near-ties that explain a detection without a twin on their own
NEAR_TIES: tuple[Callable[[Lonely], str | None], ...] = (
    at_score_threshold,
    at_rank_cut,
    at_max_per_img,
    at_nms_iou_threshold,
    nms_order_tie,
)


def suppressed_by_a_flip(d: Lonely, other_flips: Sequence[int]) -> str | None:
    """The other run kept a box (one of ``other_flips``: its detections accepted as near-tie
    flips) that this run lost, of at least this one's score (less :data:`SCORE_EPS`), which
    overlaps it above the NMS threshold (less :data:`IOU_EPS`): it suppressed this one there."""
    if d.cuts.iou_threshold is None:
        return None
    same_class = d.same_class()
    for k in other_flips:
        if (
            d.other.scores[k] >= d.score - SCORE_EPS
            and same_class[k]
            and box_iou(d.box, d.other.boxes[k : k + 1])[0] > d.cuts.iou_threshold - IOU_EPS
        ):
            return (
                f'{d.other_name} detection {k}, itself a near-tie flip, overlaps it '
                f'above the NMS threshold there'
            )
    return None


def _pair(reference: Detections, candidate: Detections, cuts: Cuts, names, match: Match):
    """Pair each reference detection with its closest twin; check the pairs' masks. Returns
    the indices of each run left without a twin."""
    free = list(range(len(candidate)))
    lonely: list[int] = []
    for i in range(len(reference)):
        twins = _twins(reference, i, candidate, free)
        if not twins:
            lonely.append(i)
            continue
        j = min(twins, key=lambda j: box_distance(candidate.boxes[j], reference.boxes[i]))
        free.remove(j)
        match.pairs.append((i, j))
        if reference.masks is not None and candidate.masks is not None:
            problem = _mask_difference(reference, i, candidate.masks[j], cuts.mask_thr)
            if problem:
                match.unexplained.append(f'{_describe(names[0], reference, i)}: {problem}')
    return {0: lonely, 1: free}


def _unexplained(d: Lonely) -> str:
    cuts = d.cuts
    return (
        f'{_describe(d.names[d.side], d.dets, d.index)} has no twin in {d.other_name} '
        f'(label, score within {SCORE_ATOL}, box within {BOX_ATOL} px), and no near-tie '
        f'explains it: not within {SCORE_EPS} of a score threshold {list(cuts.score_thrs)}, '
        f'of an nms_pre cut {np.round(cuts.rank_scores, 6).tolist()} or of the lowest kept '
        f'score at max_per_img={cuts.max_per_img}, no IoU within {IOU_EPS} of the NMS '
        f'threshold {cuts.iou_threshold} with a kept box of at least its score'
    )


def match_detections(
    reference: Detections, candidate: Detections, cuts: Cuts, names=('reference', 'candidate')
) -> Match:
    """Match ``candidate`` to ``reference`` (see the module's docstring). A detection found in
    one run only is accepted where one of :data:`NEAR_TIES` explains it, or where
    :func:`suppressed_by_a_flip` does with the flips accepted so far (a flip can follow from a
    flip, so that rule is applied until it accepts nothing more).

    Matched masks must agree pixel for pixel where the reference's probabilities are further
    than :data:`MASK_EPS` from the mask threshold (without them, to IoU :data:`MASK_IOU`).
    """
    match = Match()
    lonely = _pair(reference, candidate, cuts, names, match)
    runs = (reference, candidate)
    waiting = [Lonely(side, i, runs, cuts, names, lonely) for side in (0, 1) for i in lonely[side]]
    flips: dict[int, list[int]] = {0: [], 1: []}

    def accept(d: Lonely, why: str):
        flips[d.side].append(d.index)
        match.explained.append(f'{_describe(names[d.side], d.dets, d.index)} has no twin: {why}')

    unexplained = []
    for d in waiting:
        why = next((why for rule in NEAR_TIES if (why := rule(d))), None)
        if why:
            accept(d, why)
        else:
            unexplained.append(d)
    while unexplained:
        followed = [
            (d, why) for d in unexplained if (why := suppressed_by_a_flip(d, flips[1 - d.side]))
        ]
        if not followed:
            break
        for d, why in followed:
            accept(d, why)
            unexplained.remove(d)
    match.unexplained += [_unexplained(d) for d in unexplained]
    return match
