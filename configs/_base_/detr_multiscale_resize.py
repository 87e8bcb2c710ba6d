# The training resize of every official HorNet detection config (raoyongming/HorNet
# object_detection/configs/, mmdet 2.x), in mmdet 3 form: the DETR / Sparse R-CNN multi-scale
# resize, an AutoAugment of two policies (mmdet 3: RandomChoice):
#   1. resize the shorter side to one of 480-800 (step 32), longer side <= 1333;
#   2. resize to one of 400/500/600, random crop of 384-600 px (absolute_range), then resize
#      as in 1.
# (mmdet's own ms-crop configs, e.g. convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x,
# write the same transform.)
_detr_scales = [
    (480, 1333),
    (512, 1333),
    (544, 1333),
    (576, 1333),
    (608, 1333),
    (640, 1333),
    (672, 1333),
    (704, 1333),
    (736, 1333),
    (768, 1333),
    (800, 1333),
]
detr_multiscale_resize = dict(
    type='RandomChoice',
    transforms=[
        [dict(type='RandomChoiceResize', scales=_detr_scales, keep_ratio=True)],
        [
            dict(
                type='RandomChoiceResize',
                scales=[(400, 1333), (500, 1333), (600, 1333)],
                keep_ratio=True,
            ),
            dict(
                type='RandomCrop',
                crop_type='absolute_range',
                crop_size=(384, 600),
                allow_negative_crop=True,
            ),
            dict(type='RandomChoiceResize', scales=_detr_scales, keep_ratio=True),
        ],
    ],
)
