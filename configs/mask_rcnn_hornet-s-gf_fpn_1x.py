# Mask R-CNN + FPN, HorNet-S GF (global filters in stages 3 and 4), COCO, 12 epochs (1x).
# The official repository has no 1x HorNet-S-GF setting with a plain FPN (its 1x GF config is
# a HorFPN); its 3x Cascade Mask R-CNN config
# object_detection/configs/hornet/cascade_mask_rcnn_hornet_small_gf_3x_coco_in1k.py gives
# drop_path_rate 0.6, AdamW lr 2e-4, layer-wise decay 0.7 over num_layers=12.
_base_ = ['./mask_rcnn_hornet-s_fpn_1x.py']

model = dict(backbone=dict(arch='small-gf', init_cfg=dict(checkpoint='mmlight://hornet-small-gf')))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.7, num_layers=12), optimizer=dict(lr=0.0002))
