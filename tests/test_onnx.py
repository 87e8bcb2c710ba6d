"""Whole detectors through torch's ONNX exporter into onnxruntime and OpenVINO: the same
detections as mmdet's own ``predict`` (up to the near-ties mmlight.deployment.compare accepts)
for every detector config in onnxruntime (one per backbone family exported with dynamic sizes
and run at two sizes), for mmdet's RetinaNet, FCOS, ATSS, RTMDet-tiny, YOLOX-tiny and Cascade
R-CNN with an mmlight backbone (fixed and dynamic), and for one config per family and detector
type in OpenVINO FP32; two-stage detectors stage by stage; the ONNX test-set AP and
detections equal mmdet's test loop's; OpenVINO BF16 and INT8 keep a trained detector's AP, and
INT8 runs quantized; the matrix-product global filter equals the FFTs; clear errors for bad
input.
"""
import contextlib
import os.path as osp
import pickle

import mmcv
import numpy as np
import pytest
import torch
from mmdet.models.dense_heads import base_dense_head
from mmdet.models.roi_heads.mask_heads import fcn_mask_head
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import mmlight  # noqa: F401
from mmlight.analysis.inference import image_sample
from mmlight.apis import config_names, init_detector, load_detector_config
from mmlight.demo_data import CLASSES
from mmlight.deployment import DeployableDetector, detector_layout
from mmlight.deployment.compare import Cuts, Detections, match_detections, rank_cut_scores
from mmlight.deployment.onnx import OnnxDetector, export_onnx
from mmlight.deployment.openvino import OpenVINODetector, convert_to_openvino
from mmlight.deployment.runner import load_runner
from mmlight.models.layers import GlobalLocalFilter
from mmlight.models.layers.gnconv import global_filter_as_matmul
from mmlight.utils.safe_load import safe_checkpoint_loading
from tests.helpers import ROOT, dicts_in, run_tool

SIZES = ((128, 160), (160, 128))
# Every detector config of configs/ (the demo ones included), each as it is with one exception:
# the export does not depend on how often a shape-preserving block repeats, and it costs time
# per operator, so every backbone keeps one such block per stage (with all the blocks that
# change the shape). Faster R-CNN on GhostNetV2 is the model of the tools test below, whole.
# One config per backbone family, the three detector types among them, is exported with
# dynamic height and width and checked at both SIZES (a dynamic export takes 2-3x as long);
# the others are exported for the first size and checked there.
CONFIGS = config_names(recursive=True)
TOOLS_TEST_CONFIG = 'faster_rcnn_ghostnetv2_fpn_1x'
DYNAMIC = {'yolov4_ghostnet_416', 'faster_rcnn_odconv_r50_fpn_1x',
           'mask_rcnn_shufflenetv2_fpn_1x', 'mask_rcnn_hornet-t-gf_fpn_1x'}
# The same graphs in OpenVINO FP32: every family and detector type with a dynamic graph
# (above), and with a fixed one
OPENVINO = DYNAMIC | {'faster_rcnn_ghostnet_fpn_1x', 'mask_rcnn_odconv_mobilenetv2_fpn_1x',
                      'faster_rcnn_hornet-t_fpn_1x', 'yolov4_shufflenetv2_416',
                      'retinanet_ghostnet_fpn_1x', 'rtmdet_tiny_ghostnet',
                      'cascade_mask_rcnn_hornet-t_fpn_3x'}
# A Faster R-CNN config whose Mask R-CNN sibling is the same detector plus a mask head
# (tests/test_configs_and_tools.py checks it) exports as a part of that sibling's graph: it is
# checked through the sibling, unless a set above names it
PARITY = [c for c in CONFIGS if c != TOOLS_TEST_CONFIG and not (
    c.startswith('faster_rcnn_') and c.replace('faster_rcnn_', 'mask_rcnn_') in CONFIGS
    and c not in OPENVINO)]


def drop_repeated_blocks(backbone, keep=1):
    """Remove the shape-preserving blocks of each stage beyond the first ``keep``."""
    x = torch.rand(1, 3, *SIZES[0])
    with torch.no_grad():
        x = backbone.stem(x)
        for stage in backbone.stages:
            if not isinstance(stage, torch.nn.Sequential):
                x = stage(x)
                continue
            kept = 0
            for name in list(stage._modules):
                y = stage._modules[name](x)
                if y.shape == x.shape:
                    if kept >= keep:
                        del stage._modules[name]
                        continue
                    kept += 1
                x = y


VARIANCE_FLOOR = 0.1


def calibrate_norms(detector, images):
    """BatchNorm running statistics from these images (cumulative average): without
    ImageNet weights, eval-mode BN with its initial statistics lets the signal fade in deep
    backbones, and every image would score alike."""
    deployable = DeployableDetector(detector)
    norms = [m for m in detector.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with torch.no_grad():
        for image in images:
            feats = detector.extract_feat(deployable.preprocess(image[None].float()))
            if hasattr(detector, 'bbox_head'):  # single-stage heads may have BN layers
                detector.bbox_head(feats)
    for norm in norms:
        norm.eval()
        # a channel with a large mean and a tiny variance on these few images (after an init
        # made for ImageNet weights to replace) would amplify float rounding ~100x per layer:
        # every 1e-5 difference between two runtimes would move a box
        norm.running_var.clamp_(min=VARIANCE_FLOOR)


def open_score_priors(detector):
    """Zero the prior bias of the single-stage heads' score layers: their init (mmdet's
    ``bias_init_with_prob(0.01)``, YOLO's objectness and class priors) puts every score under
    the 0.05 score threshold, and an untrained detector would detect nothing to compare. The
    scores then sit near 0.5, many within float rounding of each other at every cut: the
    comparison accepts the flips those near-ties explain, and only those."""
    layout = detector_layout(detector)
    if layout == 'yolo':
        head = detector.bbox_head
        for conv in head.convs_pred:
            conv.bias.data.view(-1, head.num_attrib)[:, 4:] = 0
    elif layout in ('dense', 'yolox'):
        for name in DENSE_SCORE_LAYERS:
            for conv in _convs(getattr(detector.bbox_head, name, None)):
                conv.bias.data.zero_()


# the score layers of the dense heads (RetinaNet, FCOS, ATSS, RTMDet, YOLOX)
DENSE_SCORE_LAYERS = ('retina_cls', 'conv_cls', 'atss_cls', 'rtm_cls', 'multi_level_conv_cls',
                      'multi_level_conv_obj')


def _convs(module):
    if module is None:
        return []
    return list(module) if isinstance(module, torch.nn.ModuleList) else [module]


def demo_images(demo_root):
    """Two demo validation images at SIZES, with seeded noise: flat synthetic areas would give
    exactly equal scores, whose order no two implementations need to agree on."""
    generator = torch.Generator().manual_seed(0)
    images = []
    for index, (height, width) in enumerate(SIZES):
        image = mmcv.imresize(mmcv.imread(osp.join(demo_root, 'val', f'{index + 1:06d}.png')),
                              (width, height))
        image = torch.from_numpy(image).permute(2, 0, 1).int()
        noise = torch.randint(-24, 25, image.shape, generator=generator)
        images.append((image + noise).clamp(0, 255).to(torch.uint8))
    return images


def tiny_detector(name, demo_root):
    """The config's detector for the 3 demo classes, repeated blocks dropped, with its BN
    statistics from demo images (no training: a few iterations from scratch leave every score
    within 1e-4 of the others, and take longer than this)."""
    cfg = load_detector_config(osp.join(ROOT, 'configs', name + '.py'))
    for node in dicts_in(cfg.model):
        if 'num_classes' in node:
            node['num_classes'] = len(CLASSES)
    return tiny_detector_from_cfg(cfg, demo_root)


def tiny_detector_from_cfg(cfg, demo_root, drop_blocks=True):
    torch.manual_seed(0)
    detector = init_detector(cfg)
    detector.init_weights()
    if drop_blocks:
        drop_repeated_blocks(detector.backbone)
    images = demo_images(demo_root)
    calibrate_norms(detector, images)
    open_score_priors(detector)
    return detector


@contextlib.contextmanager
def pasted_mask_probabilities():
    """Collect the probabilities mmdet's FCNMaskHead pastes into the image before it
    thresholds them (its ``_do_paste_mask``, called chunk by chunk in detection order)."""
    chunks = []

    def paste(masks, boxes, img_h, img_w, skip_empty=True):
        pasted, spatial = original(masks, boxes, img_h, img_w, skip_empty=skip_empty)
        chunks.append((pasted.clone(), spatial, img_h, img_w))
        return pasted, spatial

    original = fcn_mask_head._do_paste_mask
    fcn_mask_head._do_paste_mask = paste
    try:
        yield chunks
    finally:
        fcn_mask_head._do_paste_mask = original


def _probabilities(chunks):
    """[N, H, W] from the pasted chunks (each [n, h, w] at its place in the image)."""
    if not chunks:
        return None
    probs = []
    for pasted, spatial, img_h, img_w in chunks:
        full = torch.zeros(pasted.shape[0], int(img_h), int(img_w))
        full[(slice(None), ) + tuple(spatial)] = pasted
        probs.append(full)
    return torch.cat(probs)


@contextlib.contextmanager
def dense_rank_cuts():
    """Collect where the nms_pre top-k of mmdet's dense heads (BaseDenseHead's
    ``filter_scores_and_topk``, once per level) cut: the score of the last place kept where a
    level had more candidates over the score threshold."""
    cuts = []

    def filter_and_topk(scores, score_thr, topk, results=None):
        cuts.extend(rank_cut_scores([scores[scores > score_thr].numpy()], topk))
        return original(scores, score_thr, topk, results)

    original = base_dense_head.filter_scores_and_topk
    base_dense_head.filter_scores_and_topk = filter_and_topk
    try:
        yield cuts
    finally:
        base_dense_head.filter_scores_and_topk = original


def assert_same_as_mmdet(detector, image, outputs, runtime='onnxruntime'):
    """The runtime's ``outputs`` for ``image`` are mmdet's (mmlight.deployment.compare: same
    label, box within 1e-2 px, score within 1e-4; mask pixels agree unless mmdet's probability
    lies within 1e-4 of the mask threshold), up to the near-ties at the test_cfg's cuts that
    explain a difference. A two-stage detector stage by stage: its proposals against mmdet's
    RPN, then its detections against mmdet's RoI head run on the runtime's own proposals. At
    least one detection."""
    cfg, rank_scores = detector.test_cfg, []
    sample = image_sample(*image.shape[-2:])
    with torch.no_grad(), pasted_mask_probabilities() as chunks, dense_rank_cuts() as cuts:
        data = detector.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        if 'proposals' not in outputs:
            expected = detector.predict(data['inputs'], data['data_samples'],
                                        rescale=True)[0].pred_instances
            # a head with score factors (FCOS's and ATSS's centerness: a third output)
            # multiplies them in after the cut: its detections' scores are not the scores the
            # cut compared
            if len(detector.bbox_head(detector.extract_feat(data['inputs']))) == 2:
                rank_scores = cuts
        else:
            feats = detector.extract_feat(data['inputs'])
            samples = data['data_samples']
            rpn_head = detector.rpn_head
            proposals = rpn_head.predict(feats, samples, rescale=False)[0]
            levels = [score[0].sigmoid().numpy() for score in rpn_head(feats)[0]]
            cuts = Cuts.from_test_cfg(cfg, 'rpn', rank_cut_scores(levels, cfg.rpn.nms_pre))
            match = match_detections(Detections.from_instances(proposals),
                                     Detections.from_proposals(outputs['proposals']), cuts,
                                     names=('mmdet RPN', f'{runtime} RPN'))
            assert match.ok, 'proposals: ' + match.report()
            chunks.clear()
            theirs = InstanceData(bboxes=torch.from_numpy(outputs['proposals'][:, :4]))
            expected = detector.roi_head.predict(feats, [theirs], samples, rescale=True)[0]
    assert_same_detections(Detections.from_instances(expected, _probabilities(chunks)), outputs,
                           cfg, runtime, rank_scores)


def assert_same_detections(reference, got, cfg, runtime='onnxruntime', rank_scores=()):
    """Every detection of mmdet's ``reference`` (Detections) has a twin in the runtime's
    ``got`` and back (mmlight.deployment.compare), except where a near-tie at one of the
    test_cfg ``cfg``'s cuts explains the difference; at least one detection."""
    assert len(reference) > 0
    match = match_detections(reference, Detections.from_outputs(got),
                             Cuts.from_test_cfg(cfg, rank_scores=rank_scores),
                             names=('mmdet', runtime))
    assert match.ok, match.report()


@pytest.mark.parametrize('name', PARITY)
def test_onnxruntime_gives_mmdets_detections(name, demo_root, tmp_path):
    dynamic = name in DYNAMIC
    detector = tiny_detector(name, demo_root)
    two_stage = 'rcnn' in name
    onnx_file = export_onnx(detector, str(tmp_path / 'detector.onnx'), SIZES[0], dynamic=dynamic,
                            with_proposals=two_stage)
    session = OnnxDetector(onnx_file)
    assert session.output_names == (('dets', 'labels') + ('masks', ) * ('mask_rcnn' in name)
                                    + ('proposals', ) * two_stage)
    images = demo_images(demo_root)
    for image in images if dynamic else images[:1]:
        assert_same_as_mmdet(detector, image, session(image[None].float()))
    runners = [session]
    if name in OPENVINO:
        xml_file = convert_to_openvino(onnx_file, str(tmp_path / 'detector.xml'))
        openvino = OpenVINODetector(xml_file, precision='fp32')
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


# mmdet's own configs of every detector type beyond Faster/Mask R-CNN and YOLOv4, with an
# mmlight backbone in place of theirs (GhostNet under the FPN detectors, ShuffleNetV2 under the
# PAFPN necks of RTMDet and YOLOX), as a user swaps one in; each exported with a fixed size and
# with dynamic sizes, and the dynamic graph checked in OpenVINO FP32 too. (CONFIGS has
# RetinaNet and RTMDet-tiny on GhostNet as well, and Cascade Mask R-CNN with HorNet's
# class-specific stage heads: here Cascade R-CNN has mmdet's class-agnostic ones.)
MMDET_DETECTORS = {
    'retinanet': ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'ghostnet'),
    'fcos': ('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', 'ghostnet'),
    'atss': ('mmdet::atss/atss_r50_fpn_1x_coco.py', 'ghostnet'),
    'rtmdet_tiny': ('mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py', 'shufflenetv2'),
    'yolox_tiny': ('mmdet::yolox/yolox_tiny_8xb8-300e_coco.py', 'shufflenetv2'),
    'cascade_rcnn': ('mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', 'ghostnet_4_levels'),
}
SWAPPED_BACKBONES = {
    'ghostnet': (dict(type='GhostNet', widen_factor=1.0, out_indices=(1, 2, 3)), [40, 112, 160]),
    'ghostnet_4_levels': (dict(type='GhostNet', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
                          [24, 40, 112, 160]),
    'shufflenetv2': (dict(type='ShuffleNetV2', widen_factor=1.0, out_indices=(1, 2, 3)),
                     [116, 232, 464]),
}
LAYOUTS = dict(yolox_tiny='yolox', cascade_rcnn='cascade')


def mmdet_detector_cfg(name):
    """mmdet's config ``name`` for the 3 demo classes on an mmlight backbone (its levels at
    strides 8, 16, 32 where these necks start; from stride 4 for Cascade R-CNN's FPN)."""
    path, backbone = MMDET_DETECTORS[name]
    cfg = load_detector_config(path)
    backbone_cfg, channels = SWAPPED_BACKBONES[backbone]
    cfg.model.backbone = dict(backbone_cfg, init_cfg=None)
    cfg.model.neck.in_channels = channels
    if 'start_level' in cfg.model.neck:
        cfg.model.neck.start_level = 0
    for node in dicts_in(cfg.model):
        if 'num_classes' in node:
            node['num_classes'] = len(CLASSES)
    return cfg


@pytest.mark.parametrize('dynamic', [False, True], ids=['fixed', 'dynamic'])
@pytest.mark.parametrize('name', sorted(MMDET_DETECTORS))
def test_onnxruntime_gives_mmdets_detections_for_mmdets_other_detector_types(
        name, dynamic, demo_root, tmp_path):
    detector = tiny_detector_from_cfg(mmdet_detector_cfg(name), demo_root)
    assert detector_layout(detector) == LAYOUTS.get(name, 'dense')
    onnx_file = export_onnx(detector, str(tmp_path / 'detector.onnx'), SIZES[0], dynamic=dynamic,
                            with_proposals=name == 'cascade_rcnn')
    images = demo_images(demo_root)
    runners = [('onnxruntime', OnnxDetector(onnx_file))]
    if dynamic:
        xml_file = convert_to_openvino(onnx_file, str(tmp_path / 'detector.xml'))
        runners.append(('OpenVINO', OpenVINODetector(xml_file, precision='fp32')))
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
    expected = torch.fft.irfft2(torch.fft.rfft2(x, norm='ortho') * torch.view_as_complex(weight),
                                s=size, norm='ortho')
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
    assert filters and len(copies) == len(filters)
    assert detector.training and all(m.training for m in detector.modules())
    assert not any(m.dft_as_matmul for m in filters)
    assert all(m.dft_as_matmul for m in copies)
    assert not any(m.training for m in deployable.detector.modules())
    after = detector.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert deployable.detector.backbone is not detector.backbone


@pytest.mark.quick
def test_a_config_without_a_detector_is_refused(tmp_path):
    path = tmp_path / 'not_a_detector.py'
    path.write_text("model = dict(type='ImageClassifier', head=dict(type='LinearClsHead'))\n")
    with pytest.raises(ValueError, match=r"expected a detector config .*found model "
                                         r"\['head', 'type'\]"):
        load_detector_config(str(path))


@pytest.mark.quick
def test_an_unsupported_head_is_refused_by_name_with_the_supported_list():
    """A dense head with post-processing of its own (RTMDet-Ins: masks from dynamic kernels)
    is refused before export, naming what it overrides and what the export supports."""
    cfg = load_detector_config('mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py')
    cfg.model.backbone.init_cfg = None
    with pytest.raises(ValueError, match=r'does not export RTMDetInsSepBNHead \(its own '
                                         r'predict_by_feat, _predict_by_feat_single\); '
                                         r'supported: two-stage: RPNHead '
                                         r'\+ StandardRoIHead .*YOLOXHead, and the dense heads'):
        DeployableDetector(init_detector(cfg))


@pytest.mark.quick
def test_a_checkpoint_for_another_config_is_refused(tmp_path):
    path = str(tmp_path / 'shufflenet.pth')
    other = init_detector(osp.join(ROOT, 'configs', 'yolov4_shufflenetv2_416.py'))
    torch.save(dict(state_dict=other.state_dict()), path)
    with pytest.raises(KeyError, match=r"checkpoint '.*shufflenet.pth' does not match .*"
                                       r"missing keys"):
        init_detector(osp.join(ROOT, 'configs', 'yolov4_ghostnet_416.py'), path)


@pytest.mark.quick
def test_an_image_of_the_wrong_rank_is_refused():
    detector = DeployableDetector(init_detector(osp.join(ROOT, 'configs',
                                                          'yolov4_ghostnet_416.py')))
    with pytest.raises(ValueError, match=r'expected one image as float \[1, 3, H, W\].*got '
                                         r'shape \(3, 64, 64\)'):
        detector(torch.zeros(3, 64, 64))


@pytest.mark.quick
def test_a_model_file_of_another_layout_is_refused_by_every_backend(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node('Identity', ['input'], ['output'])], 'other',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 3, 8, 8])])
    path = str(tmp_path / 'other.onnx')
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)]), path)
    for backend in ('onnxruntime', 'openvino'):
        with pytest.raises(ValueError, match=r"not an mmlight detector export: expected input "
                                             r"'image' .*got inputs \['input'\] and outputs "
                                             r"\['output'\]"):
            load_runner(backend, path)
    with pytest.raises(ValueError, match=r"unknown backend 'tensorrt'; valid choices: "
                                         r"\['onnxruntime', 'openvino'\]"):
        load_runner('tensorrt', path)
    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'bf16', 'int8'\], "
                                         r"got 'fp16'"):
        OpenVINODetector(path, precision='fp16')


@pytest.mark.quick
def test_runner_options_give_a_precision_only_to_a_backend_that_runs_several():
    """What the tools pass to load_runner: OpenVINO takes a precision (None: the IR's own),
    onnxruntime runs FP32 and refuses any other."""
    from mmlight.deployment.runner import runner_options
    assert runner_options('openvino', 'bf16', num_threads=2) == dict(precision='bf16',
                                                                     num_threads=2)
    assert runner_options('openvino') == dict(precision=None)
    assert runner_options('onnxruntime', num_threads=1) == dict(num_threads=1)
    assert runner_options('onnxruntime', 'fp32') == {}
    with pytest.raises(ValueError, match=r"the onnxruntime backend runs fp32, not precision "
                                         r"'int8'"):
        runner_options('onnxruntime', 'int8')
    with pytest.raises(ValueError, match=r"unknown backend 'tensorrt'"):
        runner_options('tensorrt')


def _as_outputs(pred_instances):
    """A dumped prediction in OnnxDetector's output layout."""
    dets = np.concatenate([pred_instances['bboxes'].numpy(),
                           pred_instances['scores'].numpy()[:, None]], axis=1)
    return dict(dets=dets, labels=pred_instances['labels'].numpy())


def test_tools_export_and_evaluate_like_tools_test(demo_root, tmp_path):
    """export_onnx.py + test_onnx.py against mmdet's test loop (tools/test.py's Runner.test)
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
    # here as an unexplained detection (the parity tests above compare stage by stage)
    detector = tiny_detector_from_cfg(cfg, demo_root, drop_blocks=False)
    checkpoint = str(tmp_path / 'detector.pth')
    torch.save(dict(state_dict=detector.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES))), checkpoint)
    onnx_file = str(tmp_path / 'detector.onnx')
    proc = run_tool(['tools/deployment/export_onnx.py', config, checkpoint, '--out', onnx_file])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '(128x128 only)' in proc.stdout
    onnx_out = str(tmp_path / 'onnx.pkl')
    proc = run_tool(['tools/deployment/test_onnx.py', config, onnx_file, '--out', onnx_out])
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
        assert ours['img_id'] == theirs['img_id'] and ours['ori_shape'] == (96, 96)
        expected = Detections.from_instances(InstanceData(**theirs['pred_instances']))
        assert_same_detections(expected, _as_outputs(ours['pred_instances']), cfg.model.test_cfg)


# The demo config trained on 32 demo images and evaluated on the same images: it learns them
# in a minute, which gives an AP that the precisions can lose (how well it generalizes does
# not matter here), over enough objects (about 130) that one detection more or less moves the
# AP by well under the tolerance; on 8 images single flips moved it by 0.025
TRAINED_IMAGES = 32
TRAINED_EPOCHS = 40
AP_FLOOR = 0.25
PRECISION_AP_TOLERANCE = 0.02


def trained_demo_checkpoint(work_dir):
    """The demo Faster R-CNN trained from scratch (seeded) on TRAINED_IMAGES demo images, its
    config pointed at them for training, validation and test, and the checkpoint."""
    from mmlight.demo_data import generate
    demo_root = osp.join(work_dir, 'data') + '/'
    generate(demo_root, num_train=TRAINED_IMAGES, num_val=1, size=96, seed=1)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py'))
    for split, loader in (('train', 'train_dataloader'), ('train', 'val_dataloader'),
                          ('train', 'test_dataloader')):
        cfg[loader].dataset.update(data_root=demo_root,
                                   ann_file=f'annotations/instances_{split}.json',
                                   data_prefix=dict(img=f'{split}/'))
        cfg[loader].update(num_workers=0, persistent_workers=False)
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = osp.join(demo_root, 'annotations', 'instances_train.json')
    cfg.train_cfg.max_epochs = TRAINED_EPOCHS
    cfg.train_cfg.val_begin = TRAINED_EPOCHS + 1
    cfg.param_scheduler[0].end = 10  # iterations of warm-up
    cfg.param_scheduler[1].update(end=TRAINED_EPOCHS, milestones=[TRAINED_EPOCHS - 4])
    cfg.default_hooks.checkpoint.interval = TRAINED_EPOCHS
    cfg.default_hooks.logger.interval = 50
    cfg.log_level = 'WARNING'
    cfg.work_dir = work_dir
    config = osp.join(work_dir, 'trained_demo.py')
    cfg.dump(config)
    with safe_checkpoint_loading():
        Runner.from_cfg(cfg).train()
    return config, osp.join(work_dir, f'epoch_{TRAINED_EPOCHS}.pth'), demo_root


def coco_ap(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if "'coco/bbox_mAP'" in ln][-1]
    return eval(line)['coco/bbox_mAP']


def test_openvino_precisions_keep_a_trained_detectors_ap_and_int8_runs_quantized(tmp_path):
    """export_onnx.py --backend openvino (fp32; int8 calibrated through the config's pipeline)
    and test_onnx.py --backend openvino: bf16 and int8 within 0.02 bbox mAP of fp32 on a
    trained detector; the int8 IR holds FakeQuantize nodes and its convolutions and matrix
    products run in 8 bits, bf16 runs in bf16 where the CPU has it."""
    import openvino as ov

    from mmlight.deployment.openvino import count_fake_quantize, cpu_capabilities, model_metadata
    config, checkpoint, images = trained_demo_checkpoint(str(tmp_path))
    fp32_xml, int8_xml = str(tmp_path / 'fp32' / 'det.xml'), str(tmp_path / 'int8' / 'det.xml')
    for precision, xml in (('fp32', fp32_xml), ('int8', int8_xml)):
        proc = run_tool(['tools/deployment/export_onnx.py', config, checkpoint, '--backend',
                         'openvino', '--precision', precision, '--calib-images', '16',
                         '--out', xml])
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'calibrated on 16 images' in proc.stdout
    aps, layers = {}, {}
    for precision, xml in (('fp32', fp32_xml), ('bf16', fp32_xml), ('int8', int8_xml)):
        proc = run_tool(['tools/deployment/test_onnx.py', config, xml, '--backend', 'openvino',
                         '--precision', precision])
        aps[precision] = coco_ap(proc)
        layers[precision] = proc.stdout
    print(f'bbox mAP by precision: {aps}')
    assert aps['fp32'] >= AP_FLOOR, aps
    assert abs(aps['bf16'] - aps['fp32']) <= PRECISION_AP_TOLERANCE, aps
    assert abs(aps['int8'] - aps['fp32']) <= PRECISION_AP_TOLERANCE, aps
    model = ov.Core().read_model(int8_xml)
    convolutions = sum(op.get_type_name() == 'Convolution' for op in model.get_ops())
    assert count_fake_quantize(model) >= convolutions > 0
    assert model_metadata(model, 'precision') == 'int8'
    assert model_metadata(model, 'calibration_images') == '16'
    assert model_metadata(model, 'calibration_split') == 'val_dataloader'
    int8 = OpenVINODetector(int8_xml)
    assert int8.precision == 'int8' and int8.precision_used == 'f32'
    with pytest.raises(ValueError, match='is quantized: it runs as int8, not bf16'):
        OpenVINODetector(int8_xml, precision='bf16')
    with pytest.raises(ValueError, match='int8 needs a quantized IR'):
        OpenVINODetector(fp32_xml, precision='int8')
    counts = int8.compute_precisions()
    assert counts.get('u8', 0) + counts.get('i8', 0) >= 0.9 * sum(counts.values()), counts
    bf16 = OpenVINODetector(fp32_xml, precision='bf16').compute_precisions()
    expected = 'bf16' if 'BF16' in cpu_capabilities() else 'f32'
    assert set(bf16) == {expected}, bf16
    assert 'inference precision f32' in layers['fp32']
    # the image demo on the deployed model draws what the runner finds
    image = osp.join(images, 'train', '000001.png')
    proc = run_tool(['tools/analysis/image_demo.py', config, int8_xml, image, '--backend',
                     'openvino', '--out-dir', str(tmp_path / 'demo'), '--score-thr', '0.3'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'{image}: ' in proc.stdout
    assert mmcv.imread(str(tmp_path / 'demo' / 'vis' / '000001.png')) is not None
