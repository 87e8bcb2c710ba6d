# The README demo: GhostNet Faster R-CNN + FPN trained from scratch on the synthetic set that
# tools/misc/make_demo_data.py writes to data/demo/ (3 classes, 192x192), on CPU.
_base_ = ['../faster_rcnn_ghostnet_fpn_1x.py']

data_root = 'data/demo/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 128, 255), (0, 200, 0)])
image_size = (192, 192)

model = dict(
    # no ImageNet weights for a synthetic task: BN trains, nothing frozen
    backbone=dict(frozen_stages=-1, norm_eval=False, init_cfg=None),
    # 32 channels through FPN, RPN and the RoI features instead of mmdet's 256: their 3x3
    # convolutions over the stride-4 level are the largest cost of a CPU training step, and
    # three classes of shapes need few channels
    neck=dict(out_channels=32),
    rpn_head=dict(
        in_channels=32,
        feat_channels=32,
        # one anchor per position (square, 16 px at stride 4 up to 256 px): the shapes' boxes
        # are about square, and a third of the anchors to label and score
        anchor_generator=dict(scales=[4], ratios=[1.0]),
    ),
    roi_head=dict(
        # CPU speed, three changes marked (1)-(3): with mmdet's settings mmcv's CPU RoIAlign
        # (forward + backward) takes most of a training step and RPN NMS much of the rest.
        # (1) torchvision's roi_align computes the same aligned RoIAlign faster on CPU; 1
        # sample per bin instead of the adaptive count.
        bbox_roi_extractor=dict(
            out_channels=32, roi_layer=dict(sampling_ratio=1, use_torchvision=True)
        ),
        bbox_head=dict(in_channels=32, fc_out_channels=256, num_classes=len(classes)),
    ),
    train_cfg=dict(
        # at most ~10 objects per image: (2) 100 boxes per level before NMS (mmdet: 2000)
        # and (3) 32 sampled RoIs per image (mmdet: 512)
        rpn_proposal=dict(nms_pre=100, max_per_img=100),
        rcnn=dict(sampler=dict(num=32)),
    ),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
    ),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 16
# val_begin after the last epoch: no validation inside training, because tools/run_demo.sh
# evaluates with tools/test.py right after and the time budget has no room for both
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs, val_begin=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[13, 15], gamma=0.1
    ),
]
# From scratch on 400 images AdamW converges far faster than the 1x recipe's SGD (in the same
# iterations SGD lr 0.04 reaches about half the AP, and AdamW at twice this lr less still).
# torch's fused AdamW: one kernel for all parameters instead of a loop over its 295 tensors.
# Schedule length is what pays on this task (more epochs, more AP), so the heads are cut to
# buy epochs within the CPU time budget.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.002, weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=10),
)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
log_processor = dict(window_size=10)
# A fixed seed: the same machine prints the same AP (other CPUs / torch builds may differ in the
# last bits of floating point, which from-scratch training amplifies).
randomness = dict(seed=0)
