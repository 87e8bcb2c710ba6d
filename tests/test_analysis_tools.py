"""The analysis tools users expect: FLOPs of any config, mmdet's DetInferencer on an mmlight
config, and the picture of predictions vs ground truth."""

import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MessageHub

import mmlight.registration  # noqa: F401
from mmlight.analysis import detector_complexity
from mmlight.analysis.runtime_benchmark import import_blocker
from mmlight.analysis.runtimes import peak_share
from mmlight.demo_data import CLASSES
from tests.helpers import ROOT, run_tool

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py')


@pytest.mark.parametrize('config', ['mask_rcnn_shufflenetv2_fpn_1x.py', 'yolov4_ghostnet_416.py'])
def test_flops_of_every_detector_type(config):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    result = detector_complexity(cfg, (96, 128))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert result['detector']['params'] == sum(p.numel() for p in model.parameters())
    assert result['backbone']['params'] == sum(p.numel() for p in model.backbone.parameters())
    assert 0 < result['backbone']['flops'] < result['detector']['flops']
    if config.startswith('yolo'):  # all convolutional: FLOPs scale with the image area
        larger = detector_complexity(cfg, (192, 256))
        for part in ('backbone', 'detector'):
            assert larger[part]['flops'] == pytest.approx(4 * result[part]['flops'], rel=0.1)


def test_get_flops_tool_and_its_errors(tmp_path):
    proc = run_tool(
        [
            'tools/analysis/get_flops.py',
            'configs/faster_rcnn_ghostnet_fpn_1x.py',
            '--shape',
            '128',
            '160',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '| detector |' in proc.stdout
    assert '| backbone | 2.67 |' in proc.stdout
    # --cfg-options reaches the model: the dense YOLOv4 neck + head cost over 3x the depthwise
    proc = run_tool(
        [
            'tools/analysis/get_flops.py',
            'configs/yolov4_ghostnet_416.py',
            '--shape',
            '96',
            '96',
            '--cfg-options',
            'model.neck.use_depthwise=False',
            'model.bbox_head.use_depthwise=False',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(row for row in proc.stdout.splitlines() if row.startswith('| detector |'))
    dense_params, dense_gflops = [float(v) for v in line.split('|')[2:4]]
    depthwise = detector_complexity(osp.join(ROOT, 'configs', 'yolov4_ghostnet_416.py'), (96, 96))[
        'detector'
    ]
    assert dense_params > 3 * depthwise['params'] / 1e6
    assert dense_gflops > 3 * depthwise['flops'] / 1e9
    not_a_detector = tmp_path / 'nothing.py'
    not_a_detector.write_text("model = dict(type='ResNet', depth=18)\n")
    with pytest.raises(ValueError, match='expected a detector config'):
        detector_complexity(str(not_a_detector))
    with pytest.raises(ValueError, match='shape must be'):
        detector_complexity(DEMO_CONFIG, (16, 16))


@pytest.fixture
def demo_checkpoint(demo_root, tmp_path):
    """The demo config pointed at the test's demo set, and a checkpoint of its detector (random
    weights: the tools must run, not detect well)."""
    cfg = Config.fromfile(DEMO_CONFIG)
    for loader in ('val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = demo_root
    cfg.val_evaluator.ann_file = osp.join(demo_root, 'annotations/instances_val.json')
    cfg.test_evaluator = cfg.val_evaluator
    config = str(tmp_path / 'demo.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(tmp_path / 'demo.pth')
    # what mmengine's Runner saves: the message hub's HistoryBuffers and numpy values too
    hub = MessageHub.get_instance('analysis_tools_test')
    hub.update_scalar('train/loss', 1.5)
    torch.save(
        {
            'state_dict': model.state_dict(),
            'message_hub': hub.state_dict(),
            'meta': {'dataset_meta': {'classes': CLASSES}, 'seed': np.int64(0)},
        },
        checkpoint,
    )
    return config, checkpoint


def test_det_inferencer_runs_an_mmlight_config(demo_checkpoint, demo_root, tmp_path):
    """mmlight.apis: DetInferencer (mmdet's, reading the Runner checkpoint through the
    allow-list) returns what init_detector + inference_detector return."""
    from mmlight.apis import DetInferencer, inference_detector, init_detector

    config, checkpoint = demo_checkpoint
    image = osp.join(demo_root, 'val', '000001.png')
    assert osp.isfile(image)
    inferencer = DetInferencer(model=config, weights=checkpoint, device='cpu')
    detector = init_detector(config, checkpoint, device='cpu')
    assert detector.dataset_meta['classes'] == CLASSES
    output = inferencer(image, return_vis=False, pred_score_thr=0.0)
    prediction = output['predictions'][0]
    # the same detections as the model's own predict path
    expected = inference_detector(detector, image)
    assert len(prediction['scores']) == len(expected.pred_instances) > 0
    np.testing.assert_allclose(
        prediction['bboxes'], expected.pred_instances.bboxes.numpy(), atol=1e-3
    )
    assert set(prediction['labels']) <= set(range(len(CLASSES)))
    # and the command line that wraps it writes the picture
    proc = run_tool(
        [
            'tools/analysis/image_demo.py',
            config,
            checkpoint,
            image,
            '--out-dir',
            str(tmp_path / 'out'),
            '--score-thr',
            '0.0',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'{image}: {len(expected.pred_instances)} detections' in proc.stdout
    assert cv2.imread(str(tmp_path / 'out' / 'vis' / '000001.png')) is not None


def test_show_predictions_writes_a_grid_png(demo_checkpoint, tmp_path):
    config, checkpoint = demo_checkpoint
    out = str(tmp_path / 'grid.png')
    proc = run_tool(
        [
            'tools/analysis/show_predictions.py',
            config,
            checkpoint,
            '--out',
            out,
            '--num',
            '3',
            '--columns',
            '2',
            '--score-thr',
            '0.05',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.abspath(out) in proc.stdout
    grid = cv2.imread(out)
    # two columns of (ground truth | predictions) panels, two rows (3 images, 1 blank)
    assert grid.shape[1] >= 4 * 96
    assert grid.shape[0] >= 2 * 96
    assert grid.std() > 10  # a picture, not a blank page


def test_inference_benchmark_runtimes_compute_the_same_detections():
    """benchmark_inference.py's eager and conv+BN-fused callables (what it times) return the
    same detections; unknown names are refused."""
    from mmlight.analysis.inference import benchmark_config, inference_fns
    from mmlight.apis import init_detector, resolve_config

    detector = init_detector(resolve_config('yolov4_ghostnet_416'))
    detector.test_cfg.score_thr = 0.0  # keep every box of the random weights
    fns = inference_fns(detector, (128, 160), ['eager', 'eager_fused'])
    eager = fns['eager']()[0].pred_instances
    fused = fns['eager_fused']()[0].pred_instances
    assert len(eager.scores) == len(fused.scores) > 0
    torch.testing.assert_close(fused.scores, eager.scores, atol=1e-4, rtol=0)
    assert benchmark_config('mmdet_rtmdet_tiny').endswith('rtmdet_tiny_8xb32-300e_coco.py')
    with pytest.raises(FileNotFoundError, match="'no_such' is neither a config file"):
        benchmark_config('no_such')
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        inference_fns(detector, (128, 160), ['tensorrt'])


def test_random_weights_are_one_draw_in_every_process():
    """The benchmark exports in one process and times eager PyTorch in another: with a seed,
    both hold the same random weights, and building does not move the caller's random state;
    without one, the weights come from the caller's generator."""
    from mmlight.analysis.inference import RANDOM_WEIGHTS_SEED
    from mmlight.apis import init_detector, resolve_config

    config = resolve_config('yolov4_ghostnet_416')
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = init_detector(config, seed=RANDOM_WEIGHTS_SEED).state_dict()
    assert torch.equal(torch.rand(1), expected_next)
    second = init_detector(config, seed=RANDOM_WEIGHTS_SEED).state_dict()
    other = init_detector(config, seed=RANDOM_WEIGHTS_SEED + 1).state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)
    torch.manual_seed(RANDOM_WEIGHTS_SEED)
    first_draw = torch.rand(1)
    torch.manual_seed(RANDOM_WEIGHTS_SEED)
    unseeded = init_detector(config).state_dict()
    assert all(torch.equal(first[key], unseeded[key]) for key in first)
    assert not torch.equal(torch.rand(1), first_draw)  # the caller's generator moved on


def test_eager_breakdown_times_each_part_of_a_two_stage_detector():
    """--profile's eager side: one entry per module of the detector and one for the rest of
    predict, and no hook left behind on the detector."""
    from mmlight.analysis.inference import random_image
    from mmlight.analysis.profile import OTHER, eager_breakdown
    from mmlight.apis import init_detector, resolve_config

    detector = init_detector(resolve_config('faster_rcnn_shufflenetv2_fpn_1x'))
    breakdown = eager_breakdown(detector, random_image((128, 160)), iters=1)
    assert list(breakdown) == [
        'backbone',
        'neck',
        'rpn_head',
        'roi_head.bbox_roi_extractor',
        'roi_head.bbox_head',
        OTHER,
    ]
    assert all(seconds > 0 for seconds in breakdown.values()), breakdown
    assert not any(
        module._forward_hooks or module._forward_pre_hooks for module in detector.modules()
    )


def test_runtime_node_names_trace_back_to_exported_modules():
    """The names onnxruntime's and OpenVINO's optimisations give the nodes they rewrite still
    lead to the module the node was exported from; the layout reorders they add lead to none."""
    from mmlight.analysis.profile import ADDED, _exported_part

    parts = {
        'node_Conv_3': 'backbone',
        'relu_4': 'neck',
        'node_MatMul_16': 'backbone',
        'node_linear': 'roi_head.bbox_head',
    }
    assert _exported_part(parts, 'node_Conv_3') == 'backbone'
    assert _exported_part(parts, 'relu_4_nchwc') == 'neck'
    assert _exported_part(parts, 'node_MatMul_16/MatMulAddFusion') == 'backbone'
    assert _exported_part(parts, 'fused node_linear') == 'roi_head.bbox_head'
    assert _exported_part(parts, 'ReorderInput_token_7') == ADDED
    # OpenVINO: quantization and bias splitting
    assert _exported_part(parts, 'node_Conv_3/fq_output_0') == 'backbone'
    assert _exported_part(parts, 'node_linear/WithoutBiases') == 'roi_head.bbox_head'
    assert _exported_part(parts, 'image_f32_abcd_bf16_acdb_node_flip') == ADDED


def test_breakdown_sums_nodes_per_module_and_operator():
    """A layer fused from several exported nodes counts once, for the first that traces back;
    the time outside the kernels is its own row, and where the counters add up to more than
    the wall-clock time there is no such row."""
    from mmlight.analysis.profile import ADDED, BETWEEN, OTHER, _breakdown

    parts = {'node_Conv_3': 'backbone', 'node_Conv_4': 'neck', 'node_nms': OTHER}
    nodes = [
        (('Multiply_9', 'node_Conv_3'), 'Convolution i8', 0.4),
        (('node_Conv_4', 'node_Conv_3'), 'Convolution i8', 0.2),
        (('node_nms',), 'NonMaxSuppression f32', 0.1),
        (('Reorder_1',), 'Reorder f32', 0.1),
    ] * 2
    result = _breakdown(parts, nodes, total_seconds=2.0, iters=2)
    assert result['module'] == pytest.approx(
        {'backbone': 0.4, 'neck': 0.2, OTHER: 0.1, ADDED: 0.1, BETWEEN: 0.2}
    )
    assert result['operator'] == pytest.approx(
        {'Convolution i8': 0.6, 'NonMaxSuppression f32': 0.1, 'Reorder f32': 0.1, BETWEEN: 0.2}
    )
    assert next(iter(result['operator'])) == 'Convolution i8'
    assert result['nodes'] == {'backbone': 1, 'neck': 1, OTHER: 1, ADDED: 1}
    assert result['wall'] == pytest.approx(1.0)
    overlapping = _breakdown(parts, nodes, total_seconds=1.0, iters=2)
    assert BETWEEN not in overlapping['module']
    assert BETWEEN not in overlapping['operator']


# a detector the ONNX path does not cover: RTMDet-Ins has post-processing of its own
RTMDET_INS = 'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py'


def test_inference_benchmark_profile_prints_where_the_time_goes():
    """benchmark_inference.py --profile: the modules of one exported detector, eager, in
    onnxruntime and in OpenVINO int8 (each executed node traced back to the module it was
    exported from), and each runtime's operator types, with their shares; a detector without an
    ONNX path is skipped by name."""
    proc = run_tool(
        [
            'tools/analysis/benchmark_inference.py',
            'yolov4_ghostnet_416',
            RTMDET_INS,
            '--shape',
            '128',
            '160',
            '--iters',
            '1',
            '--profile',
            '--runtimes',
            'eager',
            'onnxruntime',
            'openvino_int8',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # a detector the ONNX path does not cover is named and skipped
    assert (
        f'{RTMDET_INS}: not profiled: DeployableDetector: the ONNX path does not export '
        'RTMDetInsSepBNHead'
    ) in out
    out = out.split(f'{RTMDET_INS}: not profiled')[0]
    assert 'yolov4_ghostnet_416 at 128x160: seconds per image (share)' in out
    titles = [
        'eager',
        'onnxruntime by module',
        'onnxruntime by operator type',
        'onnxruntime nodes',
        'openvino_int8 by module',
        'openvino_int8 by operator type',
        'openvino_int8 nodes',
    ]
    sections = {}
    for title, following in zip(titles, [*titles[1:], None], strict=False):
        section = out.split(f'\n  {title}:')[1]
        sections[title] = section.split(f'\n  {following}:')[0] if following else section

    def rows(title):
        return [line.split() for line in sections[title].splitlines() if line.startswith('    ')]

    parts = ('backbone', 'neck', 'bbox_head', 'other (pre/post-processing)')
    # every module has its row, however small its share (a share is timing: not compared)
    eager = {' '.join(row[:-2]): float(row[-2]) for row in rows('eager')}
    assert set(parts) <= set(eager), sections['eager']
    assert eager['backbone'] > 0, sections['eager']
    for title in ('onnxruntime by module', 'openvino_int8 by module'):
        # name, seconds, share, executed nodes: nodes traced to each module and to the rest
        nodes = {
            ' '.join(row[:-3]): int(row[-1]) for row in rows(title) if not row[-1].endswith('%')
        }
        assert all(nodes.get(part, 0) > 0 for part in parts), (title, sections[title])
    for runtime in ('onnxruntime', 'openvino_int8'):
        # most executed nodes trace back to the exported graph, not to what the runtime made
        executed, traced, processing, added = map(
            int,
            re.match(
                r" (\d+) executed, (\d+) traced to the detector's modules, (\d+) to its "
                r'pre/post-processing, (\d+) added by the runtime',
                sections[f'{runtime} nodes'],
            ).groups(),
        )
        assert traced + processing + added == executed
        assert traced > added, sections[f'{runtime} nodes']
        assert processing > 0, sections[f'{runtime} nodes']
        # the operator types, largest first; the small ones in one line
        operators = rows(f'{runtime} by operator type')
        named = [row for row in operators if not row[0].startswith(('other', '('))]
        seconds = [float(row[-2]) for row in named]
        assert seconds == sorted(seconds, reverse=True)
        assert seconds[0] > 0
        assert operators[-1][1] == 'more,', operators
    # onnxruntime's ONNX operators; OpenVINO's layers with the precision they ran in
    assert 'Conv' in [row[0] for row in rows('onnxruntime by operator type')]
    assert ['Convolution', 'i8'] in [row[:2] for row in rows('openvino_int8 by operator type')]


def test_without_openvino_the_benchmark_runs_the_rest_and_without_torch_its_memory_workers(
    tmp_path,
):
    """openvino and nncf are optional: with neither importable, the benchmark's default
    runtimes leave OpenVINO's out and the others run, and asking for the OpenVINO backend says
    how to install it. The worker that measures an exported runtime's peak memory runs where
    neither torch nor mmdet can be imported (what it imports is not what it measures)."""
    # as where the packages are not installed
    blocker = import_blocker(('openvino', 'nncf'), str(tmp_path / 'without_openvino'))
    env = {'PYTHONPATH': os.pathsep.join([blocker, ROOT])}
    # what the benchmark tool does with its default runtimes, in one process
    script = f"""
import runpy
tool = runpy.run_path('tools/analysis/benchmark_inference.py')
runtimes = tool['available_runtimes']()
print('runtimes:', ' '.join(runtimes))
from mmlight.analysis.inference import inference_fns
from mmlight.analysis.inference_benchmark import export_graph, random_detector
detector = random_detector('yolov4_ghostnet_416')
onnx_file = export_graph(detector, 'yolov4_ghostnet_416', (96, 96), {str(tmp_path)!r})
for runtime, run in inference_fns(detector, (96, 96), runtimes, onnx_file).items():
    run()
    print('ran', runtime)
from mmlight.deployment.backends import load_runner
try:
    load_runner('openvino', onnx_file)
except ImportError as err:
    print('refused:', err)
"""
    proc = run_tool(['-c', script], env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'runtimes: eager eager_fused onnxruntime\n' in proc.stdout
    for runtime in ('eager', 'eager_fused', 'onnxruntime'):
        assert f'ran {runtime}' in proc.stdout, proc.stdout
    assert (
        'refused: the OpenVINO backend needs the openvino package: pip install openvino'
        in proc.stdout
    ), proc.stdout
    blocked = ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet')
    blocker = import_blocker(blocked, str(tmp_path / 'without_torch'))
    worker = [
        'tools/analysis/benchmark_inference.py',
        'yolov4_ghostnet_416',
        '--worker',
        'memory-onnxruntime',
        '--shape',
        '96',
        '96',
        '--runtimes',
        'onnxruntime',
        '--onnx',
        str(tmp_path / 'yolov4_ghostnet_416.onnx'),
    ]
    proc = run_tool(worker, env={'PYTHONPATH': os.pathsep.join([blocker, ROOT])})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
    assert json.loads(line[len('RESULT ') :])['onnxruntime_peak_mib'] > 0


@pytest.mark.quick
def test_a_runtimes_share_of_the_peak_is_of_the_precision_it_computed_in():
    """OpenVINO's bf16 that ran in f32 is measured against the fp32 peak; a precision torch
    multiplies in more slowly than in fp32 (int8 on an AVX2-only CPU) has no peak to compare
    with; rows without what the runtime computed in use the runtime's own precision."""
    peaks = {'fp32': 100.0, 'bf16': 400.0, 'int8': 800.0}
    row = dict(gflops=1.0, openvino_bf16_s=0.02, openvino_int8_s=0.01, peak_gflops=peaks)
    assert peak_share(row, 'openvino_bf16') == (100.0, 400.0)
    assert peak_share(row, 'openvino_int8') == (200.0, 800.0)
    row['openvino_bf16_arithmetic'] = 'fp32'
    assert peak_share(row, 'openvino_bf16') == (100.0, 100.0)
    row['peak_gflops'] = dict(peaks, bf16=1.3, int8=1.3)
    row['openvino_bf16_arithmetic'] = 'bf16'
    assert peak_share(row, 'openvino_bf16') is None
    assert peak_share(row, 'openvino_int8') is None
    assert peak_share(row, 'onnxruntime') is None  # no time for it in the row


def test_inference_benchmark_rows_hold_every_runtime_and_the_precision_peaks(tmp_path):
    """benchmark_inference.py with onnxruntime and OpenVINO's three precisions: one row with a
    latency and a peak memory per runtime, the CPU's matrix-product peak per precision, the
    achieved-of-peak table and the plot; a second run with the same JSON measures nothing."""
    out_json, plot = str(tmp_path / 'rows.json'), str(tmp_path / 'plot.png')
    runtimes = ['eager', 'onnxruntime', 'openvino_fp32', 'openvino_bf16', 'openvino_int8']
    args = [
        'tools/analysis/benchmark_inference.py',
        'yolov4_ghostnet_416',
        '--shape',
        '128',
        '160',
        '--iters',
        '1',
        '--json',
        out_json,
        '--plot',
        plot,
        '--runtimes',
        *runtimes,
    ]
    proc = run_tool(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out_json) as f:
        (row,) = json.load(f)
    for runtime in runtimes:
        assert row[f'{runtime}_s'] > 0, runtime
        assert row[f'{runtime}_peak_mib'] >= 0, runtime
    assert set(row['peak_gflops']) >= {'fp32', 'bf16'}
    assert all(value > 0 for value in row['peak_gflops'].values())
    assert 'matrix-product peak (GFLOP/s): fp32' in proc.stdout
    assert '| openvino_int8 (s) |' in proc.stdout
    # what each exported runtime computed in: OpenVINO's bf16 in f32 on a CPU without BF16
    from mmlight.deployment.backends.openvino import cpu_capabilities

    has_bf16 = 'BF16' in cpu_capabilities()
    assert row['onnxruntime_arithmetic'] == row['openvino_fp32_arithmetic'] == 'fp32'
    assert row['openvino_bf16_arithmetic'] == ('bf16' if has_bf16 else 'fp32')
    assert row['openvino_int8_arithmetic'] == 'int8'
    achieved = proc.stdout.split('Achieved GFLOP/s')[1]
    assert '| yolov4_ghostnet_416 | 128x160 | ' in achieved
    for runtime in runtimes[1:]:
        share = peak_share(row, runtime)
        cell = (
            'n/a'
            if share is None
            else f'{share[0]:.0f} / {share[1]:.0f} ({share[0] / share[1]:.0%})'
        )
        assert f' {cell} |' in achieved, (runtime, cell)
    assert peak_share(row, 'onnxruntime') is not None
    assert cv2.imread(plot) is not None
    proc = run_tool(args)
    assert proc.returncode == 0
    assert 'matrix-product peak (GFLOP/s)' not in proc.stdout
