"""Layer-wise learning-rate decay for HorNet detection backbones, HorNet's own rule."""

import re

import torch.nn as nn
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.optim import DefaultOptimWrapperConstructor

from mmlight.utils.validators import check_integer, check_number

# The official rule (raoyongming/HorNet mmcv_custom/layer_decay_optimizer_constructor.py,
# ``get_num_layer_layer_wise``) hard-codes these ids for the last stage and the cap of the
# third stage's, whatever num_layers says.
_LAST_STAGE_ID = 12
_THIRD_STAGE_MAX_ID = 11


def hornet_layer_id(name: str, num_layers: int) -> int:
    """The depth of a parameter for layer-wise decay, HorNet's detection rule on mmlight's
    names (official names in brackets): stem [downsample_layers.0] 0; stage 0 blocks 1;
    stage 1 downsampling and blocks 2; stage 2 downsampling 3, its blocks
    ``min(3 + block // 2, 11)``; stage 3 downsampling and blocks 12; everything else (neck,
    heads, the per-level output norms [norm0-3]) ``num_layers + 1``.

    The constants 11 and 12 do not follow ``num_layers``: with the official 1x HorNet-S
    setting (``num_layers=6``) stage 2's later blocks and stage 3 get ids above
    ``num_layers + 1``, so a learning rate above the base one (decay_rate ** -5 for stage 3),
    which is what the official code trains with.
    """
    if name.startswith('backbone.stem.'):
        return 0
    m = re.match(r'^backbone\.stages\.(\d)\.(downsample|\d+)\.', name)
    if not m:
        return num_layers + 1
    stage, part = int(m.group(1)), m.group(2)
    if stage == 3:
        return _LAST_STAGE_ID
    if part == 'downsample':
        return stage + 1
    if stage < 2:
        return stage + 1
    return min(3 + int(part) // 2, _THIRD_STAGE_MAX_ID)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """HorNet's ``LearningRateDecayOptimizerConstructorHorNet`` (layer_wise) for mmengine:
    scales the learning rate of each parameter by ``decay_rate ** (num_layers + 1 -
    layer_id)`` (:func:`hornet_layer_id`) and applies no weight decay to biases and 1-D
    parameters (norms, layer scales).

    ``paramwise_cfg=dict(decay_rate=0.95, num_layers=6)`` (the official 1x HorNet-S values;
    its 3x Cascade configs use 0.7 and 12).
    """

    def add_params(self, params: list[dict], module: nn.Module, **kwargs) -> None:
        decay_rate = self.paramwise_cfg.get('decay_rate')
        num_layers = self.paramwise_cfg.get('num_layers')
        owner = 'LayerDecayOptimWrapperConstructor'
        check_number('paramwise_cfg.decay_rate', decay_rate, greater_than=0, at_most=1, owner=owner)
        check_integer('paramwise_cfg.num_layers', num_layers, minimum=1, owner=owner)
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = hornet_layer_id(name, num_layers)
            no_decay = param.ndim == 1 or name.endswith('.bias')
            key = (layer_id, no_decay)
            if key not in groups:
                scale = decay_rate ** (num_layers + 1 - layer_id)
                groups[key] = dict(
                    params=[],
                    lr=self.base_lr * scale,
                    weight_decay=0.0 if no_decay else self.base_wd,
                    lr_scale=scale,
                    layer_id=layer_id,
                )
            groups[key]['params'].append(param)
        params.extend(groups[key] for key in sorted(groups))
