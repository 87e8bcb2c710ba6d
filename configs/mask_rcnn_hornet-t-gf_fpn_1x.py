# Mask R-CNN + FPN, HorNet-T GF (global filters in stages 3 and 4), COCO, 12 epochs (1x).
# The official repository has no 1x HorNet-T-GF setting; its 3x Cascade Mask R-CNN config
# object_detection/configs/hornet/cascade_mask_rcnn_hornet_tiny_gf_3x_coco_in1k.py gives
# drop_path_rate 0.4, AdamW lr 2e-4, decay 0.7 over num_layers=12: HorNet-T 7x7's values,
# which this config inherits.
_base_ = ['./mask_rcnn_hornet-t_fpn_1x.py']

model = dict(backbone=dict(arch='tiny-gf', init_cfg=dict(checkpoint='mmlight://hornet-tiny-gf')))
