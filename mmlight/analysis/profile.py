"""Where the inference time of a detector goes, for the benchmark's ``--profile``
(tools/analysis/benchmark_inference.py): seconds per image in each part of mmdet's eager
``predict`` (forward hooks on the detector's modules; the rest is pre- and post-processing:
proposals, NMS, box decoding, mask pasting), and in each runtime of the exported graph
(onnxruntime's profiler, OpenVINO's per-layer performance counters) per the same parts and per
operator type.

Both runtimes rewrite the graph they are given (fusions, layout reorders, quantization), and
keep the exported node names in what they run: each executed node is traced back to the
module it was exported from through the exporter's name scopes."""

import time
from collections import defaultdict

import torch

from mmlight.deployment.backends import Runtime, get_backend
from mmlight.utils.benchmark import timed

from .inference import eager_predict

# the modules whose forward is timed, where the detector has them
EAGER_PARTS = (
    'backbone',
    'neck',
    'rpn_head',
    'roi_head.bbox_roi_extractor',
    'roi_head.bbox_head',
    'roi_head.mask_roi_extractor',
    'roi_head.mask_head',
    'bbox_head',
)
OTHER = 'other (pre/post-processing)'
BETWEEN = 'other (between operators)'
ADDED = 'other (nodes the runtime added)'


def _submodule(module, dotted: str):
    for name in dotted.split('.'):
        module = getattr(module, name, None)
        if not isinstance(module, torch.nn.Module):
            return None
    return module


def eager_breakdown(detector, image: torch.Tensor, iters: int = 3) -> dict[str, float]:
    """Seconds per image in each of :data:`EAGER_PARTS` (forward only) and in the rest of
    ``predict`` (:data:`OTHER`), over ``iters`` calls after one warm-up."""
    parts = {}
    for name in EAGER_PARTS:
        module = _submodule(detector, name)
        # a module shared by two parts (mmdet's share_roi_extractor) is timed once
        if module is not None and all(module is not other for other in parts.values()):
            parts[name] = module
    seconds, started = defaultdict(float), {}
    handles = []
    for name, module in parts.items():

        def pre(_module, _args, name=name):
            started[name] = time.perf_counter()

        def post(_module, _args, _output, name=name):
            seconds[name] += time.perf_counter() - started.pop(name)

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    run, cpu = eager_predict(detector, image), torch.device('cpu')
    try:
        timed(run, 0, 1, cpu)  # warm-up
        seconds.clear()
        per_image = timed(run, iters, 0, cpu)
    finally:
        for handle in handles:
            handle.remove()
    result = {name: seconds[name] / iters for name in parts}
    result[OTHER] = per_image - sum(result.values())
    return result


def _module_parts(onnx_file: str) -> dict[str, str]:
    """Node and output names of the graph -> the entry of :data:`EAGER_PARTS` they were
    exported from (torch's exporter records each node's module path in its metadata), or
    :data:`OTHER` for the detector's own pre/post-processing."""
    import ast

    import onnx

    parts = {}
    for node in onnx.load(onnx_file, load_external_data=False).graph.node:
        meta = {prop.key: prop.value for prop in node.metadata_props}
        scopes = ast.literal_eval(meta.get('pkg.torch.onnx.name_scopes', '[]'))
        names = [scope.removeprefix('detector.') for scope in scopes]
        part = next((name for name in reversed(names) if name in EAGER_PARTS), OTHER)
        for name in (node.name, *node.output):
            parts.setdefault(name, part)
    return parts


def _exported_part(parts: dict[str, str], node: str) -> str:
    # the runtimes rename what they rewrite: onnxruntime 'fused NODE', 'NODE/MatMulAddFusion'
    # and 'OUTPUT_nchwc', OpenVINO 'NODE/fq_output_0' and 'NODE/WithoutBiases'; the layout
    # reorders they add belong to no exported node
    name = node.removeprefix('fused ').split('/')[0]
    for candidate in (node, name, name.removesuffix('_nchwc')):
        if candidate in parts:
            return parts[candidate]
    return ADDED


def _breakdown(parts: dict[str, str], nodes, total_seconds: float, iters: int):
    """The breakdowns of executed ``nodes`` ``(names, operator type, seconds)``, summed over
    ``iters`` runs that took ``total_seconds``: ``'module'`` (per entry of :data:`EAGER_PARTS`,
    :data:`OTHER` or :data:`ADDED`; a node the runtime fused from several exported ones
    counts for the first of them that traces back), ``'operator'`` (largest first), both with
    the time between operators (:data:`BETWEEN`), ``'wall'``, seconds per run, and
    ``'nodes'``, how many executed nodes each module has."""
    by_module = {name: 0.0 for name in (*EAGER_PARTS, OTHER, ADDED)}
    by_operator, counts = defaultdict(float), defaultdict(set)
    for names, operator, seconds in nodes:
        traced = [_exported_part(parts, name) for name in names]
        part = next((p for p in traced if p != ADDED), ADDED)
        by_operator[operator] += seconds / iters
        by_module[part] += seconds / iters
        counts[part].add(names[0])
    # the time outside the nodes' kernels; OpenVINO's counters can add up to more than the
    # call's wall-clock time (then there is no such row, and the shares are of the counters)
    wall = total_seconds / iters
    between = wall - sum(by_operator.values())
    exported = set(parts.values())
    by_module = {
        name: seconds for name, seconds in by_module.items() if name in exported or seconds > 0
    }
    by_operator = dict(sorted(by_operator.items(), key=lambda item: -item[1]))
    if between >= 0:
        by_module[BETWEEN] = by_operator[BETWEEN] = between
    return dict(
        module=by_module,
        operator=by_operator,
        wall=wall,
        nodes={part: len(names) for part, names in counts.items()},
    )


def exported_breakdown(
    onnx_file: str, model_file: str, runtime: Runtime, image, iters: int = 3
) -> dict:
    """Seconds per image of ``runtime`` (a backend and precision of the backend table) running
    ``model_file``, converted from ``onnx_file``, over ``iters`` runs after one warm-up, from
    the backend's own profiler (onnxruntime's, OpenVINO's performance counters): ``'module'``,
    per entry of :data:`EAGER_PARTS` that the nodes were exported from (comparable with
    :func:`eager_breakdown`; the export computes RoIAlign outside the RoI extractor modules, so
    its time is under :data:`OTHER` there, and under its operator type), and ``'operator'``,
    per operator type of the runtime (OpenVINO's with the precision they ran in: 'Convolution
    i8', 'Subgraph f32'), largest first; both with the time between operators
    (:data:`BETWEEN`); and ``'nodes'``, the executed nodes per module."""
    backend = get_backend(runtime.backend)
    nodes, total = backend.profile(model_file, image, iters, runtime.precision)
    return _breakdown(_module_parts(onnx_file), nodes, total, iters)
