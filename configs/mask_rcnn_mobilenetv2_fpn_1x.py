# Mask R-CNN + FPN, MobileNetV2 1.0x with plain convs: the baseline of the OD-MobileNetV2
# configs. COCO, 12 epochs (mmdet's 1x schedule: SGD 0.02, batch 16).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ODMobileNetV2',
        widen_factor=1.0,
        od_cfg=None,
        out_indices=(0, 1, 2, 4),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mobilenetv2_1.0x_imagenet.pth')),
    neck=dict(in_channels=[24, 32, 96, 1280]))
