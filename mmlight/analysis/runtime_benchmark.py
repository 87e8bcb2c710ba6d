"""What a deployed detector costs from image file to detections, through :mod:`mmlight.runtime`:
the time of each stage (decode and resize, the graph, the post-processing back to the image),
the rate with several images in flight, and the cold start of a process, beside the same
images through the full stack (mmcv's test pipeline and the same runner) and eager mmdet, with
the number of candidates that enter NMS, for tools/analysis/benchmark_runtime.py."""

import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

import mmlight
from mmlight.deployment.backends.base import usable_cores
from mmlight.runtime import Detector

# the packages a runtime-only install does not have: blocked in the cold-start process
TRAINING_STACK = ('torchvision', *mmlight.TRAINING_STACK)


# the instruction sets that decide which kernels a CPU runtime picks
CPU_FEATURES = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8')


def cpu_description() -> str:
    """The CPU as benchmark records name it: its model (/proc/cpuinfo), the cores this process
    may use, and which of :data:`CPU_FEATURES` it has, e.g. ``'AMD EPYC, 2 cores,
    avx2 avx512f avx512_vnni avx512_bf16'``; the platform's processor name elsewhere."""
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name':
                    model = value.strip()
                elif key.strip() == 'flags':
                    flags = set(value.split())
    except OSError:
        pass
    cores = usable_cores()
    features = ' '.join(name for name in CPU_FEATURES if name in flags)
    return f'{model}, {cores} cores' + (f', {features}' if features else '')


def import_blocker(blocked: Sequence[str], folder: str | None = None) -> str:
    """A folder whose ``sitecustomize.py`` makes ``blocked`` packages unimportable in a Python
    process that has the folder on its PYTHONPATH (a ``None`` entry in ``sys.modules``: the
    import fails and ``find_spec`` finds nothing), as where they are not installed.

    Args:
        blocked: package names.
        folder: where to write it (made if missing); None: a new temporary folder.

    Returns:
        The folder.
    """
    folder = folder or tempfile.mkdtemp(prefix='mmlight_blocked_')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'sitecustomize.py'), 'w') as f:
        f.write(f'import sys\nsys.modules.update({{n: None for n in {tuple(blocked)!r}}})\n')
    return folder


def stage_pass(detector: Detector, images: list[str]) -> dict[str, float]:
    """One pass over ``images`` through the runtime with one request, timed stage by stage.

    Returns:
        Seconds per image of ``decode_preprocess_s``, ``graph_s`` (the runner's call: padding,
        the graph, clipping) and ``postprocess_s`` (back to the image's coordinates).
    """
    totals = dict(decode_preprocess_s=0.0, graph_s=0.0, postprocess_s=0.0)
    for path in images:
        start = time.perf_counter()
        array = detector.load(path)
        batch, scale = detector.preprocess(array)
        loaded = time.perf_counter()
        outputs = detector.runner(batch)
        ran = time.perf_counter()
        detector.postprocess(outputs, scale, array.shape[:2])
        done = time.perf_counter()
        totals['decode_preprocess_s'] += loaded - start
        totals['graph_s'] += ran - loaded
        totals['postprocess_s'] += done - ran
    return {key: value / len(images) for key, value in totals.items()}


def stream_pass(detector: Detector, images: list[str], requests: int) -> None:
    """One pass over ``images`` through :meth:`Detector.stream` with ``requests`` in flight."""
    for result in detector.stream(images, requests=requests):
        if isinstance(result, Exception):
            raise result


def end_to_end_seconds(
    detector: Detector,
    images: list[str],
    requests: Sequence[int] = (1, 2, 4),
    rounds: int = 3,
    others: dict[str, Callable[[str], object]] | None = None,
) -> dict[str, float]:
    """The runtime's stages, its graph with one thread, its rate with requests in flight and
    ``others`` (the full stack, eager mmdet), timed in alternating rounds in one process (each
    round one pass over ``images`` of each, after a warm-up pass), the median round of each:
    drifts of a shared machine hit them alike, so their ratios are the measurement.

    Args:
        detector: the runtime's detector.
        images: image files.
        requests: the numbers of images in flight of the throughput rows.
        rounds: timed rounds.
        others: name -> a function of one image path, timed per image as ``NAME_s``.

    Returns:
        ``decode_preprocess_s``, ``graph_s``, ``postprocess_s``, ``end_to_end_s`` (their sum),
        ``graph_one_thread_s`` (the graph in a runner of the same model and precision with
        one thread: how well one image uses all the cores), ``images_per_s_N`` per count of
        requests, and ``NAME_s`` of each of ``others``.
    """
    from mmlight.deployment.backends import load_runner
    from mmlight.utils.benchmark import alternating_rounds

    one_thread = load_runner(
        detector.backend, detector.model_file, detector.runner.precision, num_threads=1
    )
    batches = [detector.preprocess(detector.load(path))[0] for path in images]
    stages: list[dict[str, float]] = []
    passes: dict[str, Callable[[], object]] = {
        'stages': lambda: stages.append(stage_pass(detector, images)),
        'graph_one_thread': lambda: [one_thread(batch) for batch in batches],
    }
    for count in requests:
        passes[f'stream_{count}'] = lambda count=count: stream_pass(detector, images, count)
    for name, run in (others or {}).items():
        passes[name] = lambda run=run: [run(path) for path in images]
    seconds = alternating_rounds(passes, iters=rounds, warmup=1, rounds=rounds)
    timed_stages = stages[1:]  # the first pass warms up
    result = {
        key: sorted(stage[key] for stage in timed_stages)[len(timed_stages) // 2]
        for key in timed_stages[0]
    }
    result['end_to_end_s'] = sum(result.values())
    result['graph_one_thread_s'] = seconds['graph_one_thread'] / len(images)
    for count in requests:
        result[f'images_per_s_{count}'] = len(images) / seconds[f'stream_{count}']
    for name in others or {}:
        result[f'{name}_s'] = seconds[name] / len(images)
    return result


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


def full_stack_predict(
    config: str,
    model_file: str,
    backend: str,
    cfg_options: dict | None = None,
    precision: str | None = None,
) -> Callable[[str], object]:
    """One image file through the full stack: the config's mmcv test pipeline, the same
    model in the same runner, mmdet's structures
    (:func:`mmlight.deployment.predict.deployed_predict`)."""
    from mmlight.apis import load_detector_config
    from mmlight.deployment.backends import load_runner
    from mmlight.deployment.predict import deployed_predict

    cfg = load_detector_config(config, cfg_options)
    runner = load_runner(backend, model_file, precision)
    return lambda path: deployed_predict(cfg, runner, path)


def eager_detector(config: str, checkpoint: str, cfg_options: dict | None = None):
    """The config's detector with the checkpoint, in eval mode, for eager mmdet's rows."""
    from mmlight.apis import init_detector

    return init_detector(config, checkpoint, cfg_options=cfg_options)


def eager_inference(detector) -> Callable[[str], object]:
    """One image file through eager mmdet: ``mmdet.apis.inference_detector`` (the config's
    test pipeline, the torch model, mmdet's post-processing; gradients off)."""
    import torch
    from mmdet.apis import inference_detector

    def predict(path):
        with torch.no_grad():
            return inference_detector(detector, path)

    return predict


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
        env['PYTHONPATH'] = os.pathsep.join([import_blocker(blocked), env.get('PYTHONPATH', '')])
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, '-c', script], check=True, env=env, stdout=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - start)
    return float(best)


def print_table(row: dict, requests: list[int]) -> None:
    """A benchmark row as a markdown table: stage by stage, then images/s with each count of
    ``requests`` in flight, the NMS candidates and the cold starts where measured."""
    height, width = row['image_shape']
    print(
        f"| {row['model']} ({row['backend']} {row['precision']}), {row['images']} images of "
        f"{height}x{width}, {row['cpu']} | s per image |\n|---|---|"
    )
    stages = (
        'decode_preprocess_s',
        'graph_s',
        'postprocess_s',
        'end_to_end_s',
        'full_stack_s',
        'eager_mmdet_s',
    )
    for key in stages:
        if key in row:
            print(f'| {key[:-2].replace("_", " ")} | {row[key]:.4f} |')
    print(f"| end to end / graph | {row['end_to_end_s'] / row['graph_s']:.3f} |")
    speedup = row['graph_one_thread_s'] / row['graph_s']
    print(f"| graph, one thread | {row['graph_one_thread_s']:.4f} |")
    print(
        f"| graph speed-up on {row['cores']} cores, most that requests in flight can add | "
        f"{speedup:.2f}x, {row['cores'] / speedup:.2f}x |"
    )
    base = row.get('images_per_s_1')
    for count in requests:
        rate = row[f'images_per_s_{count}']
        versus = f' ({rate / base:.2f}x one request)' if base else ''
        print(f'| images/s, {count} in flight | {rate:.2f}{versus} |')
    if 'nms_candidates' in row:
        counts = ' then '.join(f'{count:.0f}' for count in row['nms_candidates'])
        print(f'| candidates entering NMS (per image) | {counts} |')
    for key in ('cold_start_runtime_s', 'cold_start_full_stack_s'):
        if key in row:
            print(f'| {key.replace("_", " ")[:-2]} | {row[key]:.2f} s |')
    if 'cold_start_full_stack_s' in row:
        ratio = row['cold_start_full_stack_s'] / row['cold_start_runtime_s']
        print(f'| cold start, full stack / runtime | {ratio:.1f}x |')
