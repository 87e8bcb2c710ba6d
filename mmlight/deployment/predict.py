"""Images through a deployed detector: the config's test pipeline, the exported model in its
runtime, the detections in the original image's coordinates (what mmdet's
``inference_detector`` gives for the PyTorch model)."""
from mmengine.config import Config

from .runner import DetectorRunner, result_to_sample


def deployed_predict(cfg: Config, detector: DetectorRunner, image_path: str):
    """One image file through ``cfg``'s test pipeline and ``detector`` (any runner); a
    DetDataSample with ``pred_instances``."""
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    pipeline = Compose(get_test_pipeline_cfg(cfg))
    data = pipeline(dict(img_path=image_path, img_id=0))
    return result_to_sample(detector(data['inputs'][None].float()), data['data_samples'])
