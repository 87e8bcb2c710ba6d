"""Per-image inference of a detector config in several runtimes, as callables for the benchmark
(tools/analysis/benchmark_inference.py): mmdet's eager ``predict``, the same with conv + BN
fused (mmcv's ``fuse_conv_bn``), and the exported graph in every (backend, precision) pair of
the deployment backend table (onnxruntime; OpenVINO FP32, BF16 and INT8 where openvino and
nncf are installed). A runtime is named by its label: 'eager', 'eager_fused', or
:attr:`mmlight.deployment.backends.Runtime.label` ('onnxruntime', 'openvino_int8')."""

import copy
import os.path as osp
from collections.abc import Callable, Sequence

import torch

from mmlight.apis import resolve_config
from mmlight.deployment.backends import Runtime, get_backend, load_runner, runtimes

# the runtimes that run the PyTorch model
EAGER_RUNTIMES = ('eager', 'eager_fused')
# the runtime the exported ones are compared with, and whose FP32 graph they convert
EXPORT_REFERENCE = 'onnxruntime'
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

    return DetDataSample(
        metainfo=dict(img_shape=(height, width), ori_shape=(height, width), scale_factor=(1.0, 1.0))
    )


def eager_predict(detector, image: torch.Tensor) -> Callable:
    """mmdet's inference of one image: data preprocessor + ``predict(rescale=True)``."""
    sample = image_sample(*image.shape[-2:])

    def run():
        with torch.no_grad():
            data = detector.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
            return detector.predict(data['inputs'], data['data_samples'], rescale=True)

    return run


def exported_runtimes(available_only: bool = False) -> dict[str, Runtime]:
    """Label -> (backend, precision) of every exported runtime in the backend table."""
    return {runtime.label: runtime for runtime in runtimes(available_only)}


def runtime_labels() -> list[str]:
    """Every runtime the benchmark knows: the eager ones, then the table's pairs."""
    return list(EAGER_RUNTIMES) + list(exported_runtimes())


def available_runtimes() -> list[str]:
    """The runtimes this environment can run (a backend's need its packages)."""
    return list(EAGER_RUNTIMES) + list(exported_runtimes(available_only=True))


def runtime_precision(label: str) -> str:
    """The precision of a runtime's arithmetic ('fp32' for the eager ones)."""
    return 'fp32' if label in EAGER_RUNTIMES else exported_runtimes()[label].precision


def peak_share(row: dict, runtime: str) -> tuple[float, float] | None:
    """(achieved GFLOP/s, the CPU's peak GFLOP/s in the precision the runtime computed in) of a
    benchmark row (two FLOPs per multiply-add: mmengine's count is of multiply-adds).

    The precision is the one the row says the runtime ran in (``RUNTIME_arithmetic``: OpenVINO's
    bf16 runs f32 on a CPU without BF16 units), else the runtime's own. None where the row has
    no time or no peak for it, or where torch's product in that precision was slower than in
    fp32: the CPU has no units for it, or torch no fast kernel (int8 on an AVX2-only CPU), and
    that measurement is no peak of the CPU's."""
    peaks = row.get('peak_gflops', {})
    precision = row.get(f'{runtime}_arithmetic', runtime_precision(runtime))
    peak = peaks.get(precision)
    if f'{runtime}_s' not in row or not peak:
        return None
    if precision != 'fp32' and peak < peaks.get('fp32', 0):
        return None
    return 2 * row['gflops'] / row[f'{runtime}_s'], peak


def model_file(onnx_file: str, runtime: Runtime) -> str:
    """Where the benchmark keeps the model file that ``runtime`` runs, beside ``onnx_file``
    (one file per backend and file precision: OpenVINO's bf16 runs the fp32 IR)."""
    backend = get_backend(runtime.backend)
    precision = backend.file_precision(runtime.precision)
    if backend.suffix == osp.splitext(onnx_file)[1] and precision == backend.default_precision:
        return onnx_file  # the export itself is this backend's model file
    return f'{osp.splitext(onnx_file)[0]}.{backend.name}.{precision}{backend.suffix}'


def prepare_models(onnx_file: str, shape: Sequence[int], labels: Sequence[str]) -> list[str]:
    """The model files of the exported runtimes among ``labels``, converted from
    ``onnx_file``; a precision that needs calibration is calibrated on
    ``BENCHMARK_CALIBRATION_IMAGES`` seeded random images of ``shape`` (enough for timing;
    an accuracy-worthy int8 IR is calibrated on real images, tools/deployment/export_onnx.py)."""
    exported = exported_runtimes()
    written = []
    for label in labels:
        if label not in exported:
            continue
        runtime = exported[label]
        backend, path = get_backend(runtime.backend), model_file(onnx_file, runtime)
        if path in written:
            continue
        precision = backend.file_precision(runtime.precision)
        images = None
        if precision in backend.calibrated:
            generator = torch.Generator().manual_seed(0)
            images = [
                torch.randint(0, 256, (1, 3, *shape), generator=generator).float().numpy()
                for _ in range(BENCHMARK_CALIBRATION_IMAGES)
            ]
        backend.convert(
            onnx_file,
            path,
            precision,
            calibration=images,
            metadata=dict(calibration_split='random images') if images else None,
        )
        written.append(path)
    return written


def exported_runners(labels: Sequence[str], onnx_file: str | None) -> dict:
    """Label -> runner of each exported runtime among ``labels``, on the model files
    :func:`prepare_models` wrote beside ``onnx_file``."""
    exported = exported_runtimes()
    return {
        label: load_runner(
            exported[label].backend,
            model_file(onnx_file, exported[label]),
            exported[label].precision,
        )
        for label in labels
        if label in exported
    }


def inference_fns(
    detector,
    shape: Sequence[int],
    labels: Sequence[str] = EAGER_RUNTIMES,
    onnx_file: str | None = None,
    runners: dict | None = None,
) -> dict[str, Callable]:
    """One callable per runtime label, each running one image of ``shape`` through
    ``detector``; the exported ones through ``runners`` (default: :func:`exported_runners`)."""
    image = random_image(shape)
    exported = exported_runtimes()
    if runners is None:
        runners = exported_runners(labels, onnx_file)
    fns = {}
    for label in labels:
        if label == 'eager':
            fns[label] = eager_predict(detector, image)
        elif label == 'eager_fused':
            from mmcv.cnn import fuse_conv_bn

            fns[label] = eager_predict(fuse_conv_bn(copy.deepcopy(detector)).eval(), image)
        elif label in exported:
            batch = image[None].float().numpy()
            fns[label] = lambda session=runners[label], batch=batch: session(batch)
        else:
            raise ValueError(f'unknown runtime {label!r}; valid: {runtime_labels()}')
    return fns
