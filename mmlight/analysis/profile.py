"""Where the inference time of a detector goes, for the benchmark's ``--profile``
(tools/analysis/benchmark_inference.py): seconds per image in each part of mmdet's eager
``predict`` (forward hooks on the detector's modules; the rest is pre- and post-processing:
proposals, NMS, box decoding, mask pasting) and in each operator type of the exported graph in
onnxruntime (its own profiler)."""
import json
import os
import time
from collections import defaultdict
from typing import Dict

import torch

from .inference import eager_predict

# the modules whose forward is timed, where the detector has them
EAGER_PARTS = ('backbone', 'neck', 'rpn_head', 'roi_head.bbox_roi_extractor',
               'roi_head.bbox_head', 'roi_head.mask_roi_extractor', 'roi_head.mask_head',
               'bbox_head')
OTHER = 'other (pre/post-processing)'
OTHER_ORT = 'other (between operators)'


def _submodule(module, dotted: str):
    for name in dotted.split('.'):
        module = getattr(module, name, None)
        if not isinstance(module, torch.nn.Module):
            return None
    return module


def eager_breakdown(detector, image: torch.Tensor, iters: int = 3) -> Dict[str, float]:
    """Seconds per image in each of :data:`EAGER_PARTS` (forward only) and in the rest of
    ``predict`` (:data:`OTHER`), over ``iters`` calls after one warm-up."""
    parts = {name: module for name in EAGER_PARTS
             if (module := _submodule(detector, name)) is not None}
    seconds, started = defaultdict(float), {}
    handles = []
    for name, module in parts.items():
        def pre(_module, _args, name=name):
            started[name] = time.perf_counter()

        def post(_module, _args, _output, name=name):
            seconds[name] += time.perf_counter() - started.pop(name)

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    run = eager_predict(detector, image)
    try:
        run()
        seconds.clear()
        start = time.perf_counter()
        for _ in range(iters):
            run()
        total = time.perf_counter() - start
    finally:
        for handle in handles:
            handle.remove()
    result = {name: seconds[name] / iters for name in parts}
    result[OTHER] = total / iters - sum(result.values())
    return result


def onnxruntime_breakdown(onnx_file: str, image, iters: int = 3) -> Dict[str, float]:
    """Seconds per image in each ONNX operator type in onnxruntime, over ``iters`` runs after
    one warm-up, largest first, and the rest of the run (:data:`OTHER_ORT`)."""
    from mmlight.deployment.onnx import OnnxDetector
    session = OnnxDetector(onnx_file, profile=True)
    for _ in range(iters + 1):
        session(image)
    trace = session.end_profiling()
    try:
        with open(trace) as f:
            events = json.load(f)
    finally:
        os.remove(trace)
    runs = sorted((e['ts'], e['dur']) for e in events if e.get('name') == 'model_run')
    if len(runs) != iters + 1:
        raise RuntimeError(f'onnxruntime profile of {onnx_file}: expected {iters + 1} runs, '
                           f'found {len(runs)}')
    seconds = defaultdict(float)
    for event in events:
        if (event.get('cat') == 'Node' and event['name'].endswith('_kernel_time')
                and event['ts'] >= runs[1][0]):  # the warm-up run does not count
            seconds[event['args']['op_name']] += event['dur'] * 1e-6 / iters
    result = dict(sorted(seconds.items(), key=lambda item: -item[1]))
    result[OTHER_ORT] = sum(dur for _, dur in runs[1:]) * 1e-6 / iters - sum(seconds.values())
    return result
