# Mask R-CNN + FPN, HorNet-T 7x7, COCO, 12 epochs.
# Optimiser as the ConvNeXt/HorNet detection recipe: AdamW (lr 1e-4 for 16 images, weight
# decay 0.05, none on norms/biases/layer scales) with layer-wise lr decay 0.95 over
# num_layers=9 (HorNet's 18-block stage 3 gives block ids up to 8), stochastic depth 0.2.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='HorNet',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://hornet-tiny')),
    neck=dict(in_channels=[64, 128, 256, 512]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.95, num_layers=9),
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05))
