"""What the deployment tests share: small detectors of every config with BN statistics from
demo images and open score priors (an untrained detector that detects something to compare),
the demo images they run on, and mmdet's configs of other detector types on mmlight
backbones."""

import copy
import os
import os.path as osp

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmlight.apis import init_detector, load_detector_config
from mmlight.demo_data import CLASSES
from mmlight.deployment import DeployableDetector, detector_kind
from mmlight.utils.safe_load import safe_checkpoint_loading
from tests.helpers import ROOT, cap_two_stage_test_cfg, dicts_in, run_tool

SIZES = ((128, 160), (160, 128))


def drop_repeated_blocks(backbone, keep=1):
    """Remove the shape-preserving blocks of each stage beyond the first ``keep``, in every
    sequence of blocks of the stage: its own, nested ones (MobileNetV4's and StarNet's timm
    stages) and a timm stage's ``blocks`` after its downsampling (RepViT, FasterNet, FastViT)."""
    x = torch.rand(1, 3, *SIZES[0])
    with torch.no_grad():
        x = backbone.stem(x)
        for stage in backbone.stages:
            x = (
                _drop_in_sequence(stage, x, keep)
                if isinstance(stage, torch.nn.Sequential)
                else stage(x)
            )


def _drop_in_sequence(sequence, x, keep):
    """``sequence``'s output for ``x``, its shape-preserving blocks beyond ``keep`` removed."""
    kept = 0
    for name in list(sequence._modules):
        module = sequence._modules[name]
        if isinstance(module, torch.nn.Sequential):
            y = _drop_in_sequence(module, x, keep)
        elif isinstance(getattr(module, 'blocks', None), torch.nn.Sequential):
            inputs = {}
            hook = module.blocks.register_forward_pre_hook(
                lambda _m, args, inputs=inputs: inputs.setdefault('x', args[0])
            )
            module(x)
            hook.remove()
            _drop_in_sequence(module.blocks, inputs['x'], keep)
            y = module(x)
        else:
            y = module(x)
        if y.shape == x.shape:
            if kept >= keep:
                del sequence._modules[name]
                continue
            kept += 1
        x = y
    return x


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
    for bias in detector_kind(detector).score_biases(detector):
        bias.zero_()


def demo_images(demo_root):
    """Two demo validation images at SIZES, with seeded noise: flat synthetic areas would give
    exactly equal scores, whose order no two implementations need to agree on."""
    generator = torch.Generator().manual_seed(0)
    images = []
    for index, (height, width) in enumerate(SIZES):
        image = mmcv.imresize(
            mmcv.imread(osp.join(demo_root, 'val', f'{index + 1:06d}.png')), (width, height)
        )
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
    """The detector of ``cfg`` as :func:`tiny_detector` makes it, with a two-stage detector's
    proposals and detections per image capped (:func:`tests.helpers.cap_two_stage_test_cfg`):
    RoI heads over 700 proposals, in mmdet and in the exported graph, would be most of a
    two-stage parity test's time and run no code that 32 proposals do not."""
    cfg = copy.deepcopy(cfg)
    cap_two_stage_test_cfg(cfg.model)
    torch.manual_seed(0)
    detector = init_detector(cfg)
    detector.init_weights()
    if drop_blocks:
        drop_repeated_blocks(detector.backbone)
    images = demo_images(demo_root)
    calibrate_norms(detector, images)
    open_score_priors(detector)
    return detector


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
    'ghostnet_4_levels': (
        dict(type='GhostNet', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        [24, 40, 112, 160],
    ),
    'shufflenetv2': (
        dict(type='ShuffleNetV2', widen_factor=1.0, out_indices=(1, 2, 3)),
        [116, 232, 464],
    ),
}
KINDS = dict(yolox_tiny='yolox', cascade_rcnn='cascade')


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


def as_outputs(pred_instances):
    """A dumped prediction as a runner's outputs."""
    dets = np.concatenate(
        [pred_instances['bboxes'].numpy(), pred_instances['scores'].numpy()[:, None]], axis=1
    )
    return dict(dets=dets, labels=pred_instances['labels'].numpy())


# The demo config trained on 64 demo images and evaluated on the same images: it learns them
# in a minute or two, which gives an AP that the precisions can lose (how well it generalizes
# does not matter here), over enough objects (about 260) that the many small score changes of
# bf16 and int8 average out. Their AP difference to fp32 is noise around zero, and it shrinks
# with the number of objects: on 32 images it reached 0.032 on an AMD EPYC with AVX512-BF16
# (int8 above fp32 in two runs of three, below in one); on 64 it was 0.002 (bf16) and 0.003
# (int8), with fp32 at 0.587. The images are generated at 96x96 and trained and evaluated at
# 128x128, not the demo config's 192x192, which trains 1.8x as long.
TRAINED_IMAGES = 64
TRAINED_EPOCHS = 40
TRAINED_SIZE = (128, 128)


def export_openvino(config, checkpoint, xml_file, *options):
    """``export_onnx.py CONFIG CHECKPOINT --backend openvino --out XML_FILE [OPTIONS]`` as a user
    runs it; its completed process, after checking that it succeeded."""
    proc = run_tool(
        [
            'tools/deployment/export_onnx.py',
            config,
            checkpoint,
            '--backend',
            'openvino',
            '--out',
            str(xml_file),
            *options,
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def trained_demo_checkpoint(work_dir):
    """The demo Faster R-CNN trained from scratch (seeded) on TRAINED_IMAGES demo images, its
    config pointed at them for training, validation and test, and the checkpoint; trained once
    per test run (the first worker to ask trains it, the others wait and reuse it)."""
    import filelock

    done = osp.join(work_dir, f'epoch_{TRAINED_EPOCHS}.pth')
    config = osp.join(work_dir, 'trained_demo.py')
    demo_root = osp.join(work_dir, 'data') + '/'
    os.makedirs(work_dir, exist_ok=True)
    with filelock.FileLock(osp.join(work_dir, 'train.lock')):
        if not osp.isfile(done):
            _train_demo(work_dir)
    return config, done, demo_root


def _train_demo(work_dir):
    from mmlight.demo_data import generate

    demo_root = osp.join(work_dir, 'data') + '/'
    generate(demo_root, num_train=TRAINED_IMAGES, num_val=1, size=96, seed=1)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py'))
    for split, loader in (
        ('train', 'train_dataloader'),
        ('train', 'val_dataloader'),
        ('train', 'test_dataloader'),
    ):
        cfg[loader].dataset.update(
            data_root=demo_root,
            ann_file=f'annotations/instances_{split}.json',
            data_prefix=dict(img=f'{split}/'),
        )
        cfg[loader].update(num_workers=0, persistent_workers=False)
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = osp.join(demo_root, 'annotations', 'instances_train.json')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step['type'] == 'Resize':
                step['scale'] = TRAINED_SIZE
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
