# RTMDet-tiny on StarNet-S1, COCO, 300 epochs: mmdet's rtmdet_tiny_8xb32-300e_coco.py (AdamW
# 0.004 for 8 x 32 images, cosine decay over the second half, EMA, the pipeline switch for the
# last 20 epochs, CSPNeXt-PAFPN neck and the separate-BN head) with the backbone swapped: its
# stride-8/16/32 levels (48/96/192 channels) in place of CSPNeXt-tiny's (96/192/384).
# As with CSPNeXt there, every backbone layer trains, BN included. mmlight's GhostNet
# RTMDet-tiny (rtmdet_tiny_ghostnet.py) is the same swap.
_base_ = ['./rtmdet_tiny_ghostnet.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='StarNet',
        arch='s1',
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='mmlight://starnet_s1.in1k'),
    ),
    neck=dict(in_channels=[48, 96, 192]),
)
