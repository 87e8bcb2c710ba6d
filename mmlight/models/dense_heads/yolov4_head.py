"""The output head of GhostNet/MobileNet-YOLOv4: a depthwise-separable 3x3 bridge per level."""

from mmdet.models.dense_heads import YOLOV3Head
from mmdet.registry import MODELS
from torch import nn

from ..layers import DepthwiseSeparableConvModule


@MODELS.register_module()
class YOLOv4Head(YOLOV3Head):
    """mmdet's ``YOLOV3Head`` (anchors, losses, decoding unchanged) whose per-level bridge can
    be depthwise-separable, as in the GhostNet/MobileNet-YOLOv4 reference (bubbliiiing's
    ``nets/yolo.py``, ``yolo_head``: ``conv_dw(C, 2C)`` then a 1x1 conv with bias).

    ``YOLOV3Head`` bridges with a dense 3x3 ConvModule, which at 416x416 costs about as much as
    the whole depthwise YOLOv4 neck; ``use_depthwise=True`` makes it a 3x3 depthwise conv +
    norm + act followed by a 1x1 pointwise conv + norm + act.

    Args:
        use_depthwise (bool): Depthwise-separable bridges. Default: True. False builds exactly
            ``YOLOV3Head``'s layers.
        **kwargs: ``YOLOV3Head``'s arguments (num_classes, in_channels, out_channels,
            anchor_generator, norm_cfg, act_cfg, losses, train_cfg, test_cfg ...). The
            reference uses ``act_cfg=dict(type='ReLU6')`` and out_channels = 2 x in_channels.
    """

    def __init__(self, *args, use_depthwise: bool = True, **kwargs):
        # YOLOV3Head.__init__ calls _init_layers, which reads this
        self.use_depthwise = use_depthwise
        super().__init__(*args, **kwargs)

    def _init_layers(self) -> None:
        if not self.use_depthwise:
            return super()._init_layers()
        self.convs_bridge = nn.ModuleList()
        self.convs_pred = nn.ModuleList()
        for in_channels, out_channels in zip(self.in_channels, self.out_channels, strict=False):
            self.convs_bridge.append(
                DepthwiseSeparableConvModule(
                    in_channels,
                    out_channels,
                    3,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                )
            )
            self.convs_pred.append(
                nn.Conv2d(out_channels, self.num_base_priors * self.num_attrib, 1)
            )
