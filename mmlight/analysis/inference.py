"""Per-image inference of a detector config in three runtimes, as callables for the benchmark
(tools/analysis/benchmark_inference.py): mmdet's eager ``predict``, the same with conv + BN
fused (mmcv's ``fuse_conv_bn``), and the exported graph in onnxruntime."""
import copy
from typing import Callable, Dict, Sequence

import torch

from mmlight.apis import resolve_config

RUNTIMES = ('eager', 'eager_fused', 'onnxruntime')
# the benchmark exports the graph in one process and times eager PyTorch in another: one draw
# of random weights for both, or the two would keep different numbers of boxes after the score
# threshold (and so do different work)
RANDOM_WEIGHTS_SEED = 0
# mmdet's own configs, the references a user would pick instead
REFERENCES = {
    'mmdet_faster_rcnn_r50': 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mmdet_rtmdet_tiny': 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
}


def benchmark_config(name_or_path: str) -> str:
    """The config file of a benchmark row: a REFERENCES key, or anything
    :func:`mmlight.apis.resolve_config` takes."""
    return resolve_config(REFERENCES.get(name_or_path, name_or_path))


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
