# Faster R-CNN + FPN, OD-ResNet-50 (ODConv 1x: kernel_num=1),
# COCO, 12 epochs (mmdet's 1x schedule: SGD 0.02, batch 16).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ODResNet',
        depth=50,
        od_cfg=dict(kernel_num=1, reduction=0.0625),
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://od_resnet50_1x'),
    ),
    neck=dict(in_channels=[256, 512, 1024, 2048]),
)
# The official detection runs keep the ODConv temperature at 1 (ImageNet-pretrained backbone).
# Training ODConv from scratch anneals it from 30 to 1; that is one line:
# custom_hooks = [dict(type='ODConvTemperatureHook', anneal_epochs=1)]
