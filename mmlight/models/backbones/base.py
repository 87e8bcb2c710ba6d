"""The backbone contract every mmlight family shares.

Levels are numbered the same way in every family: 0-3 are the last feature maps at strides
4/8/16/32, 4 is the family's final 1x1 expansion conv (stride 32) where it has one. A family
builds ``self.stem`` and ``self.stages`` (one module per level, run in order) and hands the
per-level channels to :meth:`_init_contract`; out_indices, out_channels, frozen_stages,
norm_eval and with_cp then behave identically everywhere.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmlight.utils.checkpoint import load_pretrained_strict

LEVEL_STRIDES = (4, 8, 16, 32, 32)
PRETRAINED_HINT = ("Official ImageNet weights load by name (downloaded and converted on first "
                   "use): checkpoint='mmlight://NAME'; the README's weights table lists the names.")


def validate_widen_factor(widen_factor, allowed: Optional[Sequence[float]] = None):
    if isinstance(widen_factor, bool) or not isinstance(widen_factor, (int, float)) \
            or widen_factor <= 0:
        raise ValueError(f'widen_factor must be a positive number, got {widen_factor!r}')
    if allowed is not None and float(widen_factor) not in [float(a) for a in allowed]:
        raise ValueError(f'widen_factor {widen_factor!r} has no architecture table; '
                         f'valid choices: {sorted(allowed)}')
    return float(widen_factor)


def check_choice(name: str, value, choices):
    if value not in choices:
        raise ValueError(f'{name} {value!r} is not supported; valid choices: {list(choices)}')
    return value


class MultiScaleBackbone(BaseModule):
    """Base class of mmlight's multi-scale backbones.

    Subclasses call ``super().__init__(init_cfg=...)``, build ``self.stem`` and
    ``self.stages`` (an ``nn.ModuleList``; ``stages[i]`` produces level ``i``), and then call
    :meth:`_init_contract`. Optional per-level output transforms (e.g. the detection-only
    norms of HorNet) go into ``self.out_norms``, an ``nn.ModuleDict`` keyed by level.
    """
    # state_dict prefixes of detection-only layers that ImageNet checkpoints do not have
    detection_only_prefixes = ()

    def _init_contract(self,
                       level_channels: Sequence[int],
                       out_indices: Sequence[int],
                       frozen_stages: int = -1,
                       norm_eval: bool = False,
                       with_cp: bool = False):
        num_levels = len(level_channels)
        if len(self.stages) != num_levels:
            raise RuntimeError(f'{type(self).__name__} built {len(self.stages)} stages '
                               f'for {num_levels} levels')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        valid = list(range(num_levels))
        if not out_indices:
            raise ValueError(f'out_indices must not be empty; valid levels: {valid}')
        for index in out_indices:
            if isinstance(index, bool) or not isinstance(index, int) or index not in valid:
                raise ValueError(
                    f'out_indices {out_indices} of {type(self).__name__}: level {index!r} is out '
                    f'of range; valid levels: {valid} (strides '
                    f'{list(LEVEL_STRIDES[:num_levels])}, channels {list(level_channels)})')
        if len(set(out_indices)) != len(out_indices):
            raise ValueError(f'out_indices {out_indices} has duplicated levels')
        if list(out_indices) != sorted(out_indices):
            raise ValueError(f'out_indices {out_indices} must be increasing (low to high level)')
        if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) \
                or not -1 <= frozen_stages <= num_levels:
            raise ValueError(
                f'frozen_stages {frozen_stages!r} is out of range; valid values: -1 (nothing '
                f'frozen), 0 (stem) .. {num_levels} (stem and the first k stages)')
        self.level_channels = list(level_channels)
        self.out_indices = out_indices
        self.out_channels = [self.level_channels[i] for i in out_indices]
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        # Levels past the last requested one never run; taking them out of autograd keeps DDP
        # (find_unused_parameters=False) happy while checkpoints still load strictly.
        for stage in self.stages[out_indices[-1] + 1:]:
            for param in stage.parameters():
                param.requires_grad = False
        self._freeze_stages()

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        return [self.stem] + list(self.stages[:self.frozen_stages])

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def _run_stage(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if not (self.with_cp and self.training and x.requires_grad):
            return stage(x)
        blocks = stage if isinstance(stage, nn.Sequential) else [stage]
        for block in blocks:
            x = cp.checkpoint(block, x, use_reentrant=False)
        return x

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        last = self.out_indices[-1]
        for level, stage in enumerate(self.stages):
            x = self._run_stage(stage, x)
            if level in self.out_indices:
                norm = getattr(self, 'out_norms', None)
                outs.append(norm[str(level)](x) if norm is not None else x)
            if level == last:
                break
        return tuple(outs)

    def init_weights(self):
        # Pretrained checkpoints are loaded strictly (missing/unexpected keys are an error, not
        # a log line that scrolls by), safely, and converted on load where they are official
        # / timm / torchvision / mmpretrain files; other init_cfg types go through mmengine.
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_strict(self, self.init_cfg['checkpoint'],
                                   prefix=self.init_cfg.get('prefix'), hint=PRETRAINED_HINT,
                                   optional_prefixes=self.detection_only_prefixes)
            self._is_init = True
            return
        super().init_weights()
