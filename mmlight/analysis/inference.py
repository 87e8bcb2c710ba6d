"""Per-image inference of a detector config in several runtimes, as callables for the benchmark
(tools/analysis/benchmark_inference.py): mmdet's eager ``predict``, the same with conv + BN
fused (mmcv's ``fuse_conv_bn``), the exported graph in onnxruntime, and its OpenVINO IR in
FP32, BF16 and INT8 (when openvino and nncf are installed)."""
import copy
import os.path as osp
from typing import Callable, Dict, List, Sequence

import torch

from mmlight.apis import resolve_config

OPENVINO_RUNTIMES = ('openvino_fp32', 'openvino_bf16', 'openvino_int8')
RUNTIMES = ('eager', 'eager_fused', 'onnxruntime') + OPENVINO_RUNTIMES
# runtimes that run the exported graph
EXPORTED_RUNTIMES = ('onnxruntime', ) + OPENVINO_RUNTIMES
# int8 calibration for speed measurements: random weights see random images
BENCHMARK_CALIBRATION_IMAGES = 8
# the benchmark exports the graph in one process and times eager PyTorch in another: one draw
# of random weights for both, or the two would keep different numbers of boxes after the score
# threshold (and so do different work)
RANDOM_WEIGHTS_SEED = 0
# mmdet's own configs, the references a user would pick instead
REFERENCES = {
    'mmdet_faster_rcnn_r50': 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mmdet_retinanet_r50': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
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


def available_runtimes() -> List[str]:
    """The runtimes this environment can run (OpenVINO's need openvino and nncf)."""
    import importlib.util
    with_openvino = all(importlib.util.find_spec(name) for name in ('openvino', 'nncf'))
    return [r for r in RUNTIMES if with_openvino or r not in OPENVINO_RUNTIMES]


def openvino_files(onnx_file: str) -> Dict[str, str]:
    """Where the benchmark keeps the OpenVINO IRs of an ONNX export: fp32 (bf16 runs the fp32
    IR) and int8."""
    stem = osp.splitext(onnx_file)[0]
    return {'fp32': stem + '.fp32.xml', 'bf16': stem + '.fp32.xml', 'int8': stem + '.int8.xml'}


def prepare_openvino(onnx_file: str, shape: Sequence[int]) -> Dict[str, str]:
    """The OpenVINO IRs of ``onnx_file``: FP32, and INT8 calibrated on
    ``BENCHMARK_CALIBRATION_IMAGES`` seeded random images of ``shape`` (enough for timing;
    an accuracy-worthy int8 IR is calibrated on real images, tools/deployment/export_onnx.py)."""
    from mmlight.deployment.openvino import convert_to_openvino
    files = openvino_files(onnx_file)
    convert_to_openvino(onnx_file, files['fp32'], 'fp32')
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (1, 3, *shape), generator=generator).float().numpy()
              for _ in range(BENCHMARK_CALIBRATION_IMAGES)]
    convert_to_openvino(onnx_file, files['int8'], 'int8', calibration=images,
                        calibration_info=dict(calibration_split='random images'))
    return files


def inference_fns(detector, shape: Sequence[int], runtimes: Sequence[str] = RUNTIMES,
                  onnx_file: str = None) -> Dict[str, Callable]:
    """One callable per runtime, each running one image of ``shape`` through ``detector``
    (OpenVINO's read the IRs :func:`prepare_openvino` wrote beside ``onnx_file``)."""
    image = random_image(shape)
    fns = {}
    for runtime in runtimes:
        if runtime == 'eager':
            fns[runtime] = eager_predict(detector, image)
        elif runtime == 'eager_fused':
            from mmcv.cnn import fuse_conv_bn
            fns[runtime] = eager_predict(fuse_conv_bn(copy.deepcopy(detector)).eval(), image)
        elif runtime in EXPORTED_RUNTIMES:
            from mmlight.deployment.runner import load_runner
            if runtime == 'onnxruntime':
                session = load_runner('onnxruntime', onnx_file)
            else:
                precision = runtime[len('openvino_'):]
                session = load_runner('openvino', openvino_files(onnx_file)[precision],
                                      precision=precision)
            batch = image[None].float().numpy()
            fns[runtime] = lambda session=session, batch=batch: session(batch)
        else:
            raise ValueError(f'unknown runtime {runtime!r}; valid: {list(RUNTIMES)}')
    return fns
