# Mask R-CNN + FPN, GhostNet 1.0x, COCO, 12 epochs (mmdet's 1x schedule: SGD 0.02, batch 16).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNet',
        widen_factor=1.0,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://ghostnet_1.0x'),
    ),
    neck=dict(in_channels=[24, 40, 112, 160]),
)
