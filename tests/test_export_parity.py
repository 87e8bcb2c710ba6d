"""Whole detectors through torch's ONNX exporter into onnxruntime and OpenVINO: the same
detections as mmdet's own ``predict`` (up to the near-ties mmlight.testing.parity accepts)
for every detector config in onnxruntime, itself or through configs that run its code paths
(one per backbone family exported with dynamic sizes and run at two sizes, but RepViT and
FasterNet, whose graphs hold no size), for mmdet's
RetinaNet, FCOS, ATSS, RTMDet-tiny, YOLOX-tiny and Cascade R-CNN with an mmlight backbone
(dynamic, and fixed where no config covers the head), and for one config per family and
detector type in OpenVINO FP32; two-stage detectors stage by stage; the matrix-product global
filter equals the FFTs.
"""

import os.path as osp

import pytest
import torch

import mmlight.registration  # noqa: F401
from mmlight.apis import config_names, init_detector
from mmlight.deployment import DeployableDetector, detector_kind
from mmlight.deployment.backends import load_runner
from mmlight.deployment.backends.openvino import convert_to_openvino
from mmlight.deployment.export import export_onnx
from mmlight.models.layers import GlobalLocalFilter
from mmlight.models.layers.gnconv import global_filter_as_matmul
from mmlight.testing.mmdet_parity import assert_same_as_mmdet
from tests.deployment_helpers import (
    KINDS,
    MMDET_DETECTORS,
    SIZES,
    demo_images,
    mmdet_detector_cfg,
    tiny_detector,
    tiny_detector_from_cfg,
)
from tests.helpers import ROOT

# Every detector config of configs/ (the demo ones included), each as it is with one exception:
# the export does not depend on how often a shape-preserving block repeats, and it costs time
# per operator, so every backbone keeps one such block per stage (with all the blocks that
# change the shape). Faster R-CNN on GhostNetV2 is the model of the tools test below, whole.
# One config per backbone family, the three detector types among them, is exported with
# dynamic height and width and checked at both SIZES (a dynamic export takes 2-3x as long);
# the others are exported for the first size and checked there.
CONFIGS = config_names(recursive=True)
TOOLS_TEST_CONFIG = 'faster_rcnn_ghostnetv2_fpn_1x'
DYNAMIC = {
    'yolov4_ghostnet_416',
    'faster_rcnn_odconv_r50_fpn_1x',
    'mask_rcnn_shufflenetv2_fpn_1x',
    'mask_rcnn_hornet-t-gf_fpn_1x',
    # the timm families: FastViT-SA (its attention reshapes by the feature map's size), and
    # MobileNetV4 and StarNet in RTMDet-tiny's cheap graph
    'mask_rcnn_fastvit-sa12_fpn_1x',
    'rtmdet_tiny_mobilenetv4-conv-small',
    'rtmdet_tiny_starnet-s1',
}
# The same graphs in OpenVINO FP32: every family and detector type with a dynamic graph
# (above), and with a fixed one (Faster R-CNN in its Mask R-CNN sibling's graph, below)
OPENVINO = DYNAMIC | {
    'mask_rcnn_ghostnet_fpn_1x',
    'mask_rcnn_odconv_mobilenetv2_fpn_1x',
    'mask_rcnn_hornet-t_fpn_1x',
    'yolov4_shufflenetv2_416',
    'retinanet_ghostnet_fpn_1x',
    'rtmdet_tiny_ghostnet',
    'cascade_mask_rcnn_hornet-t_fpn_3x',
    # RepViT and FasterNet are convolutions, splits and concatenations, with no size in the
    # graph: their fixed graphs, in both runtimes
    'mask_rcnn_repvit-m1_1_fpn_1x',
    'mask_rcnn_fasternet-s_fpn_1x',
}
# Configs whose graph runs no code path that the graph of another config here does not run
# (one model per family and detector type), each with the configs that run its paths: the
# same family at another size, or the same layers in another detector
COVERED_BY = {
    # HorNet-S is HorNet-T wider and deeper: the same blocks, with and without the filter
    'mask_rcnn_hornet-s_fpn_1x': ('mask_rcnn_hornet-t_fpn_1x',),
    'mask_rcnn_hornet-s-gf_fpn_1x': ('mask_rcnn_hornet-t-gf_fpn_1x',),
    # OD-ResNet-50 with one kernel (its Faster R-CNN, dynamic) and its Mask R-CNN with four
    'mask_rcnn_odconv_r50_fpn_1x': (
        'faster_rcnn_odconv_r50_fpn_1x',
        'mask_rcnn_odconv4x_r50_fpn_1x',
    ),
    # GhostNetV2's blocks (its YOLOv4; its Faster R-CNN in the tools test) and the mask head
    # on a GhostNet
    'mask_rcnn_ghostnetv2_fpn_1x': ('yolov4_ghostnetv2_416', 'mask_rcnn_ghostnet_fpn_1x'),
    # MobileNetV2 is OD-MobileNetV2 with plain convs in place of ODConv
    'mask_rcnn_mobilenetv2_fpn_1x': ('mask_rcnn_odconv_mobilenetv2_fpn_1x',),
    # the demo YOLOv4 is YOLOv4-GhostNet with narrower necks and head, and other anchors
    'demo/yolov4_ghostnet_demo': ('yolov4_ghostnet_416',),
    # the timm families at other sizes: the same blocks, more of them and wider
    'mask_rcnn_repvit-m1_5_fpn_1x': ('mask_rcnn_repvit-m1_1_fpn_1x',),
    'mask_rcnn_repvit-m2_3_fpn_1x': ('mask_rcnn_repvit-m1_1_fpn_1x',),
    'mask_rcnn_fasternet-m_fpn_1x': ('mask_rcnn_fasternet-s_fpn_1x',),
    'mask_rcnn_fasternet-l_fpn_1x': ('mask_rcnn_fasternet-s_fpn_1x',),
    'mask_rcnn_fastvit-sa24_fpn_1x': ('mask_rcnn_fastvit-sa12_fpn_1x',),
    # YOLOv4 on MobileNetV4 / StarNet: their RTMDet-tiny (the backbone's graph) and
    # YOLOv4-GhostNet (the neck and head)
    'yolov4_mobilenetv4-conv-small_416': (
        'rtmdet_tiny_mobilenetv4-conv-small',
        'yolov4_ghostnet_416',
    ),
    'yolov4_starnet-s1_416': ('rtmdet_tiny_starnet-s1', 'yolov4_ghostnet_416'),
    'demo/yolov4_mobilenetv4-conv-small_demo': (
        'rtmdet_tiny_mobilenetv4-conv-small',
        'yolov4_ghostnet_416',
    ),
}
# A Faster R-CNN config whose Mask R-CNN sibling is the same detector plus a mask head
# (tests/test_configs_and_tools.py checks it) exports as a part of that sibling's graph: it is
# checked through the sibling, unless a set above names it
PARITY = [
    c
    for c in CONFIGS
    if c != TOOLS_TEST_CONFIG
    and c not in COVERED_BY
    and not (
        c.startswith('faster_rcnn_')
        and c.replace('faster_rcnn_', 'mask_rcnn_') in CONFIGS
        and c not in OPENVINO
    )
]
# mmdet's other detector types run with fixed sizes where no config here covers the head with
# a fixed graph (RetinaNet, RTMDet-tiny and Cascade R-CNN have configs of their own), and with
# dynamic sizes, in onnxruntime and OpenVINO, except RetinaNet: its head is ATSS's without
# the centerness, its fixed graph is retinanet_ghostnet_fpn_1x's (both runtimes), and ATSS's
# dynamic graph runs the same anchor generation and top-k at symbolic sizes
FIXED_MMDET_DETECTORS = ('atss', 'fcos', 'yolox_tiny')
DYNAMIC_MMDET_DETECTORS = tuple(name for name in sorted(MMDET_DETECTORS) if name != 'retinanet')


def test_every_config_left_out_is_covered_by_configs_that_are_checked():
    for name, covering in COVERED_BY.items():
        assert name in CONFIGS, name
        assert all(c in PARITY or c == TOOLS_TEST_CONFIG for c in covering), (name, covering)
    assert {'retinanet_ghostnet_fpn_1x', 'rtmdet_tiny_ghostnet'} <= set(PARITY)
    assert {'retinanet_ghostnet_fpn_1x', 'atss'} <= OPENVINO | set(DYNAMIC_MMDET_DETECTORS)
    assert 'cascade_mask_rcnn_hornet-t_fpn_3x' in set(PARITY) - DYNAMIC
    # GhostNet's and HorNet-T's fixed Faster R-CNN graphs run in OpenVINO inside their Mask
    # R-CNN siblings' graphs
    for name in ('mask_rcnn_ghostnet_fpn_1x', 'mask_rcnn_hornet-t_fpn_1x'):
        assert name in set(PARITY) & OPENVINO - DYNAMIC, name


@pytest.mark.parametrize('name', PARITY)
def test_onnxruntime_gives_mmdets_detections(name, demo_root, tmp_path):
    dynamic = name in DYNAMIC
    detector = tiny_detector(name, demo_root)
    two_stage = 'rcnn' in name
    onnx_file = export_onnx(
        detector,
        str(tmp_path / 'detector.onnx'),
        SIZES[0],
        dynamic=dynamic,
        with_proposals=two_stage,
    )
    session = load_runner('onnxruntime', onnx_file)
    assert session.output_names == (
        ('dets', 'labels') + ('masks',) * ('mask_rcnn' in name) + ('proposals',) * two_stage
    )
    images = demo_images(demo_root)
    for image in images if dynamic else images[:1]:
        assert_same_as_mmdet(detector, image, session(image[None].float()))
    runners = [session]
    if name in OPENVINO:
        xml_file = convert_to_openvino(onnx_file, str(tmp_path / 'detector.xml'))
        openvino = load_runner('openvino', xml_file, 'fp32')
        assert openvino.precision_used == 'f32'
        for image in images if dynamic else images[:1]:
            assert_same_as_mmdet(detector, image, openvino(image[None].float()), 'OpenVINO')
        runners.append(openvino)
    for runner in runners:
        if not dynamic:
            with pytest.raises(ValueError, match=r'exported for height 128 \(no --dynamic\)'):
                runner(images[1][None].float())
        with pytest.raises(ValueError, match=r'expected one image as float32 \[1, 3, H, W\]'):
            runner(images[0].float())


@pytest.mark.parametrize(
    ('name', 'dynamic'),
    [(name, True) for name in DYNAMIC_MMDET_DETECTORS]
    + [(name, False) for name in FIXED_MMDET_DETECTORS],
    ids=lambda value: {True: 'dynamic', False: 'fixed'}.get(value, value),
)
def test_onnxruntime_gives_mmdets_detections_for_mmdets_other_detector_types(
    name, dynamic, demo_root, tmp_path
):
    detector = tiny_detector_from_cfg(mmdet_detector_cfg(name), demo_root)
    assert detector_kind(detector).name == KINDS.get(name, 'dense')
    onnx_file = export_onnx(
        detector,
        str(tmp_path / 'detector.onnx'),
        SIZES[0],
        dynamic=dynamic,
        with_proposals=name == 'cascade_rcnn',
    )
    images = demo_images(demo_root)
    runners = [('onnxruntime', load_runner('onnxruntime', onnx_file))]
    if dynamic:
        xml_file = convert_to_openvino(onnx_file, str(tmp_path / 'detector.xml'))
        runners.append(('OpenVINO', load_runner('openvino', xml_file, 'fp32')))
    for runtime, runner in runners:
        for image in images if dynamic else images[:1]:
            assert_same_as_mmdet(detector, image, runner(image[None].float()), runtime)


@pytest.mark.quick
@pytest.mark.parametrize('size', [(14, 8), (13, 9), (7, 7), (25, 42)])
def test_global_filter_as_matmul_equals_the_ffts(size):
    torch.manual_seed(0)
    height, width = size
    x = torch.randn(2, 6, height, width)
    weight = torch.randn(6, height, width // 2 + 1, 2)
    expected = torch.fft.irfft2(
        torch.fft.rfft2(x, norm='ortho') * torch.view_as_complex(weight), s=size, norm='ortho'
    )
    torch.testing.assert_close(global_filter_as_matmul(x, weight), expected, atol=1e-4, rtol=0)
    # the layer, with its weight made for 14 x 8 and resized to other spectra
    layer = GlobalLocalFilter(12, h=14, w=8).eval()
    inputs = torch.randn(1, 12, height, width)
    with torch.no_grad():
        ffts = layer(inputs)
        layer.dft_as_matmul = True
        matmuls = layer(inputs)
    torch.testing.assert_close(matmuls, ffts, atol=1e-4, rtol=0)


@pytest.mark.quick
def test_deployable_detector_leaves_the_given_detector_as_it_was():
    """Wrapping works on a copy: the caller's detector keeps its mode, its FFT global filters
    and its weights; the copy is in eval mode with the matrix-product DFT."""
    detector = init_detector(osp.join(ROOT, 'configs', 'mask_rcnn_hornet-t-gf_fpn_1x.py'))
    detector.train()
    before = {key: value.clone() for key, value in detector.state_dict().items()}
    deployable = DeployableDetector(detector)
    filters = [m for m in detector.modules() if isinstance(m, GlobalLocalFilter)]
    copies = [m for m in deployable.detector.modules() if isinstance(m, GlobalLocalFilter)]
    assert filters
    assert len(copies) == len(filters)
    assert detector.training
    assert all(m.training for m in detector.modules())
    assert not any(m.dft_as_matmul for m in filters)
    assert all(m.dft_as_matmul for m in copies)
    assert not any(m.training for m in deployable.detector.modules())
    after = detector.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert deployable.detector.backbone is not detector.backbone


@pytest.mark.quick
def test_activations_compute_out_of_place_only_while_the_graph_is_traced():
    """export_onnx traces with torch's in-place activations switched out of place (the same
    graph, without the slow decomposition of in-place ReLU6) and switches them back, also
    after an error; other modules' ``inplace`` flags are theirs (mmcv's ConvModule keeps it
    for building its activation)."""
    from mmcv.cnn import ConvModule

    from mmlight.deployment.export import out_of_place_activations

    model = torch.nn.Sequential(
        ConvModule(3, 4, 3, act_cfg=dict(type='ReLU6')),
        torch.nn.ReLU(inplace=True),
        torch.nn.Hardswish(inplace=False),
    )
    activations = [model[0].activate, model[1]]
    with out_of_place_activations(model) as switched:
        assert switched == activations
        assert not any(m.inplace for m in activations)
        assert model[0].inplace
        assert not model[2].inplace
    assert all(m.inplace for m in activations)
    assert not model[2].inplace
    with pytest.raises(RuntimeError, match='trace failed'), out_of_place_activations(model):
        raise RuntimeError('trace failed')
    assert all(m.inplace for m in activations)
