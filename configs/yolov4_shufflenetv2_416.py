# YOLOv4-style detector on ShuffleNetV2 1.0x (levels 116/232/464): yolov4_ghostnet_416.py with
# the backbone swapped; same neck, head, pipeline and schedule.
_base_ = ['./yolov4_ghostnet_416.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ShuffleNetV2',
        widen_factor=1.0,
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://shufflenetv2_1.0x'),
    ),
    neck=dict(in_channels=[116, 232, 464]),
)
