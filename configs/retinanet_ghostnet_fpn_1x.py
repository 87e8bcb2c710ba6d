# RetinaNet + FPN, GhostNet 1.0x, COCO, 12 epochs: mmdet's retinanet_r50_fpn_1x_coco.py (SGD 0.01,
# batch 16, steps at epochs 8 and 11) with the backbone swapped. GhostNet's stride-8/16/32
# levels (40/112/160 channels) take the place of ResNet's C3-C5, from which mmdet's RetinaNet
# FPN starts (start_level=1 there); the two extra levels come from the last input as there.
# Backbone training settings as in faster_rcnn_ghostnet_fpn_1x.py.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='GhostNet',
        widen_factor=1.0,
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://ghostnet_1.0x'),
    ),
    neck=dict(in_channels=[40, 112, 160], start_level=0),
)
