# Cascade Mask R-CNN + FPN, HorNet-T 7x7, COCO, 36 epochs (3x): the official recipe, in mmdet 3
# form, of raoyongming/HorNet object_detection/configs/hornet/
# cascade_mask_rcnn_hornet_tiny_7x7_3x_coco_in1k.py (mmdet 2.x). From that file: the backbone
# (HorNet-T 7x7, drop_path_rate 0.4, levels 64/128/256/512); three ConvFCBBoxHead stages of 4
# shared convs + 1 fc with SyncBN, class-specific deltas, decoded-box GIoU loss (weight 10) and
# the stage stds below; the DETR multi-scale resize and crop (configs/_base_/
# detr_multiscale_resize.py); AdamW lr 2e-4 (16 images), weight decay 0.05, layer-wise lr decay
# 0.7 over 12 layers; 36 epochs with steps at 27 and 33. From its model base,
# ../_base_/models/cascade_mask_rcnn_hornet_fpn.py: mmdet's Cascade Mask R-CNN (RPN, 3 stages,
# IoU thresholds 0.5/0.6/0.7, mask head) as in mmdet's cascade-mask-rcnn_r50_fpn_1x_coco.py.
# Published: 51.7 box AP, 44.8 mask AP (HorNet's object_detection/README.md).
_base_ = [
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    './_base_/detr_multiscale_resize.py',
]
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)


def _stage(stds):
    return dict(
        type='ConvFCBBoxHead',
        num_shared_convs=4,
        num_shared_fcs=1,
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0], target_stds=stds
        ),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0),
    )


model = dict(
    backbone=dict(
        _delete_=True,
        type='HorNet',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://hornet-tiny'),
    ),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(
        bbox_head=[
            _stage([0.1, 0.1, 0.2, 0.2]),
            _stage([0.05, 0.05, 0.1, 0.1]),
            _stage([0.033, 0.033, 0.067, 0.067]),
        ]
    ),
)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.detr_multiscale_resize}},
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# AdamW with HorNet's layer-wise lr decay (official LearningRateDecayOptimizerConstructorHorNet,
# layer_wise; see mmlight/engine/optimizers.py), no weight decay on 1-D parameters and biases
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.7, num_layers=12),
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
)

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1
    ),
]
