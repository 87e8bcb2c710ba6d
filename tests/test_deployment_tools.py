"""The deployment tools end to end: export_onnx.py + evaluate.py give tools/test.py's AP and
detections; with OpenVINO, BF16 and INT8 keep a trained detector's AP and INT8 runs quantized;
the image demo draws a deployed model's detections."""

import os.path as osp
import pickle

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import mmlight.registration  # noqa: F401
from mmlight.demo_data import CLASSES
from mmlight.deployment.backends import load_runner
from mmlight.runtime import Detector
from mmlight.testing.mmdet_parity import assert_same_detections
from mmlight.testing.parity import Detections
from tests.deployment_helpers import (
    TRAINED_IMAGES,
    as_outputs,
    export_openvino,
    tiny_detector_from_cfg,
)
from tests.helpers import ROOT, run_tool


def test_tools_export_and_evaluate_like_tools_test(demo_root, tmp_path):
    """export_onnx.py + evaluate.py against mmdet's test loop (tools/test.py's Runner.test)
    on the same checkpoint: the same AP and, image by image, the same detections in
    original-image coordinates (the test pipeline resizes the 96 x 96 demo images to
    128 x 128, so boxes are scaled back)."""
    from tests.helpers import tiny_config

    source = Config.fromfile(osp.join(ROOT, 'configs', 'faster_rcnn_ghostnetv2_fpn_1x.py'))
    cfg = tiny_config(source, demo_root, str(tmp_path), size=(128, 128), num_images=8)
    cfg.model.test_cfg = source.model.test_cfg
    config = str(tmp_path / 'config.py')
    cfg.dump(config)
    # whole (the checkpoint must fit the config). The tools' graph has no proposals output, so
    # this compares the last stage only: a proposal near-tie that changed the RoIs would show
    # here as an unexplained detection (tests/test_export_parity.py compares stage by stage)
    detector = tiny_detector_from_cfg(cfg, demo_root, drop_blocks=False)
    checkpoint = str(tmp_path / 'detector.pth')
    torch.save(
        dict(state_dict=detector.state_dict(), meta=dict(dataset_meta=dict(classes=CLASSES))),
        checkpoint,
    )
    onnx_file = str(tmp_path / 'detector.onnx')
    proc = run_tool(['tools/deployment/export_onnx.py', config, checkpoint, '--out', onnx_file])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '(128x128 only)' in proc.stdout
    onnx_out = str(tmp_path / 'onnx.pkl')
    proc = run_tool(['tools/deployment/evaluate.py', config, onnx_file, '--out', onnx_out])
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if "'coco/bbox_mAP'" in ln][-1]
    ap_onnx = eval(line)['coco/bbox_mAP']
    # tools/test.py --out, in this process
    torch_out = str(tmp_path / 'torch.pkl')
    cfg.load_from = checkpoint
    cfg.test_evaluator = [cfg.test_evaluator, dict(type='DumpDetResults', out_file_path=torch_out)]
    ap_torch = Runner.from_cfg(cfg).test()['coco/bbox_mAP']
    assert abs(ap_torch - ap_onnx) <= 1e-3
    with open(onnx_out, 'rb') as f:
        dumped_onnx = pickle.load(f)
    with open(torch_out, 'rb') as f:
        dumped_torch = pickle.load(f)
    assert len(dumped_torch) == len(dumped_onnx) == 8
    for ours, theirs in zip(dumped_onnx, dumped_torch, strict=True):
        assert ours['img_id'] == theirs['img_id']
        assert ours['ori_shape'] == (96, 96)
        expected = Detections.from_instances(InstanceData(**theirs['pred_instances']))
        assert_same_detections(expected, as_outputs(ours['pred_instances']), cfg.model.test_cfg)


# bbox mAP of the trained demo detector: what it reaches in fp32, and what bf16 and int8 may
# lose (tests/deployment_helpers.py: on about 260 objects their small score changes average out)
AP_FLOOR = 0.25
PRECISION_AP_TOLERANCE = 0.02


def coco_ap(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if "'coco/bbox_mAP'" in ln][-1]
    return eval(line)['coco/bbox_mAP']


def test_openvino_precisions_keep_a_trained_detectors_ap_and_int8_runs_quantized(
    trained_demo, trained_demo_openvino, tmp_path
):
    """export_onnx.py --backend openvino (fp32; int8 calibrated through the config's pipeline)
    and evaluate.py --backend openvino: bf16 and int8 within 0.02 bbox mAP of fp32 on a
    trained detector; the int8 IR holds FakeQuantize nodes and its convolutions and matrix
    products run in 8 bits, bf16 runs in bf16 where the CPU has it; mmlight.runtime finds
    evaluate.py's detections on every image in onnxruntime and OpenVINO fp32 and int8."""
    import openvino as ov

    from mmlight.deployment.backends.openvino import (
        count_fake_quantize,
        cpu_capabilities,
        model_metadata,
    )

    config, checkpoint, images = trained_demo
    # fp32: the run's shared export (conftest.py, the same tool without --precision)
    fp32_xml, int8_xml = trained_demo_openvino, str(tmp_path / 'int8' / 'det.xml')
    proc = export_openvino(
        config, checkpoint, int8_xml, '--precision', 'int8', '--calib-images', '16'
    )
    assert 'calibrated on 16 images' in proc.stdout
    aps, layers = {}, {}
    dumps = {}
    for precision, xml in (('fp32', fp32_xml), ('bf16', fp32_xml), ('int8', int8_xml)):
        dumps[precision] = str(tmp_path / f'{precision}.pkl')
        proc = run_tool(
            [
                'tools/deployment/evaluate.py',
                config,
                xml,
                '--backend',
                'openvino',
                '--precision',
                precision,
                '--out',
                dumps[precision],
            ]
        )
        aps[precision] = coco_ap(proc)
        layers[precision] = proc.stdout
    # the same detections, image by image, through mmlight.runtime (its own decoding and
    # resizing) as through evaluate.py (mmcv's pipeline): the same AP, in every runtime
    onnx_file = osp.splitext(fp32_xml)[0] + '.onnx'
    dumps['onnxruntime'] = str(tmp_path / 'onnxruntime.pkl')
    aps['onnxruntime'] = coco_ap(
        run_tool(['tools/deployment/evaluate.py', config, onnx_file, '--out', dumps['onnxruntime']])
    )
    for runtime, model_file in (('onnxruntime', onnx_file), ('fp32', fp32_xml), ('int8', int8_xml)):
        detector = Detector(model_file)
        with open(dumps[runtime], 'rb') as f:
            dumped = pickle.load(f)
        assert len(dumped) == TRAINED_IMAGES
        for prediction in dumped:
            found = detector(prediction['img_path'])
            expected = prediction['pred_instances']
            np.testing.assert_array_equal(found.boxes, expected['bboxes'].numpy())
            np.testing.assert_array_equal(found.scores, expected['scores'].numpy())
            np.testing.assert_array_equal(found.labels, expected['labels'].numpy())
    print(f'bbox mAP by precision: {aps}')
    assert aps['fp32'] >= AP_FLOOR, aps
    # mmdet prints AP in thousandths: compare those, not their float difference (0.557 - 0.537
    # is 0.020000000000000018)
    for precision in ('bf16', 'int8'):
        difference = round(abs(aps[precision] - aps['fp32']) * 1000)
        assert difference <= round(PRECISION_AP_TOLERANCE * 1000), aps
    model = ov.Core().read_model(int8_xml)
    convolutions = sum(op.get_type_name() == 'Convolution' for op in model.get_ops())
    assert count_fake_quantize(model) >= convolutions > 0
    assert model_metadata(model, 'precision') == 'int8'
    assert model_metadata(model, 'calibration_images') == '16'
    assert model_metadata(model, 'calibration_split') == 'val_dataloader'
    int8 = load_runner('openvino', int8_xml)
    assert int8.precision == 'int8'
    assert int8.precision_used == 'f32'
    with pytest.raises(ValueError, match='is quantized: it runs as int8, not bf16'):
        load_runner('openvino', int8_xml, 'bf16')
    with pytest.raises(ValueError, match='int8 needs a quantized IR'):
        load_runner('openvino', fp32_xml, 'int8')
    counts = int8.compute_precisions()
    assert counts.get('u8', 0) + counts.get('i8', 0) >= 0.9 * sum(counts.values()), counts
    bf16_runner = load_runner('openvino', fp32_xml, 'bf16')
    bf16 = bf16_runner.compute_precisions()
    expected = 'bf16' if 'BF16' in cpu_capabilities() else 'f32'
    assert set(bf16) == {expected}, bf16
    assert bf16_runner.arithmetic == {'bf16': 'bf16', 'f32': 'fp32'}[expected]
    assert int8.arithmetic == 'int8'
    assert 'inference precision f32' in layers['fp32']
    # the image demo on the deployed model draws what the runner finds
    image = osp.join(images, 'train', '000001.png')
    proc = run_tool(
        [
            'tools/analysis/image_demo.py',
            config,
            int8_xml,
            image,
            '--backend',
            'openvino',
            '--out-dir',
            str(tmp_path / 'demo'),
            '--score-thr',
            '0.3',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'{image}: ' in proc.stdout
    assert mmcv.imread(str(tmp_path / 'demo' / 'vis' / '000001.png')) is not None
