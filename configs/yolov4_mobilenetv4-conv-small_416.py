# YOLOv4-style detector on MobileNetV4-Conv-S: its stride-8/16/32 levels (64/96/128 channels) +
# mmlight's YOLOv4 neck (SPP + PANet) and head with depthwise-separable 3x3 convs and ReLU6, as
# yolov4_ghostnet_416.py (bubbliiiing/mobilenet-yolov4-pytorch nets/yolo.py; neck widths
# 128/256/512). COCO, 416 input. Schedule and pipeline: mmdet's light-backbone YOLOv3 recipe
# (yolov3_mobilenetv2_8xb24-ms-416-300e_coco.py): multi-scale 320-416 training, 30 epochs over COCO
# train repeated 10 times, SGD 0.003 (batch 8 x 24), 4000-iteration warm-up, steps at epochs 24
# and 28, gradient clipping at 35.
_base_ = ['./yolov4_ghostnet_416.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV4',
        arch='conv_small',
        out_indices=(1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint='mmlight://mobilenetv4_conv_small.e2400_r224_in1k'
        ),
    ),
    neck=dict(in_channels=[64, 96, 128]),
)
