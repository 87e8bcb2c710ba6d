# Mask R-CNN + FPN, HorNet-S 7x7, COCO, 12 epochs: HorNet-T's recipe with the ConvNeXt-S
# settings (stochastic depth 0.3, layer-wise lr decay 0.9).
_base_ = ['./mask_rcnn_hornet-t_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='mmlight://hornet-small')),
    neck=dict(in_channels=[96, 192, 384, 768]))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.9))
