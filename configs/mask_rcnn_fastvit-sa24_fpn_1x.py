# Mask R-CNN + FPN, FastViT-SA24, COCO, 12 epochs (1x).
# apple/ml-fastvit publishes no detection config. Its detection backbone (models/fastvit.py,
# fork_feat=True) is PoolFormer's design, a BatchNorm on each output; the recipe is therefore
# PoolFormer's, the nearest official one: sail-sg/poolformer
# detection/configs/mask_rcnn_poolformer_s12_fpn_1x_coco.py, AdamW lr 2e-4 (2 images x 8 GPUs),
# weight decay 1e-4, mmdet's 1x schedule; no drop path (both repositories' default). ImageNet
# weights: apple/ml-fastvit's unfused fastvit_sa24.pth.tar, in timm's layout
# (fastvit_sa24.apple_in1k).
# The recipe is mask_rcnn_fastvit-sa12_fpn_1x.py's; this size changes the backbone.
_base_ = ['./mask_rcnn_fastvit-sa12_fpn_1x.py']

model = dict(
    backbone=dict(
        arch='sa24',
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://fastvit_sa24.apple_in1k'),
    ),
    neck=dict(in_channels=[64, 128, 256, 512]),
)
