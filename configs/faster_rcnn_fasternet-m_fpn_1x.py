# Faster R-CNN + FPN, FasterNet-M, COCO, 12 epochs (1x).
# JierunChen/FasterNet detection/configs/fasternet/mask_rcnn_fasternet_m_fpn_1x_coco.py: AdamW lr
# 0.0001 (2 images x 8 GPUs), weight decay 1e-4, no clipping, mmdet's 1x schedule
# (detection/configs/_base_/schedules/schedule_1x.py: 500-iteration warm-up from 0.001, steps at 8
# and 11); drop path 0.2 and a BatchNorm on each output from detection/backbones/fasternet.py
# (fasternet_m, fork_feat=True). Its ImageNet weights are the README's
# fasternet_m-epoch=291-val_acc1=82.9620.pth, here in timm's layout (fasternet_m.in1k). Every
# BatchNorm trains (the official backbone ignores the ResNet base's frozen_stages and norm_eval).
# The repository has Mask R-CNN configs only: this is that recipe without the mask head.
# The recipe is faster_rcnn_fasternet-s_fpn_1x.py's; this size changes the backbone and the lr.
_base_ = ['./faster_rcnn_fasternet-s_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='m',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://fasternet_m.in1k'),
    ),
    neck=dict(in_channels=[144, 288, 576, 1152]),
)
optim_wrapper = dict(optimizer=dict(lr=0.0001))
