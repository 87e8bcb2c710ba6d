# Mask R-CNN + FPN, HorNet-S GF (global filters in stages 3 and 4), COCO, 12 epochs.
_base_ = ['./mask_rcnn_hornet-s_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='small-gf', init_cfg=dict(checkpoint='mmlight://hornet-small-gf')))
