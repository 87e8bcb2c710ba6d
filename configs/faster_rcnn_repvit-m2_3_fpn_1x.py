# Faster R-CNN + FPN, RepViT-M2.3, COCO, 12 epochs (1x).
# THU-MIG/RepViT detection/configs/mask_rcnn_repvit_m2_3_fpn_1x_coco.py (commit 298f420): AdamW lr
# 2e-4 (2 images x 8 GPUs), weight decay 0.05, no clipping; its schedule
# (detection/configs/_base_/schedules/schedule_1x.py) warms up linearly over 500 iterations from
# 1e-6 of the lr and steps at epochs 8 and 11; the ImageNet weights are its
# repvit_m2_3_distill_450e.pth (timm's dist_450e_in1k tag: the same file in timm's layout). Its
# backbone keeps every BatchNorm in eval mode while training (RepViT.train in detection/repvit.py):
# norm_eval=True.
# The repository has Mask R-CNN configs only: this is that recipe without the mask head.
# The recipe is faster_rcnn_repvit-m1_1_fpn_1x.py's; this size changes the backbone.
_base_ = ['./faster_rcnn_repvit-m1_1_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='m2_3',
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://repvit_m2_3.dist_450e_in1k'),
    ),
    neck=dict(in_channels=[80, 160, 320, 640]),
)
