# Copyright (c) Meta Platforms, Inc. and affiliates.

# All rights reserved.

# This source code is licensed under the license found in the
# LICENSE file in the root directory of this source tree.

# From raoyongming/HorNet semantic_segmentation/mmcv_custom/layer_decay_optimizer_constructor.py
# (commit 92e98108fdf588ebec4ddcc2777472ca1085bf61): get_num_layer_layer_wise verbatim;
# official_lr_scale_and_weight_decay holds the lines of
# LearningRateDecayOptimizerConstructorHorNet.add_params that give a parameter its lr scale and
# weight decay (decay_type 'layer_wise').


def get_num_layer_layer_wise(var_name, num_max_layer=12):
    
    if var_name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    elif var_name.startswith("backbone.downsample_layers"):
        stage_id = int(var_name.split('.')[2])
        if stage_id == 0:
            layer_id = 0
        elif stage_id == 1 or stage_id == 2:
            layer_id = stage_id + 1
        elif stage_id == 3:
            layer_id = 12
        return layer_id

    elif var_name.startswith("backbone.stages"):
        stage_id = int(var_name.split('.')[2])
        block_id = int(var_name.split('.')[3])
        if stage_id == 0 or stage_id == 1:
            layer_id = stage_id + 1
        elif stage_id == 2:
            layer_id = min(3 + block_id // 2, 11)
        elif stage_id == 3:
            layer_id = 12
        return layer_id
    else:
        return num_max_layer + 1


def official_lr_scale_and_weight_decay(name, param, paramwise_cfg, weight_decay):
    num_layers = paramwise_cfg.get('num_layers') + 2
    decay_rate = paramwise_cfg.get('decay_rate')
    if len(param.shape) == 1 or name.endswith(".bias") or name in ('pos_embed', 'cls_token'):
        this_weight_decay = 0.
    else:
        this_weight_decay = weight_decay
    layer_id = get_num_layer_layer_wise(name, paramwise_cfg.get('num_layers'))
    scale = decay_rate ** (num_layers - layer_id - 1)
    return scale, this_weight_decay
