"""Per-image inference of a detector config in three runtimes, as callables for the benchmark
(tools/analysis/benchmark_inference.py): mmdet's eager ``predict``, the same with conv + BN
fused (mmcv's ``fuse_conv_bn``), and the exported graph in onnxruntime."""
import copy
import glob
import os.path as osp
from typing import Callable, Dict, List, Sequence

import torch

RUNTIMES = ('eager', 'eager_fused', 'onnxruntime')
# the benchmark exports the graph in one process and times eager PyTorch in another: one draw
# of random weights for both, or the two would keep different numbers of boxes after the score
# threshold (and so do different work)
RANDOM_WEIGHTS_SEED = 0
# mmdet's own configs, the references a user would pick instead
REFERENCES = {
    'mmdet_faster_rcnn_r50': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mmdet_rtmdet_tiny': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
}


CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')


def config_names(recursive: bool = False) -> List[str]:
    """The detector configs of configs/ as names :func:`resolve_config` takes ('NAME' for
    configs/NAME.py; with ``recursive``, also 'demo/NAME' for the demo configs)."""
    pattern = osp.join(CONFIG_ROOT, '**', '*.py') if recursive else osp.join(CONFIG_ROOT, '*.py')
    return sorted(osp.relpath(path, CONFIG_ROOT)[:-3]
                  for path in glob.glob(pattern, recursive=recursive) if '_base_' not in path)


def resolve_config(name_or_path: str) -> str:
    """A path, an mmlight config name (configs/NAME.py) or a REFERENCES key."""
    if osp.isfile(name_or_path):
        return name_or_path
    if name_or_path in REFERENCES:
        import mmdet
        return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                        REFERENCES[name_or_path])
    path = osp.join(CONFIG_ROOT, name_or_path + '.py')
    if osp.isfile(path):
        return path
    raise FileNotFoundError(f'{name_or_path!r} is neither a config file, a config name under '
                            f'configs/ nor one of {sorted(REFERENCES)}')


def random_image(shape: Sequence[int]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, *shape), dtype=torch.uint8, generator=generator)


def image_sample(height: int, width: int):
    """The DetDataSample of one test image taken at its own size (no resize)."""
    from mmdet.structures import DetDataSample
    return DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                       scale_factor=(1.0, 1.0)))


def eager_predict(detector, image: torch.Tensor) -> Callable:
    """mmdet's inference of one image: data preprocessor + ``predict(rescale=True)``."""
    sample = image_sample(*image.shape[-2:])

    def run():
        with torch.no_grad():
            data = detector.data_preprocessor(dict(inputs=[image], data_samples=[sample]),
                                              False)
            return detector.predict(data['inputs'], data['data_samples'], rescale=True)

    return run


def inference_fns(detector, shape: Sequence[int], runtimes: Sequence[str] = RUNTIMES,
                  onnx_file: str = None) -> Dict[str, Callable]:
    """One callable per runtime, each running one image of ``shape`` through ``detector``."""
    image = random_image(shape)
    fns = {}
    for runtime in runtimes:
        if runtime == 'eager':
            fns[runtime] = eager_predict(detector, image)
        elif runtime == 'eager_fused':
            from mmcv.cnn import fuse_conv_bn
            fns[runtime] = eager_predict(fuse_conv_bn(copy.deepcopy(detector)).eval(), image)
        elif runtime == 'onnxruntime':
            from mmlight.deployment.onnx import OnnxDetector
            session = OnnxDetector(onnx_file)
            batch = image[None].float().numpy()
            fns[runtime] = lambda session=session, batch=batch: session(batch)
        else:
            raise ValueError(f'unknown runtime {runtime!r}; valid: {list(RUNTIMES)}')
    return fns
