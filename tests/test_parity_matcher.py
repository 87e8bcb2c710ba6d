"""The tie-aware comparison of two runs' detections (mmlight.testing.parity): near-ties at
the score threshold, at the nms_pre and max_per_img places, at the NMS IoU threshold and in
the order NMS takes two boxes (and what they suppress in turn), and mask pixels at the mask
threshold, are accepted and named; any other difference fails, named. Each near-tie rule is
also tested on its own; non-finite boxes pair where both runs have them."""

import numpy as np
import pytest

from mmlight.testing.parity import (
    Cuts,
    Detections,
    Lonely,
    at_max_per_img,
    at_nms_iou_threshold,
    at_rank_cut,
    at_score_threshold,
    match_detections,
    nms_order_tie,
    rank_cut_scores,
    suppressed_by_a_flip,
)

CUTS = Cuts(score_thrs=[0.05], iou_threshold=0.5, max_per_img=100)
# IoU(A, B) is 0.5 up to float rounding: B is A shifted right by 10/3
A, B = [0.0, 0.0, 10.0, 10.0], [10 / 3, 0.0, 10 / 3 + 10, 10.0]
FAR = [50.0, 50.0, 60.0, 60.0]


def dets(*rows, masks=None):
    boxes = np.array([row[0] for row in rows], dtype=np.float64).reshape(-1, 4)
    return Detections(
        boxes,
        np.array([row[1] for row in rows], dtype=np.float64),
        np.array([row[2] for row in rows], dtype=np.int64),
        masks,
    )


pytestmark = pytest.mark.quick


def test_the_same_detections_in_another_order_and_rounding_match():
    reference = dets((A, 0.9, 0), (FAR, 0.8, 1))
    candidate = dets((np.add(FAR, 1e-3), 0.8 + 5e-5, 1), (A, 0.9, 0))
    match = match_detections(reference, candidate, CUTS)
    assert match.ok
    assert sorted(match.pairs) == [(0, 1), (1, 0)]
    assert not match.explained


def test_a_flip_at_the_score_threshold_is_accepted_and_named():
    match = match_detections(dets((A, 0.9, 0), (FAR, 0.05 + 5e-5, 1)), dets((A, 0.9, 0)), CUTS)
    assert match.ok, match.report()
    assert 'within 0.0001 of the score threshold 0.05' in match.explained[0]


def test_a_missing_detection_far_from_every_cut_fails_and_says_what_was_checked():
    match = match_detections(dets((A, 0.9, 0), (FAR, 0.3, 1)), dets((A, 0.9, 0)), CUTS)
    assert not match.ok
    assert match.unexplained[0].startswith('reference detection 1 (label 1, score 0.300000')
    assert 'no near-tie explains it' in match.unexplained[0]
    # a twin of another label, or a score off by more than rounding, is no twin
    assert not match_detections(dets((A, 0.3, 0)), dets((A, 0.3, 1)), CUTS).ok
    assert not match_detections(dets((A, 0.3, 0)), dets((A, 0.301, 0)), CUTS).ok


def test_a_flip_at_the_nms_threshold_and_what_it_suppresses_are_accepted():
    """The reference keeps A and B (IoU 0.5 - rounding: not suppressed); the candidate
    suppresses B (0.5 + rounding), and so keeps C, which B suppressed in the reference."""
    c_box = [10 / 3 + 1, 0.0, 10 / 3 + 11, 10.0]  # IoU 0.82 with B, 0.38 with A
    reference = dets((A, 0.9, 0), (B, 0.8, 0))
    candidate = dets((A, 0.9, 0), (c_box, 0.7, 0))
    match = match_detections(reference, candidate, CUTS)
    assert match.ok, match.report()
    assert 'of the NMS threshold 0.5' in match.explained[0]
    assert 'itself a near-tie flip, overlaps it above the NMS threshold' in match.explained[1]
    # the same boxes with IoU clearly below the threshold: B's absence is an error
    shifted = [4.0, 0.0, 14.0, 10.0]  # IoU 0.43 with A
    assert not match_detections(dets((A, 0.9, 0), (shifted, 0.8, 0)), dets((A, 0.9, 0)), CUTS).ok
    # class-aware NMS: a box of another label cannot have suppressed it
    assert not match_detections(dets((A, 0.9, 1), (B, 0.8, 0)), dets((A, 0.9, 1)), CUTS).ok
    agnostic = Cuts(score_thrs=[0.05], iou_threshold=0.5, class_agnostic=True)
    assert match_detections(dets((A, 0.9, 1), (B, 0.8, 0)), dets((A, 0.9, 1)), agnostic).ok


def test_the_last_place_at_max_per_img_may_go_to_either_of_two_near_equal_boxes():
    cuts = Cuts(score_thrs=[0.05], iou_threshold=0.5, max_per_img=2)
    reference = dets((A, 0.9, 0), (FAR, 0.4, 1))
    candidate = dets((A, 0.9, 0), ([80, 80, 90, 90], 0.4 + 5e-5, 2))
    match = match_detections(reference, candidate, cuts)
    assert match.ok, match.report()
    assert len(match.explained) == 2, match.report()
    assert 'max_per_img=2' in match.explained[0]
    # below max_per_img there is no such cut
    assert not match_detections(reference, candidate, Cuts([0.05], 0.5, max_per_img=3)).ok


def test_matched_masks_must_agree():
    full, half = np.ones((1, 8, 8), bool), np.zeros((1, 8, 8), bool)
    half[0, :4] = True
    assert match_detections(dets((A, 0.9, 0), masks=full), dets((A, 0.9, 0), masks=full), CUTS).ok
    match = match_detections(dets((A, 0.9, 0), masks=full), dets((A, 0.9, 0), masks=half), CUTS)
    assert not match.ok
    assert 'its mask has IoU 0.5000' in match.unexplained[0]


def test_a_flip_at_the_nms_pre_cut_is_accepted_only_at_the_score_where_it_cut():
    """A box at the nms_pre-th place of its level in one run and just past it in the other is
    a candidate of NMS in one run only."""
    scores = [np.array([0.9, 0.7, 0.4 + 5e-5, 0.4, 0.1]), np.array([0.8, 0.3])]
    assert rank_cut_scores(scores, 3) == [0.4 + 5e-5]  # only the level with more than 3
    assert rank_cut_scores(scores, -1) == []
    cuts = Cuts(score_thrs=[0.05], iou_threshold=0.5, rank_scores=rank_cut_scores(scores, 3))
    reference, candidate = dets((A, 0.9, 0), (FAR, 0.4, 1)), dets((A, 0.9, 0))
    match = match_detections(reference, candidate, cuts)
    assert match.ok
    assert 'where the top-k before NMS (nms_pre) cut a level' in match.explained[0]
    assert not match_detections(reference, candidate, Cuts(score_thrs=[0.05], iou_threshold=0.5)).ok


def test_two_overlapping_boxes_of_near_equal_scores_may_swap_in_nms():
    """Each run keeps one of two boxes that overlap above the NMS threshold and score alike
    to rounding: NMS kept whichever it took first. With scores apart, the swap is an error."""
    shifted = [2.0, 0.0, 12.0, 10.0]  # IoU 0.67 with A
    match = match_detections(dets((A, 0.6, 0)), dets((shifted, 0.6 + 2e-5, 0)), CUTS)
    assert match.ok, match.report()
    assert len(match.explained) == 2, match.report()
    assert 'NMS kept whichever of the two it took first' in match.explained[0]
    assert not match_detections(dets((A, 0.6, 0)), dets((shifted, 0.61, 0)), CUTS).ok
    # the box the other run kept must itself be without a twin: if both runs kept it, it did
    # not take this one's place
    assert not match_detections(
        dets((A, 0.6, 0), (shifted, 0.6 + 2e-5, 0)), dets((shifted, 0.6 + 2e-5, 0)), CUTS
    ).ok


def test_mask_pixels_may_differ_only_where_the_probability_ties_with_the_threshold():
    probs = np.full((1, 8, 8), 0.9)
    probs[0, 0, :2] = 0.5 + 5e-5  # within MASK_EPS of the 0.5 threshold
    probs[0, 7, 7] = 0.7
    reference = dets((A, 0.9, 0), masks=probs >= 0.5)
    reference.mask_probs = probs
    near = reference.masks.copy()
    near[0, 0, :2] = False
    assert match_detections(reference, dets((A, 0.9, 0), masks=near), CUTS).ok
    far = near.copy()
    far[0, 7, 7] = False
    match = match_detections(reference, dets((A, 0.9, 0), masks=far), CUTS)
    assert not match.ok
    assert (
        '1 of the 3 pixels where its mask and its twin\'s differ have a probability '
        'further than 0.0001 from the mask threshold 0.5'
    ) in match.unexplained[0]


def test_the_cuts_of_a_two_stage_test_cfg_per_stage():
    cfg = dict(
        rpn=dict(
            nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0
        ),
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=100,
            mask_thr_binary=0.4,
        ),
    )
    rcnn = Cuts.from_test_cfg(cfg)
    assert (
        rcnn.score_thrs,
        rcnn.iou_threshold,
        rcnn.class_agnostic,
        rcnn.max_per_img,
        rcnn.mask_thr,
    ) == ([0.05], 0.5, False, 100, 0.4)
    # the RPN: one class; no score threshold
    rpn = Cuts.from_test_cfg(cfg, 'rpn', rank_scores=[0.5])
    assert (
        rpn.score_thrs,
        rpn.iou_threshold,
        rpn.class_agnostic,
        rpn.max_per_img,
        rpn.rank_scores,
    ) == ([0.0], 0.7, True, 1000, [0.5])
    proposals = Detections.from_proposals(np.array([[*A, 0.8]]))
    assert proposals.labels.tolist() == [0]
    assert proposals.scores.tolist() == [0.8]


INF = [-np.inf, -np.inf, np.inf, np.inf]


def test_non_finite_boxes_pair_where_both_runs_have_them_at_the_same_place():
    """A box regression that overflows gives [-inf, -inf, inf, inf] in mmdet and in the export
    alike: such boxes are twins. A box that is infinite in one run only is not."""
    match = match_detections(
        dets((INF, 0.9, 0), (A, 0.8, 1)), dets((A, 0.8, 1), (INF, 0.9, 0)), CUTS
    )
    assert match.ok, match.report()
    assert sorted(match.pairs) == [(0, 1), (1, 0)]
    half = [0.0, -np.inf, 10.0, np.inf]  # infinite where INF is, finite elsewhere
    assert not match_detections(dets((INF, 0.9, 0)), dets((half, 0.9, 0)), CUTS).ok
    assert not match_detections(dets((INF, 0.9, 0)), dets((A, 0.9, 0)), CUTS).ok


def lonely(reference, candidate, cuts=CUTS, side=0, index=0):
    """The ``index``-th detection of run ``side``, with every detection of both runs taken as
    without a twin."""
    runs = (reference, candidate)
    return Lonely(
        side,
        index,
        runs,
        cuts,
        ('reference', 'candidate'),
        {0: list(range(len(reference))), 1: list(range(len(candidate)))},
    )


@pytest.mark.parametrize(
    ('rule', 'tie', 'clear'),
    [
        (at_score_threshold, dets((FAR, 0.05 + 5e-5, 0)), dets((FAR, 0.3, 0))),
        (at_rank_cut, dets((FAR, 0.42, 0)), dets((FAR, 0.5, 0))),
        # the run holds max_per_img=2 detections, or only one
        (at_max_per_img, dets((A, 0.9, 0), (FAR, 0.30002, 0)), dets((FAR, 0.30002, 0))),
    ],
    ids=['score threshold', 'nms_pre cut', 'max_per_img'],
)
def test_each_score_rule_names_its_cut_only_within_rounding_of_it(rule, tie, clear):
    cuts = Cuts(score_thrs=[0.05], iou_threshold=0.5, max_per_img=2, rank_scores=[0.42])
    other = dets((FAR, 0.3, 0))
    assert rule(lonely(tie, other, cuts, index=len(tie) - 1))
    assert rule(lonely(clear, other, cuts, index=len(clear) - 1)) is None


def test_the_nms_rules_need_an_overlap_at_or_above_the_threshold():
    # IoU(A, B) is the threshold to rounding: a near-tie; a far box is no reason
    assert 'of the NMS threshold 0.5' in at_nms_iou_threshold(
        lonely(dets((B, 0.8, 0)), dets((A, 0.9, 0)))
    )
    assert at_nms_iou_threshold(lonely(dets((FAR, 0.8, 0)), dets((A, 0.9, 0)))) is None
    # two overlapping boxes of near-equal score, each kept by one run
    shifted = [1.0, 0.0, 11.0, 10.0]
    assert 'NMS kept whichever' in nms_order_tie(
        lonely(dets((A, 0.6, 0)), dets((shifted, 0.6 + 2e-5, 0)))
    )
    assert nms_order_tie(lonely(dets((A, 0.6, 0)), dets((shifted, 0.61, 0)))) is None
    # a box suppressed, in its run only, by a flip the other run kept
    assert 'itself a near-tie flip' in suppressed_by_a_flip(
        lonely(dets((shifted, 0.5, 0)), dets((A, 0.6, 0))), other_flips=[0]
    )
    assert (
        suppressed_by_a_flip(lonely(dets((shifted, 0.5, 0)), dets((A, 0.6, 0))), other_flips=[])
        is None
    )
