# Faster R-CNN + FPN, HorNet-S 7x7, COCO, 12 epochs: the official 1x recipe,
# object_detection/configs/horfpn/fpn_mask_rcnn_hornet_small_7x7_1x_coco_in1k.py (the plain-FPN
# baseline of the HorFPN study): drop_path_rate 0.6, AdamW lr 1e-4 (16 images) weight decay
# 0.05, layer-wise decay 0.95 over num_layers=6, the DETR multi-scale pipeline, steps 8 / 11.
# (the official repository has Mask R-CNN configs only; this is the same recipe without the
# mask head)
_base_ = ['./faster_rcnn_hornet-t_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='small', drop_path_rate=0.6, init_cfg=dict(checkpoint='mmlight://hornet-small')
    ),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.95, num_layers=6), optimizer=dict(lr=0.0001))
