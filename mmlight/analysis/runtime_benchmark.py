"""What a deployed detector costs from image file to detections, through :mod:`mmlight.runtime`:
the time of each stage (decode and resize, the graph, the post-processing back to the image),
the rate with several images in flight, and the cold start of a process, beside the same
images through the full stack (mmcv's test pipeline and the same runner) and eager mmdet, with
the number of candidates that enter NMS, for tools/analysis/benchmark_runtime.py."""

import os
import os.path as osp
import subprocess
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

from mmlight.runtime import Detector

# the packages a runtime-only install does not have: blocked in the cold-start process
TRAINING_STACK = ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet')


def stage_seconds(detector: Detector, images: list[str], rounds: int = 3) -> dict[str, float]:
    """Seconds per image of each stage with one request, over ``rounds`` passes over
    ``images`` after one warm-up pass.

    Args:
        detector: the runtime's detector.
        images: image files.
        rounds: timed passes.

    Returns:
        ``decode_preprocess_s``, ``graph_s`` (the runner's call: padding, the graph, clipping),
        ``postprocess_s`` (back to the image's coordinates), ``end_to_end_s`` (their sum).
    """
    totals = dict(decode_preprocess_s=0.0, graph_s=0.0, postprocess_s=0.0)
    for timed_round in range(rounds + 1):
        for path in images:
            start = time.perf_counter()
            array = detector.load(path)
            batch, scale = detector.preprocess(array)
            loaded = time.perf_counter()
            outputs = detector.runner(batch)
            ran = time.perf_counter()
            detector.postprocess(outputs, scale, array.shape[:2])
            done = time.perf_counter()
            if timed_round:  # the first pass warms up
                totals['decode_preprocess_s'] += loaded - start
                totals['graph_s'] += ran - loaded
                totals['postprocess_s'] += done - ran
    count = rounds * len(images)
    result = {key: value / count for key, value in totals.items()}
    result['end_to_end_s'] = sum(result.values())
    return result


def one_thread_graph_seconds(detector: Detector, images: list[str], rounds: int = 3) -> float:
    """Seconds per image of the graph alone with one thread (a new runner of the same model
    and precision), over ``rounds`` passes after one warm-up pass: with :func:`stage_seconds`'
    ``graph_s`` it says how well one image uses all the cores, and so how much several in
    flight can add."""
    from mmlight.deployment.backends import load_runner

    runner = load_runner(
        detector.backend, detector.model_file, detector.runner.precision, num_threads=1
    )
    batches = [detector.preprocess(detector.load(path))[0] for path in images]
    for batch in batches:
        runner(batch)
    start = time.perf_counter()
    for _ in range(rounds):
        for batch in batches:
            runner(batch)
    return (time.perf_counter() - start) / (rounds * len(batches))


def images_per_second(
    detector: Detector, images: list[str], requests: int, rounds: int = 3
) -> float:
    """Images per second through :meth:`Detector.stream` with ``requests`` in flight, over
    ``rounds`` passes over ``images`` after one warm-up pass."""
    list(detector.stream(images, requests=requests))
    start = time.perf_counter()
    for _ in range(rounds):
        for result in detector.stream(images, requests=requests):
            if isinstance(result, Exception):
                raise result
    return rounds * len(images) / (time.perf_counter() - start)


def resized_copies(images: list[str], height: int, width: int, folder: str) -> list[str]:
    """Each image resized to ``height`` x ``width`` (cv2, bilinear), written to ``folder`` as
    JPEG (quality 95, as a camera writes its frames): a larger load from small images.

    Args:
        images: image files.
        height: the copies' height.
        width: the copies' width.
        folder: where they go (made if missing).

    Returns:
        The copies' paths, in the order of ``images``.
    """
    os.makedirs(folder, exist_ok=True)
    copies = []
    for path in images:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        copy = osp.join(folder, osp.splitext(osp.basename(path))[0] + '.jpg')
        cv2.imwrite(copy, cv2.resize(image, (width, height)), [cv2.IMWRITE_JPEG_QUALITY, 95])
        copies.append(copy)
    return copies


def seconds_per_image(run: Callable[[str], object], images: list[str], rounds: int) -> float:
    """Seconds per image of ``run(path)`` over ``rounds`` passes after one warm-up pass."""
    for path in images:
        run(path)
    start = time.perf_counter()
    for _ in range(rounds):
        for path in images:
            run(path)
    return (time.perf_counter() - start) / (rounds * len(images))


def full_stack_seconds(
    config: str,
    model_file: str,
    backend: str,
    images: list[str],
    rounds: int = 3,
    cfg_options: dict | None = None,
    precision: str | None = None,
) -> float:
    """Seconds per image through the full stack: the config's mmcv test pipeline, the same
    runner, mmdet's structures (:func:`mmlight.deployment.predict.deployed_predict`)."""
    from mmlight.apis import load_detector_config
    from mmlight.deployment.backends import load_runner
    from mmlight.deployment.predict import deployed_predict

    cfg = load_detector_config(config, cfg_options)
    runner = load_runner(backend, model_file, precision)
    return seconds_per_image(lambda path: deployed_predict(cfg, runner, path), images, rounds)


def eager_detector(config: str, checkpoint: str, cfg_options: dict | None = None):
    """The config's detector with the checkpoint, in eval mode, for eager mmdet's rows."""
    from mmlight.apis import init_detector

    return init_detector(config, checkpoint, cfg_options=cfg_options)


def eager_seconds(detector, images: list[str], rounds: int = 3) -> float:
    """Seconds per image through eager mmdet: ``mmdet.apis.inference_detector`` (the config's
    test pipeline, the torch model, mmdet's post-processing)."""
    import torch
    from mmdet.apis import inference_detector

    with torch.no_grad():
        return seconds_per_image(lambda path: inference_detector(detector, path), images, rounds)


def nms_candidates(detector, images: list[str]) -> list[float]:
    """How many boxes enter each NMS of a detection, averaged over ``images``, counted in eager
    mmdet (whose detections the exported graph reproduces): the RPN's and the R-CNN's for a
    two-stage detector, the head's for a one-stage one.

    Every ``batched_nms`` that mmdet's and mmlight's modules imported from mmcv is counted,
    and put back afterwards.

    Returns:
        The mean number of candidates of each NMS, in the order they run.
    """
    import torch
    from mmcv.ops import batched_nms as original
    from mmdet.apis import inference_detector

    calls: list[int] = []

    def counting(boxes, scores, idxs, nms_cfg, class_agnostic=False):
        if nms_cfg is not None:
            calls.append(int(boxes.shape[0]))
        return original(boxes, scores, idxs, nms_cfg, class_agnostic)

    modules = [
        module
        for module in list(sys.modules.values())
        if getattr(module, 'batched_nms', None) is original
    ]
    per_image = []
    try:
        for module in modules:
            module.batched_nms = counting
        with torch.no_grad():
            for path in images:
                calls.clear()
                inference_detector(detector, path)
                per_image.append(list(calls))
    finally:
        for module in modules:
            module.batched_nms = original
    steps = max(len(counts) for counts in per_image)
    return [
        float(np.mean([counts[i] for counts in per_image if len(counts) > i])) for i in range(steps)
    ]


RUNTIME_COLD_START = '''
from mmlight.runtime import Detector
Detector({model!r})({image!r})
'''
FULL_STACK_COLD_START = '''
from mmlight.apis import load_detector_config
from mmlight.deployment.backends import load_runner
from mmlight.deployment.predict import deployed_predict
cfg = load_detector_config({config!r}, {cfg_options!r})
deployed_predict(cfg, load_runner({backend!r}, {model!r}), {image!r})
'''


def cold_start_seconds(script: str, blocked: tuple[str, ...] = (), repeats: int = 3) -> float:
    """The best wall time of a new Python process that runs ``script`` (interpreter start,
    imports, loading the model, the first image) over ``repeats`` runs; ``blocked`` packages
    cannot be imported in it (as where they are not installed)."""
    env = dict(os.environ)
    if blocked:
        import tempfile

        folder = tempfile.mkdtemp(prefix='mmlight_blocked_')
        with open(os.path.join(folder, 'sitecustomize.py'), 'w') as f:
            f.write(f'import sys\nsys.modules.update({{n: None for n in {blocked!r}}})\n')
        env['PYTHONPATH'] = os.pathsep.join([folder, env.get('PYTHONPATH', '')])
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, '-c', script], check=True, env=env, stdout=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - start)
    return float(best)
