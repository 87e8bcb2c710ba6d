# Faster R-CNN + FPN, OD-ResNet-50 with ODConv 4x (kernel_num=4), COCO, 12 epochs.
_base_ = ['./faster_rcnn_odconv_r50_fpn_1x.py']

model = dict(
    backbone=dict(od_cfg=dict(kernel_num=4), init_cfg=dict(checkpoint='mmlight://od_resnet50_4x'))
)
