"""An exported detector's outputs against mmdet's own ``predict`` on the same image, with the
tie-aware matcher of :mod:`mmlight.testing.parity`: what mmdet computed, captured from its
internals where the matcher needs more than its results (the mask probabilities it pasted, the
scores where the dense heads' ``nms_pre`` top-k cut), and the assertions the parity tests
make."""

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from mmdet.models.dense_heads import base_dense_head
from mmdet.models.roi_heads.mask_heads import fcn_mask_head
from mmengine.structures import InstanceData

from mmlight.analysis.inference import image_sample

from .parity import Cuts, Detections, match_detections, rank_cut_scores


@contextlib.contextmanager
def pasted_mask_probabilities() -> Iterator[list]:
    """Collect the probabilities mmdet's FCNMaskHead pastes into the image before it
    thresholds them (its ``_do_paste_mask``, called chunk by chunk in detection order);
    :func:`mask_probabilities` assembles them."""
    chunks: list = []

    def paste(masks, boxes, img_h, img_w, skip_empty=True):
        pasted, spatial = original(masks, boxes, img_h, img_w, skip_empty=skip_empty)
        chunks.append((pasted.clone(), spatial, img_h, img_w))
        return pasted, spatial

    original = fcn_mask_head._do_paste_mask
    fcn_mask_head._do_paste_mask = paste
    try:
        yield chunks
    finally:
        fcn_mask_head._do_paste_mask = original


def mask_probabilities(chunks: Sequence) -> torch.Tensor | None:
    """[N, H, W] from the pasted chunks (each [n, h, w] at its place in the image)."""
    if not chunks:
        return None
    probs = []
    for pasted, spatial, img_h, img_w in chunks:
        full = torch.zeros(pasted.shape[0], int(img_h), int(img_w))
        full[(slice(None), *tuple(spatial))] = pasted
        probs.append(full)
    return torch.cat(probs)


@contextlib.contextmanager
def dense_rank_cuts() -> Iterator[list[float]]:
    """Collect where the nms_pre top-k of mmdet's dense heads (BaseDenseHead's
    ``filter_scores_and_topk``, once per level) cut: the score of the last place kept where a
    level had more candidates over the score threshold."""
    cuts: list[float] = []

    def filter_and_topk(scores, score_thr, topk, results=None):
        cuts.extend(rank_cut_scores([scores[scores > score_thr].numpy()], topk))
        return original(scores, score_thr, topk, results)

    original = base_dense_head.filter_scores_and_topk
    base_dense_head.filter_scores_and_topk = filter_and_topk
    try:
        yield cuts
    finally:
        base_dense_head.filter_scores_and_topk = original


def assert_same_as_mmdet(
    detector, image: torch.Tensor, outputs: dict[str, np.ndarray], runtime: str = 'onnxruntime'
) -> None:
    """The runtime's ``outputs`` for ``image`` (uint8 [3, H, W], at the size the graph takes)
    are mmdet's (:func:`~mmlight.testing.parity.match_detections`: same label, box within
    1e-2 px, score within 1e-4; mask pixels agree unless mmdet's probability lies within 1e-4
    of the mask threshold), up to the near-ties at the test_cfg's cuts that explain a
    difference. A two-stage detector stage by stage (its graph exported with proposals): its
    proposals against mmdet's RPN, then its detections against mmdet's RoI head run on the
    runtime's own proposals. At least one detection."""
    cfg, rank_scores = detector.test_cfg, []
    sample = image_sample(*image.shape[-2:])
    with torch.no_grad(), pasted_mask_probabilities() as chunks, dense_rank_cuts() as cuts:
        data = detector.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        if 'proposals' not in outputs:
            expected = detector.predict(data['inputs'], data['data_samples'], rescale=True)[
                0
            ].pred_instances
            # a head with score factors (FCOS's and ATSS's centerness: a third output)
            # multiplies them in after the cut: its detections' scores are not the scores the
            # cut compared
            if len(detector.bbox_head(detector.extract_feat(data['inputs']))) == 2:
                rank_scores = cuts
        else:
            feats = detector.extract_feat(data['inputs'])
            samples = data['data_samples']
            rpn_head = detector.rpn_head
            proposals = rpn_head.predict(feats, samples, rescale=False)[0]
            levels = [score[0].sigmoid().numpy() for score in rpn_head(feats)[0]]
            rpn_cuts = Cuts.from_test_cfg(cfg, 'rpn', rank_cut_scores(levels, cfg.rpn.nms_pre))
            match = match_detections(
                Detections.from_instances(proposals),
                Detections.from_proposals(outputs['proposals']),
                rpn_cuts,
                names=('mmdet RPN', f'{runtime} RPN'),
            )
            assert match.ok, 'proposals: ' + match.report()
            chunks.clear()
            theirs = InstanceData(bboxes=torch.from_numpy(outputs['proposals'][:, :4]))
            expected = detector.roi_head.predict(feats, [theirs], samples, rescale=True)[0]
    assert_same_detections(
        Detections.from_instances(expected, mask_probabilities(chunks)),
        outputs,
        cfg,
        runtime,
        rank_scores,
    )


def assert_same_detections(
    reference: Detections,
    got: dict[str, np.ndarray],
    cfg,
    runtime: str = 'onnxruntime',
    rank_scores: Sequence[float] = (),
) -> None:
    """Every detection of mmdet's ``reference`` has a twin in the runtime's ``got`` and back
    (:func:`~mmlight.testing.parity.match_detections`), except where a near-tie at one of the
    test_cfg ``cfg``'s cuts explains the difference; at least one detection."""
    assert len(reference) > 0
    match = match_detections(
        reference,
        Detections.from_outputs(got),
        Cuts.from_test_cfg(cfg, rank_scores=rank_scores),
        names=('mmdet', runtime),
    )
    assert match.ok, match.report()
