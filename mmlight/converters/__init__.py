"""Checkpoint converters: official / timm / torchvision / mmpretrain weights to mmlight keys.

Each family module here holds its key mapping and a detector of the layouts it reads; importing
this package enters each as the converter of its family (:func:`mmlight.family.register_converter`,
under the family's key), which makes it the checkpoint filter of the family's backbones, so
``init_cfg=dict(type='Pretrained', checkpoint=...)`` accepts unconverted files
(``tools/model_converters/convert.py`` is the offline front end). A converter takes the source
state_dict (unwrapped from 'state_dict'/'model', any 'module.' prefix removed) and returns the
mmlight backbone state_dict; classification heads are dropped.
"""

from mmlight.family import (
    CONVERTERS,
    FAMILIES,
    Converter,
    convert_state_dict,
    converter_names,
    guess_family,
    is_mmlight_layout,
    register_converter,
    strip_module_prefix,
)

from .ghostnet import convert_ghostnet, detect_ghostnet_layout, detect_ghostnetv2_layout
from .hornet import convert_hornet, detect_hornet_layout
from .odconv import (
    convert_odmobilenetv2,
    convert_odresnet,
    detect_odmobilenetv2_layout,
    detect_odresnet_layout,
)
from .shufflenet import (
    convert_shufflenetv1,
    convert_shufflenetv2,
    detect_shufflenetv1_layout,
    detect_shufflenetv2_layout,
)
from .variants import infer_backbone, shape_mismatch

register_converter(
    'ghostnet',
    Converter(
        convert_ghostnet,
        detect_ghostnet_layout,
        'official/timm GhostNet keys (conv_stem.weight, blocks.N.M.ghost1...)',
    ),
)
register_converter(
    'ghostnetv2',
    Converter(
        convert_ghostnet,
        detect_ghostnetv2_layout,
        'official/timm GhostNetV2 keys (conv_stem.weight, blocks.N.M.ghost1.short_conv...)',
    ),
)
register_converter(
    'hornet',
    Converter(
        convert_hornet,
        detect_hornet_layout,
        'official or mmpretrain HorNet keys (downsample_layers.0..., stages.N.M.gnconv...)',
    ),
)
register_converter(
    'odmobilenetv2',
    Converter(
        convert_odmobilenetv2,
        detect_odmobilenetv2_layout,
        'official OD-MobileNetV2 or torchvision MobileNetV2 keys '
        '(features.0.0.weight, features.N.conv...)',
    ),
)
register_converter(
    'odresnet',
    Converter(
        convert_odresnet,
        detect_odresnet_layout,
        'official OD-ResNet or torchvision ResNet keys (conv1.weight, layer1.0.conv1...)',
    ),
)
register_converter(
    'shufflenetv1',
    Converter(
        convert_shufflenetv1,
        detect_shufflenetv1_layout,
        'mmpretrain ShuffleNetV1 keys (layers.N.M.g_conv_1x1_...)',
    ),
)
register_converter(
    'shufflenetv2',
    Converter(
        convert_shufflenetv2,
        detect_shufflenetv2_layout,
        'torchvision (conv1.0.weight, stage2...) or mmpretrain '
        '(layers.N.M.branch2...) ShuffleNetV2 keys',
    ),
)

__all__ = [
    'CONVERTERS',
    'FAMILIES',
    'convert_state_dict',
    'converter_names',
    'guess_family',
    'infer_backbone',
    'is_mmlight_layout',
    'shape_mismatch',
    'strip_module_prefix',
]
