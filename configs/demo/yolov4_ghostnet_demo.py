# YOLOv4-style GhostNet detector (depthwise-separable YOLOv4 neck + YOLOv4Head) trained from
# scratch on the synthetic demo set (data/demo/, 3 classes, 192x192), on CPU.
_base_ = ['../yolov4_ghostnet_416.py']

data_root = 'data/demo/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 128, 255), (0, 200, 0)])
image_size = (192, 192)

model = dict(
    backbone=dict(init_cfg=None),
    neck=dict(channels=[64, 128, 256]),
    bbox_head=dict(
        num_classes=len(classes),
        in_channels=[256, 128, 64],
        out_channels=[256, 128, 64],
        # the demo's shapes are 16-115 px squares, triangles and circles
        anchor_generator=dict(
            base_sizes=[
                [(84, 84), (100, 100), (120, 120)],
                [(36, 36), (50, 50), (66, 66)],
                [(12, 12), (18, 18), (26, 26)],
            ]
        ),
    ),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(160, 160), (224, 224)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'),
    ),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    batch_sampler=None,
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 16
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[12, 15], gamma=0.1
    ),
]
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=5e-4), clip_grad=dict(max_norm=35))
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs))
log_processor = dict(window_size=10)
