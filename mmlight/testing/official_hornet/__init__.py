"""The official HorNet layer-wise learning-rate decay rule, kept as a reference for tests only.

Source: https://github.com/raoyongming/HorNet at commit
92e98108fdf588ebec4ddcc2777472ca1085bf61, ``semantic_segmentation/mmcv_custom/
layer_decay_optimizer_constructor.py`` (``LearningRateDecayOptimizerConstructorHorNet``, the
constructor that the detection configs name; ``object_detection/mmcv_custom/__init__.py``
imports the class of the same name from its own copy of the file). MIT License, in
``LICENSE`` beside this file (the HorNet repository's; the header credits Meta, whose ConvNeXt
code it derives from, MIT as well). ``layer_decay.py`` keeps the two layer-id
functions verbatim and the group-scale lines of ``add_params`` as a function (the mmcv 1.x
constructor class itself does not import on mmcv 2). mmlight's product code does not import
this package.
"""
from .layer_decay import get_num_layer_layer_wise, official_lr_scale_and_weight_decay

__all__ = ['get_num_layer_layer_wise', 'official_lr_scale_and_weight_decay']
