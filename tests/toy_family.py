"""A toy backbone family declared from this file alone: its backbone, its record and its
converter. tests/test_toy_family.py loads it (``-p tests.toy_family`` for pytest, an import
elsewhere) and finds it in every table the tools and docs read, with no other file edited."""

from collections import OrderedDict

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS

import mmlight.registration  # noqa: F401
from mmlight.family import (
    BackboneFamily,
    Converter,
    Paper,
    PretrainedWeights,
    WeightSource,
    register_converter,
    register_family,
)
from mmlight.models.backbones import MultiScaleBackbone

TOY_WIDTHS = {'tiny': (8, 16, 24, 32), 'small': (16, 32, 48, 64)}


@MODELS.register_module()
class ToyNet(MultiScaleBackbone):
    """Four stride-2 convs after a stride-2 stem: levels at strides 4, 8, 16, 32."""

    def __init__(
        self,
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        with_cp=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        widths = TOY_WIDTHS[arch]
        norm = dict(type='BN')
        self.stem = ConvModule(3, widths[0], 3, stride=2, padding=1, norm_cfg=norm)
        channels = [widths[0], *widths]
        self.stages = nn.ModuleList(
            nn.Sequential(
                ConvModule(channels[i], channels[i + 1], 3, stride=2, padding=1, norm_cfg=norm)
            )
            for i in range(4)
        )
        self._init_contract(
            level_channels=widths,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )


def detect_toynet_layout(keys):
    """'official' for the toy's own files: ``stem_conv.*`` and ``body.N.*``."""
    keys = list(keys)
    return 'official' if any(k.startswith('body.') for k in keys) else None


def convert_toynet(state_dict):
    converted = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('head.'):
            continue
        if key.startswith('stem_conv.'):
            converted['stem.' + key[len('stem_conv.') :]] = value
        else:
            index, rest = key[len('body.') :].split('.', 1)
            converted[f'stages.{index}.0.{rest}'] = value
    return converted


register_family(
    BackboneFamily(
        key='toynet',
        name='ToyNet',
        paper=Paper('ToyNet: a family declared by a test', 'https://example.org/toynet'),
        backbones=('ToyNet',),
        variants=lambda state_dict: [dict(type='ToyNet', arch=arch) for arch in TOY_WIDTHS],
        contract_variants={'ToyNet': dict(arch='tiny')},
        weights=(
            PretrainedWeights(
                name='toynet_tiny',
                family='toynet',
                model=dict(type='ToyNet', arch='tiny'),
                sources=(
                    WeightSource(
                        url='https://example.org/toynet_tiny.pth',
                        filename='toynet_tiny.pth',
                        layout='official',
                    ),
                ),
                top1=1.0,
                top1_source='nobody',
                params=0.01,
                licence='CC0-1.0',
            ),
        ),
        published='A toy: no published number.',
    )
)
register_converter(
    'toynet',
    Converter(convert_toynet, detect_toynet_layout, 'toy keys (stem_conv.*, body.N.*)'),
)
