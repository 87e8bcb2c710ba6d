"""Reference implementations written by others (timm, torchvision, mmpretrain), exposed with
mmlight's level numbering so that tests and the benchmark compare like with like.

Each adapter runs the reference model's own modules in the reference's own order and only
taps the tensors between them; nothing of the reference is re-implemented here.
"""

import torch.nn as nn


class TimmGhostNetLevels(nn.Module):
    """timm's ghostnet_* / ghostnetv2_*, returning the features after the last bottleneck of
    each stride (levels 0-3) and after the final 1x1 conv (level 4)."""

    # timm groups the bottlenecks in 9 sequential groups; the last group of each stride:
    LEVEL_LAST_GROUP = (2, 4, 6, 8, 9)

    def __init__(self, model_name: str = 'ghostnet_100', out_indices=(0, 1, 2, 3)):
        super().__init__()
        import timm

        self.model = timm.create_model(model_name, pretrained=False)
        self.taps = [self.LEVEL_LAST_GROUP[i] for i in out_indices]

    def forward(self, x):
        model = self.model
        x = model.act1(model.bn1(model.conv_stem(x)))
        outs = []
        for index, group in enumerate(model.blocks):
            x = group(x)
            if index in self.taps:
                outs.append(x)
            if index == self.taps[-1]:
                break
        return tuple(outs)


class TorchvisionShuffleNetV2Levels(nn.Module):
    """torchvision's shufflenet_v2_x*: level 0 after the max-pool, 1-3 after stage2-4, 4 after
    conv5."""

    def __init__(self, model_name: str = 'shufflenet_v2_x1_0', out_indices=(0, 1, 2, 3)):
        super().__init__()
        import torchvision

        self.model = getattr(torchvision.models, model_name)(weights=None)
        self.out_indices = tuple(out_indices)

    def forward(self, x):
        model = self.model
        levels = [
            nn.Sequential(model.conv1, model.maxpool),
            model.stage2,
            model.stage3,
            model.stage4,
            model.conv5,
        ]
        outs = []
        for index, level in enumerate(levels[: self.out_indices[-1] + 1]):
            x = level(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)


class MMPretrainShuffleNetLevels(nn.Module):
    """mmpretrain's ShuffleNetV1/V2 backbones: level 0 after the max-pool, then its layers."""

    def __init__(self, version: str = 'v2', out_indices=(0, 1, 2, 3), **kwargs):
        super().__init__()
        from mmpretrain.models.backbones import ShuffleNetV1, ShuffleNetV2

        cls = ShuffleNetV2 if version == 'v2' else ShuffleNetV1
        self.model = cls(out_indices=(0, 1, 2), **kwargs)
        self.model.init_weights()
        self.out_indices = tuple(out_indices)

    def forward(self, x):
        model = self.model
        levels = [nn.Sequential(model.conv1, model.maxpool), *model.layers]
        outs = []
        for index, level in enumerate(levels[: self.out_indices[-1] + 1]):
            x = level(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)


class TorchvisionResNetLevels(nn.Module):
    """torchvision's resnet*: levels 0-3 after layer1-4."""

    def __init__(self, model_name: str = 'resnet50', out_indices=(0, 1, 2, 3)):
        super().__init__()
        import torchvision

        self.model = getattr(torchvision.models, model_name)(weights=None)
        self.out_indices = tuple(out_indices)

    def forward(self, x):
        model = self.model
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        outs = []
        for index, layer in enumerate(
            [model.layer1, model.layer2, model.layer3, model.layer4][: self.out_indices[-1] + 1]
        ):
            x = layer(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)


class TorchvisionMobileNetV2Levels(nn.Module):
    """torchvision's mobilenet_v2: levels 0-3 after features[3], [6], [13], [17] (the last
    block of strides 4/8/16/32), level 4 after features[18] (the final 1x1 conv)."""

    LEVEL_LAST_FEATURE = (3, 6, 13, 17, 18)

    def __init__(self, width_mult: float = 1.0, out_indices=(0, 1, 2, 4)):
        super().__init__()
        import torchvision

        self.model = torchvision.models.mobilenet_v2(weights=None, width_mult=width_mult)
        self.taps = [self.LEVEL_LAST_FEATURE[i] for i in out_indices]

    def forward(self, x):
        outs = []
        for index, layer in enumerate(self.model.features[: self.taps[-1] + 1]):
            x = layer(x)
            if index in self.taps:
                outs.append(x)
        return tuple(outs)


def odconv_official_formulation(model: nn.Module) -> nn.Module:
    """The same mmlight model with every ODConv2d computing the official code's way (x * a_c,
    per-sample kernel mix, grouped conv with the batch folded into groups, * a_f), for the
    benchmark. The tests compare with the official code itself (:class:`OfficialODResNetLevels`
    and :class:`OfficialODMobileNetV2Levels`, over :mod:`mmlight.testing.official_odconv`)."""
    from mmlight.models.layers import ODConv2d

    for module in model.modules():
        if isinstance(module, ODConv2d):
            module.impl = 'official'
    return model


class OfficialODResNetLevels(TorchvisionResNetLevels):
    """The official OD-ResNet (OSVAI/ODConv ``models/od_resnet.py``), tapped where
    torchvision's ResNet is (levels 0-3 after layer1-4: the official network has torchvision's
    module layout)."""

    def __init__(
        self,
        depth: int = 50,
        kernel_num: int = 1,
        reduction: float = 0.0625,
        out_indices=(0, 1, 2, 3),
    ):
        nn.Module.__init__(self)
        from . import official_odconv

        self.model = getattr(official_odconv, f'od_resnet{depth}')(
            kernel_num=kernel_num, reduction=reduction
        )
        self.out_indices = tuple(out_indices)


class OfficialODMobileNetV2Levels(TorchvisionMobileNetV2Levels):
    """The official OD-MobileNetV2 (OSVAI/ODConv ``models/od_mobilenetv2.py``), tapped where
    torchvision's MobileNetV2 is (the official network has torchvision's feature layout)."""

    def __init__(
        self,
        width_mult: float = 1.0,
        kernel_num: int = 1,
        reduction: float = 0.0625,
        out_indices=(0, 1, 2, 4),
    ):
        nn.Module.__init__(self)
        from .official_odconv import OD_MobileNetV2

        self.model = OD_MobileNetV2(
            width_mult=width_mult, kernel_num=kernel_num, reduction=reduction
        )
        self.taps = [self.LEVEL_LAST_FEATURE[i] for i in out_indices]


class MMPretrainHorNetLevels(nn.Module):
    """mmpretrain's HorNet: the stage outputs (levels 0-3) before its per-level norms."""

    def __init__(self, arch: str = 'tiny', out_indices=(0, 1, 2, 3), **kwargs):
        super().__init__()
        from mmpretrain.models.backbones import HorNet

        self.model = HorNet(
            arch=arch, out_indices=tuple(out_indices), gap_before_final_norm=False, **kwargs
        )
        self.model.init_weights()
        self.out_indices = tuple(out_indices)

    def forward(self, x):
        outs = []
        for index in range(self.out_indices[-1] + 1):
            x = self.model.stages[index](self.model.downsample_layers[index](x))
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)


class TimmFeatureLevels(nn.Module):
    """A timm model returning, as levels 0-3, the outputs of the last module its
    ``feature_info`` names at strides 4, 8, 16 and 32; where the family ends in a final 1x1
    expansion (MobileNetV4), the block before it is level 3 and the expansion level 4. Where
    the family's official detection backbone puts a BatchNorm on each output (FasterNet's and
    FastViT's ``fork_feat``), ``output_norms`` adds one, as new (never trained) layers."""

    FINAL_EXPANSION = ('mobilenetv4_',)

    def __init__(self, model_name: str, out_indices=(0, 1, 2, 3), output_norms: bool = False):
        super().__init__()
        import timm

        self.model = timm.create_model(model_name, pretrained=False)
        names = [
            [entry['module'] for entry in self.model.feature_info if entry['reduction'] == stride][
                -1
            ]
            for stride in (4, 8, 16, 32)
        ]
        if model_name.startswith(self.FINAL_EXPANSION):
            parent, _, last = names[3].rpartition('.')
            names = [*names[:3], f'{parent}.{int(last) - 1}', names[3]]
        self.names = [names[i] for i in out_indices]
        self.output_norms = output_norms

    def forward(self, x):
        captured = {}
        hooks = [
            self.model.get_submodule(name).register_forward_hook(
                lambda _m, _i, out, name=name: captured.setdefault(name, out.clone())
            )
            for name in self.names
        ]
        try:
            self.model.forward_features(x)
        finally:
            for hook in hooks:
                hook.remove()
        outs = [captured[name] for name in self.names]
        if self.output_norms:  # new BatchNorms, in eval mode
            outs = [nn.BatchNorm2d(out.shape[1]).eval()(out) for out in outs]
        return tuple(outs)
