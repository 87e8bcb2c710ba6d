"""Layer-wise learning-rate decay for HorNet (and ConvNeXt-shaped) detection backbones."""
import re
from typing import List

import torch.nn as nn
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.optim import DefaultOptimWrapperConstructor


def hornet_layer_id(name: str, num_layers: int) -> int:
    """The depth of a parameter for layer-wise decay, ConvNeXt's rule on mmlight's names:
    stem 0; stage 0 1; stage 1 (with its downsampling) 2; stage 2's downsampling 3 and its
    blocks 3 + block // 3; stage 3 ``num_layers``; everything outside the backbone (and the
    detection-only output norms) ``num_layers + 1``."""
    if name.startswith('backbone.stem.'):
        return 0
    m = re.match(r'^backbone\.stages\.(\d)\.(downsample|\d+)\.', name)
    if not m:
        return num_layers + 1
    stage, part = int(m.group(1)), m.group(2)
    if stage == 0:
        return 1
    if stage == 1:
        return 2
    if stage == 2:
        return 3 if part == 'downsample' else 3 + int(part) // 3
    return num_layers


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scales the learning rate of each backbone parameter by
    ``decay_rate ** (num_layers + 1 - layer_id)`` (:func:`hornet_layer_id`) and, as ConvNeXt's
    and HorNet's detection code, applies no weight decay to biases and 1-D parameters (norms,
    layer scales).

    ``paramwise_cfg=dict(decay_rate=0.95, num_layers=9)``; ``num_layers`` must be at least the
    largest block id (for HorNet, 3 + (stage-2 depth - 1) // 3 = 8 with 18 blocks).
    """

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        decay_rate = self.paramwise_cfg.get('decay_rate')
        num_layers = self.paramwise_cfg.get('num_layers')
        if not isinstance(decay_rate, (int, float)) or not 0 < decay_rate <= 1:
            raise ValueError(f'LayerDecayOptimWrapperConstructor: paramwise_cfg.decay_rate '
                             f'must be in (0, 1], got {decay_rate!r}')
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f'LayerDecayOptimWrapperConstructor: paramwise_cfg.num_layers '
                             f'must be a positive integer, got {num_layers!r}')
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = hornet_layer_id(name, num_layers)
            if layer_id > num_layers + 1 or (layer_id == num_layers and
                                             not name.startswith('backbone.stages.3.')):
                raise ValueError(f'{name}: layer id {layer_id} exceeds num_layers='
                                 f'{num_layers}; raise paramwise_cfg.num_layers')
            no_decay = param.ndim == 1 or name.endswith('.bias')
            key = (layer_id, no_decay)
            if key not in groups:
                scale = decay_rate**(num_layers + 1 - layer_id)
                groups[key] = dict(params=[], lr=self.base_lr * scale,
                                   weight_decay=0.0 if no_decay else self.base_wd,
                                   lr_scale=scale, layer_id=layer_id)
            groups[key]['params'].append(param)
        params.extend(groups[key] for key in sorted(groups))
