# Faster R-CNN + FPN, ShuffleNetV2 1.0x, COCO, 12 epochs (mmdet's 1x schedule: SGD 0.02, batch 16).
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ShuffleNetV2',
        widen_factor=1.0,
        # P2 (level 0, stride 4, 24 channels) is the stem's max-pool output: ShuffleNet has
        # no stage at stride 4 (stages 2-4 are levels 1-3, strides 8/16/32).
        out_indices=(0, 1, 2, 3),
        # 1 = the stem conv + BN and level 0 (the max-pool, no parameters): everything at
        # stride 4 stays at its ImageNet values, mmdet's R50 rule (frozen_stages=1 freezes the
        # stem and res2); 2 would also freeze stage 2 (stride 8).
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://shufflenetv2_1.0x'),
    ),
    neck=dict(in_channels=[24, 116, 232, 464]),
)
