"""What a deployed detector costs from image file to detections, through :mod:`mmlight.runtime`:
the time of each stage (decode and resize, the graph, the post-processing back to the image),
the rate with several images in flight, and the cold start of a process, beside the same
images through the full stack (mmcv's test pipeline and the same runner), for
tools/analysis/benchmark_runtime.py."""

import os
import subprocess
import sys
import time

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


def full_stack_seconds(
    config: str, model_file: str, backend: str, images: list[str], rounds: int = 3
) -> float:
    """Seconds per image through the full stack: the config's mmcv test pipeline, the same
    runner, mmdet's structures (:func:`mmlight.deployment.predict.deployed_predict`)."""
    from mmlight.apis import load_detector_config
    from mmlight.deployment.backends import load_runner
    from mmlight.deployment.predict import deployed_predict

    cfg = load_detector_config(config)
    runner = load_runner(backend, model_file)
    for path in images:
        deployed_predict(cfg, runner, path)
    start = time.perf_counter()
    for _ in range(rounds):
        for path in images:
            deployed_predict(cfg, runner, path)
    return (time.perf_counter() - start) / (rounds * len(images))


RUNTIME_COLD_START = '''
from mmlight.runtime import Detector
Detector({model!r})({image!r})
'''
FULL_STACK_COLD_START = '''
from mmlight.apis import load_detector_config
from mmlight.deployment.backends import load_runner
from mmlight.deployment.predict import deployed_predict
deployed_predict(load_detector_config({config!r}), load_runner({backend!r}, {model!r}), {image!r})
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
