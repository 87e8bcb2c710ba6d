# Mask R-CNN + FPN, FasterNet-L, COCO, 12 epochs (1x).
# JierunChen/FasterNet detection/configs/fasternet/mask_rcnn_fasternet_l_fpn_1x_coco.py: AdamW lr
# 0.0001 (2 images x 8 GPUs), weight decay 1e-4, no clipping, mmdet's 1x schedule
# (detection/configs/_base_/schedules/schedule_1x.py: 500-iteration warm-up from 0.001, steps at 8
# and 11); drop path 0.3 and a BatchNorm on each output from detection/backbones/fasternet.py
# (fasternet_l, fork_feat=True). Its ImageNet weights are the README's
# fasternet_l-epoch=299-val_acc1=83.5060.pth, here in timm's layout (fasternet_l.in1k). Every
# BatchNorm trains (the official backbone ignores the ResNet base's frozen_stages and norm_eval).
# The recipe is mask_rcnn_fasternet-s_fpn_1x.py's; this size changes the backbone and the lr.
_base_ = ['./mask_rcnn_fasternet-s_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://fasternet_l.in1k'),
    ),
    neck=dict(in_channels=[192, 384, 768, 1536]),
)
optim_wrapper = dict(optimizer=dict(lr=0.0001))
