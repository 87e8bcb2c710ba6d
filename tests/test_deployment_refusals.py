"""Clear errors for what the deployment path does not take: a config without a detector, a
head it does not export, a checkpoint of another config, an image of the wrong rank, a model
file that is not an mmlight export, a backend or precision that does not exist."""

import os.path as osp

import pytest
import torch

import mmlight.registration  # noqa: F401
from mmlight.apis import init_detector, load_detector_config
from mmlight.deployment import DeployableDetector
from mmlight.deployment.backends import load_runner
from tests.helpers import ROOT

pytestmark = pytest.mark.quick


def test_a_config_without_a_detector_is_refused(tmp_path):
    path = tmp_path / 'not_a_detector.py'
    path.write_text("model = dict(type='ImageClassifier', head=dict(type='LinearClsHead'))\n")
    with pytest.raises(
        ValueError,
        match=r"expected a detector config .*found model "
        r"\['head', 'type'\]",
    ):
        load_detector_config(str(path))


def test_an_unsupported_head_is_refused_by_name_with_the_supported_list():
    """A dense head with post-processing of its own (RTMDet-Ins: masks from dynamic kernels)
    is refused before export, naming what it overrides and what the export supports."""
    cfg = load_detector_config('mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py')
    cfg.model.backbone.init_cfg = None
    with pytest.raises(
        ValueError,
        match=r'does not export RTMDetInsSepBNHead \(its own '
        r'predict_by_feat, _predict_by_feat_single\); '
        r'supported: two-stage: RPNHead '
        r'\+ StandardRoIHead .*YOLOXHead, and the dense heads',
    ):
        DeployableDetector(init_detector(cfg))


def test_a_checkpoint_for_another_config_is_refused(tmp_path):
    path = str(tmp_path / 'shufflenet.pth')
    other = init_detector(osp.join(ROOT, 'configs', 'yolov4_shufflenetv2_416.py'))
    torch.save(dict(state_dict=other.state_dict()), path)
    with pytest.raises(
        KeyError,
        match=r"checkpoint '.*shufflenet.pth' does not match .*"
        r"missing keys",
    ):
        init_detector(osp.join(ROOT, 'configs', 'yolov4_ghostnet_416.py'), path)


def test_an_image_of_the_wrong_rank_is_refused():
    detector = DeployableDetector(
        init_detector(osp.join(ROOT, 'configs', 'yolov4_ghostnet_416.py'))
    )
    with pytest.raises(
        ValueError,
        match=r'expected one image as float \[1, 3, H, W\].*got '
        r'shape \(3, 64, 64\)',
    ):
        detector(torch.zeros(3, 64, 64))


def test_a_model_file_that_is_not_an_mmlight_export_is_refused_by_every_backend(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node('Identity', ['input'], ['output'])],
        'other',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    path = str(tmp_path / 'other.onnx')
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)]), path)
    for backend in ('onnxruntime', 'openvino'):
        with pytest.raises(
            ValueError,
            match=r"not an mmlight detector export: expected input "
            r"'image' .*got inputs \['input'\] and outputs "
            r"\['output'\]",
        ):
            load_runner(backend, path)
    with pytest.raises(
        ValueError,
        match=r"unknown backend 'tensorrt'; valid choices: "
        r"\['onnxruntime', 'openvino'\]",
    ):
        load_runner('tensorrt', path)
    with pytest.raises(
        ValueError,
        match=r"the openvino backend runs fp32/bf16/int8, not "
        r"precision 'fp16'",
    ):
        load_runner('openvino', path, 'fp16')
    with pytest.raises(
        ValueError,
        match=r"the onnxruntime backend runs fp32, not precision "
        r"'int8'",
    ):
        load_runner('onnxruntime', path, 'int8')


def test_detector_kind_walks_the_kinds_and_a_new_kind_is_one_class(monkeypatch):
    """The kinds are the dispatch: a subclass placed in KINDS is tried in its turn, and the
    list of what the export supports names it."""
    from mmlight.deployment import detector as deployable

    class FirstYOLOKind(deployable.YOLOKind):
        name = 'first_yolo'
        supports = 'a kind added by a test'

    detector = init_detector(osp.join(ROOT, 'configs', 'yolov4_ghostnet_416.py'))
    assert deployable.detector_kind(detector).name == 'yolo'
    assert 'a kind added by a test' not in deployable.supported()
    monkeypatch.setattr(deployable, 'KINDS', (FirstYOLOKind, *deployable.KINDS))
    assert deployable.detector_kind(detector).name == 'first_yolo'
    assert 'a kind added by a test' in deployable.supported()
    # what tests open on an untrained detector: the objectness and class biases of each of
    # the three YOLO prediction convs
    biases = deployable.detector_kind(detector).score_biases(detector)
    head = detector.bbox_head
    assert len(biases) == len(head.convs_pred) == 3
    assert all(b.shape[-1] == head.num_attrib - 4 for b in biases)
