# The demo YOLOv4 (yolov4_ghostnet_demo.py: neck, head, anchors, schedule, data) on
# MobileNetV4-Conv-S in place of GhostNet: its stride-8/16/32 levels (64/96/128 channels),
# trained from scratch on the synthetic demo set, on CPU. The light detector of today's
# backbones that tools/analysis/benchmark_ultralytics.py compares with Ultralytics' YOLO.
_base_ = ['./yolov4_ghostnet_demo.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV4',
        arch='conv_small',
        out_indices=(1, 2, 3),
        init_cfg=None,
    ),
    neck=dict(in_channels=[64, 96, 128]),
)
