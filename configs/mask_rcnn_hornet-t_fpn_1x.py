# Mask R-CNN + FPN, HorNet-T 7x7, COCO, 12 epochs (1x).
# The official repository has no 1x HorNet-T setting: drop_path_rate 0.4, AdamW lr 2e-4 (16
# images), layer-wise decay 0.7 over num_layers=12 come from its 3x Cascade Mask R-CNN config
# object_detection/configs/hornet/cascade_mask_rcnn_hornet_tiny_7x7_3x_coco_in1k.py; the
# multi-scale pipeline and weight decay 0.05 from every official detection config
# (configs/_base_/detr_multiscale_resize.py); schedule and batch are mmdet's 1x.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/detr_multiscale_resize.py']
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

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
