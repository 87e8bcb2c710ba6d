# Faster R-CNN + FPN, RepViT-M1.5, COCO, 12 epochs (1x).
# THU-MIG/RepViT detection/configs/mask_rcnn_repvit_m1_5_fpn_1x_coco.py (commit 298f420): AdamW lr
# 2e-4 (2 images x 8 GPUs), weight decay 0.05, no clipping; its schedule
# (detection/configs/_base_/schedules/schedule_1x.py) warms up linearly over 500 iterations from
# 1e-6 of the lr and steps at epochs 8 and 11; the ImageNet weights are its
# repvit_m1_5_distill_300e.pth (timm's dist_300e_in1k tag: the same file in timm's layout). Its
# backbone keeps every BatchNorm in eval mode while training (RepViT.train in detection/repvit.py):
# norm_eval=True.
# The repository has Mask R-CNN configs only: this is that recipe without the mask head.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='RepViT',
        arch='m1_5',
        out_indices=(0, 1, 2, 3),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://repvit_m1_5.dist_300e_in1k'),
    ),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
