"""Per-image inference of a detector config in several runtimes, as callables for the benchmark
(tools/analysis/benchmark_inference.py): mmdet's eager ``predict``, the same with conv + BN
fused (mmcv's ``fuse_conv_bn``), and the exported graph in every (backend, precision) pair of
the deployment backend table (onnxruntime; OpenVINO FP32, BF16 and INT8 where openvino and
nncf are installed), each named by its label (:mod:`mmlight.analysis.runtimes`)."""

import copy
from collections.abc import Callable, Sequence

import torch

from mmlight.apis import resolve_config
from mmlight.deployment.backends import get_backend, load_runner

from .runtimes import (
    EAGER_RUNTIMES,
    REFERENCES,
    exported_runtimes,
    model_file,
    runtime_labels,
)

# int8 calibration for speed measurements: random weights see random images
BENCHMARK_CALIBRATION_IMAGES = 8
# the benchmark exports the graph in one process and times eager PyTorch in another: one draw
# of random weights for both, or the two would keep different numbers of boxes after the score
# threshold (and so do different work)
RANDOM_WEIGHTS_SEED = 0


# A benchmark row named CONFIG + UNFOLDED is CONFIG exported with the backbone's training-time
# branches kept (RepViT, FastViT): beside CONFIG's row, what folding them buys
UNFOLDED = ':unfolded'


def is_unfolded(name: str) -> bool:
    return name.endswith(UNFOLDED)


def benchmark_config(name_or_path: str) -> str:
    """The config file of a benchmark row: a REFERENCES key, or anything
    :func:`mmlight.apis.resolve_config` takes (with :data:`UNFOLDED` after it or not)."""
    if is_unfolded(name_or_path):
        name_or_path = name_or_path[: -len(UNFOLDED)]
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
