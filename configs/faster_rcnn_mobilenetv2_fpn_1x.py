# Faster R-CNN + FPN, MobileNetV2 1.0x with plain convs: the baseline of the OD-MobileNetV2
# configs (same network, levels and recipe; torchvision's ImageNet weights), COCO, 12 epochs.
_base_ = ['./faster_rcnn_odconv_mobilenetv2_fpn_1x.py']

model = dict(backbone=dict(od_cfg=None, init_cfg=dict(checkpoint='mmlight://mobilenetv2_1.0x')))
