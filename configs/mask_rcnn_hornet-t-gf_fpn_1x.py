# Mask R-CNN + FPN, HorNet-T GF (global filters in stages 3 and 4), COCO, 12 epochs.
_base_ = ['./mask_rcnn_hornet-t_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='tiny-gf', init_cfg=dict(checkpoint='mmlight://hornet-tiny-gf')))
