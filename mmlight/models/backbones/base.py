"""The backbone contract every mmlight family shares.

Levels are numbered the same way in every family: 0-3 are the last feature maps at strides
4/8/16/32, 4 is the family's final 1x1 expansion conv (stride 32) where it has one. A family
builds ``self.stem`` and ``self.stages`` (one module per level, run in order) and hands the
per-level channels to :meth:`_init_contract`; out_indices, out_channels, frozen_stages,
norm_eval and with_cp then behave identically everywhere.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmlight.utils.pretrained import load_pretrained_strict
from mmlight.utils.validators import check_integer, is_integer

LEVEL_STRIDES = (4, 8, 16, 32, 32)
PRETRAINED_HINT = (
    "Official ImageNet weights load by name (downloaded and converted on first "
    "use): checkpoint='mmlight://NAME'; the README's weights table lists the names."
)


@dataclass(frozen=True)
class LevelInfo:
    """What a neck needs to know about one level (timm's ``FeatureInfo`` entry)."""

    channels: int
    stride: int


def resolve_out_indices(
    out_indices: int | Sequence[int], levels: Sequence[LevelInfo], owner: str
) -> tuple[int, ...]:
    """The one resolver of ``out_indices`` (timm's ``feature_take_indices``): an int or a
    non-empty increasing sequence of distinct valid levels, returned as a tuple."""
    if is_integer(out_indices):
        out_indices = (out_indices,)
    out_indices = tuple(out_indices)
    valid = list(range(len(levels)))
    if not out_indices:
        raise ValueError(f'{owner}: out_indices must not be empty; valid levels: {valid}')
    for index in out_indices:
        if not is_integer(index) or index not in valid:
            raise ValueError(
                f'out_indices {out_indices} of {owner}: level {index!r} is out of range; valid '
                f'levels: {valid} (strides {[level.stride for level in levels]}, channels '
                f'{[level.channels for level in levels]})'
            )
    if len(set(out_indices)) != len(out_indices):
        raise ValueError(f'{owner}: out_indices {out_indices} has duplicated levels')
    if list(out_indices) != sorted(out_indices):
        raise ValueError(
            f'{owner}: out_indices {out_indices} must be increasing (low to high level)'
        )
    return out_indices


class MultiScaleBackbone(BaseModule):
    """Base class of mmlight's multi-scale backbones.

    Subclasses call ``super().__init__(init_cfg=...)``, build ``self.stem`` and
    ``self.stages`` (an ``nn.ModuleList``; ``stages[i]`` produces level ``i``), and then call
    :meth:`_init_contract`. A family that transforms its outputs per level (HorNet's
    detection-only norms) overrides :meth:`_make_output_norm`; the base class builds them into
    ``self.out_norms`` for the requested levels and freezes them with their stage.
    """

    # state_dict prefixes of detection-only layers that ImageNet checkpoints do not have
    detection_only_prefixes = ()
    # True where torch.export cannot prove some of the family's shape facts for every image
    # size of a dynamic ONNX export: the export then keeps them as run-time checks at once
    # (mmlight.deployment.export) instead of first trying to prove them
    export_checks_sizes_at_run_time = False

    def _init_contract(
        self,
        *,
        level_channels: Sequence[int],
        out_indices: int | Sequence[int],
        frozen_stages: int = -1,
        norm_eval: bool = False,
        with_cp: bool = False,
    ):
        owner = type(self).__name__
        num_levels = len(level_channels)
        if len(self.stages) != num_levels:
            raise RuntimeError(f'{owner} built {len(self.stages)} stages for {num_levels} levels')
        self.levels = [
            LevelInfo(int(c), s) for c, s in zip(level_channels, LEVEL_STRIDES, strict=False)
        ]
        out_indices = resolve_out_indices(out_indices, self.levels, owner)
        check_integer(
            'frozen_stages',
            frozen_stages,
            minimum=-1,
            maximum=num_levels,
            owner=f'{owner} (-1: nothing frozen, 0: the stem, k: the stem and the first k stages)',
        )
        self.level_channels = [level.channels for level in self.levels]
        self.out_indices = out_indices
        self.out_channels = [self.level_channels[i] for i in out_indices]
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        norms = {str(i): self._make_output_norm(i, self.level_channels[i]) for i in out_indices}
        self.out_norms = nn.ModuleDict({k: v for k, v in norms.items() if v is not None})
        # Levels past the last requested one never run; taking them out of autograd keeps DDP
        # (find_unused_parameters=False) happy while checkpoints still load strictly.
        for stage in self.stages[out_indices[-1] + 1 :]:
            for param in stage.parameters():
                param.requires_grad = False
        self._freeze_stages()

    def _make_output_norm(self, level: int, channels: int) -> nn.Module | None:
        """A module applied to output ``level`` (built for requested levels only); None: the
        stage output as it is."""
        return None

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        norms = [
            self.out_norms[str(i)] for i in range(self.frozen_stages) if str(i) in self.out_norms
        ]
        return [self.stem, *list(self.stages[: self.frozen_stages]), *norms]

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
        if not (self.with_cp and self.training):
            return stage(x)
        blocks = stage if isinstance(stage, nn.Sequential) else [stage]
        for block in blocks:
            # Decided per block (as mmdet's ResNet does), on the block's own parameters rather
            # than on its input: the first block after frozen stages gets an input without
            # grad and still has activations worth recomputing (non-reentrant checkpointing
            # handles that); a block without parameters (a max-pool) is not worth it.
            if any(p.requires_grad for p in block.parameters()):
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        last = self.out_indices[-1]
        for level, stage in enumerate(self.stages):
            x = self._run_stage(stage, x)
            if level in self.out_indices:
                norm = self.out_norms[str(level)] if str(level) in self.out_norms else None
                out = norm(x) if norm is not None else x
                # Contiguous NCHW out: a channels-last view (HorNet's LayerNorm2d permutes)
                # travels through FPN's convs, and mmcv's RoIAlign reads its input as
                # contiguous NCHW whatever the strides (it would give a HorNet Faster R-CNN
                # wrong features for every RoI). A no-op for outputs that already are.
                outs.append(out.contiguous())
            if level == last:
                break
        return tuple(outs)

    def init_weights(self):
        # Pretrained checkpoints are loaded strictly (missing/unexpected keys are an error, not
        # a log line that scrolls by), safely, and converted on load where they are official
        # / timm / torchvision / mmpretrain files; other init_cfg types go through mmengine.
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_pretrained_strict(
                self,
                self.init_cfg['checkpoint'],
                prefix=self.init_cfg.get('prefix'),
                hint=PRETRAINED_HINT,
                optional_prefixes=self.detection_only_prefixes,
            )
            self._is_init = True
            return
        super().init_weights()
