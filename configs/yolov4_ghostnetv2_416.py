# YOLOv4-style detector on GhostNetV2 1.0x (levels 40/112/160): yolov4_ghostnet_416.py with
# the backbone swapped; same neck, head, pipeline and schedule.
_base_ = ['./yolov4_ghostnet_416.py']

model = dict(
    backbone=dict(type='GhostNetV2', init_cfg=dict(checkpoint='mmlight://ghostnetv2_1.0x'))
)
