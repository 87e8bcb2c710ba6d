"""mmdet's CocoMetric with the COCO evaluation run by faster-coco-eval's C++ implementation."""

from contextlib import contextmanager

from mmdet.evaluation.metrics import CocoMetric
from mmdet.evaluation.metrics import coco_metric as mmdet_coco_metric
from mmdet.registry import METRICS


def _faster_cocoeval_class():
    try:
        from faster_coco_eval import COCOeval_faster
    except ImportError as err:
        raise ImportError(
            'FastCocoMetric needs faster-coco-eval: pip install '
            'faster-coco-eval==1.8.0 (tools/ensure_env.sh installs it)'
        ) from err

    def silent(*args, **kwargs):
        pass

    class FasterCOCOeval(COCOeval_faster):
        """COCOeval's interface (params, evaluate, accumulate, summarize, stats, eval). Only
        the summary is printed, as pycocotools prints it: CocoMetric logs what is printed."""

        def __init__(self, coco_gt=None, coco_dt=None, iou_type='segm'):
            super().__init__(coco_gt, coco_dt, iou_type, print_function=silent)

        def summarize(self):
            self.print_function = print
            try:
                super().summarize()
            finally:
                self.print_function = silent

    return FasterCOCOeval


@contextmanager
def _evaluated_by(cocoeval_class):
    # CocoMetric.compute_metrics builds its evaluator from its module's COCOeval / COCOevalMP
    # names; point both at the faster class for the duration of one evaluation, so that
    # everything else (result files, classwise tables, proposal metrics, logging) stays
    # mmdet's own code.
    saved = mmdet_coco_metric.COCOeval, mmdet_coco_metric.COCOevalMP
    mmdet_coco_metric.COCOeval = mmdet_coco_metric.COCOevalMP = cocoeval_class
    try:
        yield
    finally:
        mmdet_coco_metric.COCOeval, mmdet_coco_metric.COCOevalMP = saved


@METRICS.register_module()
class FastCocoMetric(CocoMetric):
    """COCO detection / instance segmentation AP, as :class:`mmdet.evaluation.CocoMetric`
    (same arguments, same results and keys), computed by faster-coco-eval.

    Switch a config with one line::

        val_evaluator = dict(type='FastCocoMetric')   # (test_evaluator likewise)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cocoeval_class = _faster_cocoeval_class()

    def compute_metrics(self, results: list):
        with _evaluated_by(self._cocoeval_class):
            return super().compute_metrics(results)
