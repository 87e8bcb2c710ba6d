"""Backbones built by timm, with mmlight's backbone contract.

:class:`TimmBackbone` builds a timm model and regroups its own modules into ``stem`` and
``stages`` (one per level at strides 4/8/16/32), so that ``out_indices``, ``frozen_stages``,
``norm_eval`` and ``with_cp`` behave as in every mmlight family. The levels are the modules
that timm's ``feature_info`` names, the last one at each stride. A model is taken only where
the regrouped modules, run in order, give timm's own features: this is checked when it is
built, at an odd input size, and a model that cannot serve is refused with what it lacks.

MobileNetV4, RepViT, FasterNet, StarNet and FastViT are registered by name, each variant chosen
by ``arch``. timm is imported when one of them is built, not when mmlight is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.utils import digit_version

from mmlight.family import BackboneFamily, Paper, PretrainedWeights, WeightSource, register_family
from mmlight.utils.validators import check_choice

from .base import LEVEL_STRIDES, MultiScaleBackbone

# The timm releases whose model code mmlight's timm backbones were checked against (the
# features of every registered family equal timm's, tests/test_timm_backbones.py)
TIMM_VERSIONS = ('1.0.31', '1.1')
TIMM_INSTALL = f"pip install 'timm>={TIMM_VERSIONS[0]},<{TIMM_VERSIONS[1]}'"
# The input size at which a model is checked when it is built: odd, not square and smaller
# than any size timm builds for, so that a model whose size is fixed when it is built fails
CHECK_SIZE = (97, 75)


def import_timm():
    """timm, after checking that its version is in :data:`TIMM_VERSIONS`.

    Returns:
        The ``timm`` module.
    """
    try:
        import timm
    except ImportError as err:
        raise ImportError(f'timm backbones need timm: {TIMM_INSTALL}') from err
    check_timm_version(timm.__version__)
    return timm


def check_timm_version(version: str) -> None:
    """Refuse a timm release outside :data:`TIMM_VERSIONS` (from the first, up to the second).

    Args:
        version: timm's ``__version__``.
    """
    low, high = (digit_version(v) for v in TIMM_VERSIONS)
    if not low <= digit_version(version) < high:
        raise ImportError(
            f'timm backbones are checked against timm >={TIMM_VERSIONS[0]},<{TIMM_VERSIONS[1]}; '
            f'found timm {version}: {TIMM_INSTALL}'
        )


class TimmModelRefused(ValueError):
    """A timm model that cannot serve as a multi-scale detection backbone."""


def _refuse(model_name: str, lacks: str) -> TimmModelRefused:
    return TimmModelRefused(
        f'timm model {model_name!r} cannot serve as a detection backbone: {lacks}'
    )


@MODELS.register_module()
class TimmBackbone(MultiScaleBackbone):
    """Any timm model whose features at strides 4, 8, 16 and 32 come from one sequence of
    modules, with mmlight's backbone contract.

    Args:
        model_name (str): timm's name of the model (``timm.list_models()``).
        out_indices (Sequence[int] | int): Levels to output (0-3: strides 4-32; 4: the
            family's final 1x1 expansion where it has one). Default: (0, 1, 2, 3).
        frozen_stages (int): -1: nothing frozen; 0: the stem; k: the stem and the first k
            stages, their norms in eval mode. Default: -1.
        norm_eval (bool): Keep every BatchNorm in eval mode while training. Default: False.
        with_cp (bool): Checkpoint each trainable block (memory for time). Default: False.
        drop_path_rate (float): Stochastic depth rate, passed to timm. Default: 0.
        output_norms (bool, optional): A BatchNorm on each output level, as the official
            detection backbones of FasterNet and FastViT (``fork_feat``) have; new layers that
            ImageNet checkpoints do not hold. None: the family's detection code decides (off
            for :class:`TimmBackbone`). Default: None.
        model_kwargs (dict, optional): Other arguments of ``timm.create_model``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)`` for a
            checkpoint: ``mmlight://NAME`` (timm's ImageNet weights by name), timm's own file
            of this model (``.safetensors`` or ``.pth``; converted on load), or a checkpoint of
            this backbone (mmlight's keys, or a detector's with ``prefix``).

    Raises:
        TimmModelRefused: the model has no features at strides 4-32, its features do not come
            from one sequence of modules, or it does not run at other input sizes than the one
            it is built for.
    """

    # Where the stride-32 feature that timm names is the family's final 1x1 expansion (as in
    # GhostNet), the stage before it is level 3 and the expansion level 4
    final_expansion = False
    # The family's official detection backbone puts a BatchNorm on each output level
    detection_output_norms = False

    def __init__(
        self,
        model_name: str,
        out_indices: Sequence[int] | int = (0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        with_cp: bool = False,
        drop_path_rate: float = 0.0,
        output_norms: bool | None = None,
        model_kwargs: dict | None = None,
        init_cfg: dict | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.output_norms = self.detection_output_norms if output_norms is None else output_norms
        self.detection_only_prefixes = ('out_norms.',) if self.output_norms else ()
        timm = import_timm()
        if not isinstance(model_name, str) or not timm.is_model(model_name):
            raise ValueError(
                f'{type(self).__name__}: model_name must be a timm model name '
                f'(timm.list_models()); got {model_name!r}'
            )
        self.model_name = model_name
        kwargs = dict(model_kwargs or {})
        if drop_path_rate:
            kwargs['drop_path_rate'] = drop_path_rate
        model = timm.create_model(model_name, pretrained=False, **kwargs)
        level_names = self._level_names(model)
        stem, stages, self.timm_prefixes = _regroup(model, model_name, level_names)
        channels = _check_sequence(model, model_name, stem, stages, level_names)
        self.stem = stem
        self.stages = stages
        self._init_contract(
            level_channels=channels,
            out_indices=out_indices,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            with_cp=with_cp,
        )

    def _make_output_norm(self, level: int, channels: int) -> nn.Module | None:
        return nn.BatchNorm2d(channels) if self.output_norms else None

    def _level_names(self, model: nn.Module) -> list[str]:
        """The names (in the timm model) of the modules whose outputs are levels 0-3 (and 4)."""
        info = getattr(model, 'feature_info', None)
        if info is None:
            raise _refuse(self.model_name, 'timm gives it no feature_info')
        entries = [(entry['module'], entry['reduction']) for entry in info]
        names = []
        for stride in LEVEL_STRIDES[:4]:
            at_stride = [name for name, reduction in entries if reduction == stride]
            if not at_stride:
                found = sorted({reduction for _, reduction in entries})
                raise _refuse(
                    self.model_name,
                    f'no features at stride {stride} (it has strides {found}; levels need '
                    f'strides {list(LEVEL_STRIDES[:4])})',
                )
            names.append(at_stride[-1])
        if self.final_expansion:
            names.append(names[-1])
            names[3] = _previous_sibling(model, self.model_name, names[3])
        return names

    def convert_timm_state_dict(self, state_dict: dict) -> dict:
        """A state_dict of timm's model (``timm.create_model(model_name).state_dict()``, or
        its ImageNet checkpoint) with this backbone's keys; the classifier's and the layers
        after the last level are left out.

        Args:
            state_dict: timm's keys -> tensors.

        Returns:
            This backbone's keys -> the same tensors.
        """
        converted = {}
        for key, value in state_dict.items():
            for ours, theirs in self.timm_prefixes.items():
                if key.startswith(theirs + '.'):
                    converted[ours + key[len(theirs) :]] = value
                    break
        return converted

    def checkpoint_filter(self, state_dict: dict, source: str = 'the checkpoint') -> dict:
        """What Pretrained loading calls (timm's ``checkpoint_filter_fn``): a checkpoint with
        this backbone's keys as it is, timm's model's keys converted.

        Args:
            state_dict: The checkpoint's tensors (unwrapped).
            source: What the checkpoint is (the filters' common signature; the strict load
                that follows names it in its error).

        Returns:
            The tensors with this backbone's keys where they are timm's, else as they are;
            strict loading then checks that they fit and names what does not.
        """
        own = set(self.state_dict())
        converted = self.convert_timm_state_dict(state_dict)
        # the reading under which more of its keys are this backbone's (some of timm's keys and
        # of ours start alike): strict loading then names what does not fit
        if len(own.intersection(state_dict)) >= len(own.intersection(converted)):
            return state_dict
        return converted

    def reparameterize(self) -> None:
        """Fold training-time branches into single convolutions, in place, for deployment
        (timm's ``reparameterize_model``: RepViT's ``fuse``, FastViT's ``reparameterize``).
        The features stay the same up to float rounding."""
        from timm.utils.model import reparameterize_model

        reparameterize_model(self, inplace=True)


def _previous_sibling(model: nn.Module, model_name: str, name: str) -> str:
    parent, _, child = name.rpartition('.')
    siblings = [n for n, _ in model.get_submodule(parent).named_children()]
    index = siblings.index(child)
    if index == 0:
        raise _refuse(model_name, f'no stage before its final expansion {name!r}')
    return f'{parent}.{siblings[index - 1]}' if parent else siblings[index - 1]


def _regroup(model: nn.Module, model_name: str, level_names: Sequence[str]):
    """(stem, stages, prefixes) made of the timm model's own modules: the modules of the
    container that holds the levels, cut after each level; the stem is what comes before them.
    ``prefixes`` maps each module's name here to its name in the timm model."""
    parents = {name.rpartition('.')[0] for name in level_names}
    if len(parents) != 1:
        raise _refuse(
            model_name,
            f'its features {list(level_names)} are not children of one module, so they do not '
            'come from one sequence of stages',
        )
    parent = parents.pop()
    if parent:
        top = parent.split('.')[0]
        if top != parent:
            raise _refuse(model_name, f'its stages sit deeper than one module ({parent!r})')
        children = list(model.named_children())
        index = [n for n, _ in children].index(top)
        stem_modules = children[:index]
        sequence = [(f'{top}.{n}', m) for n, m in model.get_submodule(top).named_children()]
    else:
        sequence = list(model.named_children())
        first = [n for n, _ in sequence].index(level_names[0])
        stem_modules = sequence[:first]
        sequence = sequence[first:]
    if not stem_modules:
        raise _refuse(model_name, 'no stem before its first stage')
    prefixes = {f'stem.{i}': name for i, (name, _) in enumerate(stem_modules)}
    names = [n for n, _ in sequence]
    stages, start = [], 0
    for level, name in enumerate(level_names):
        end = names.index(name) + 1
        if end <= start:
            raise _refuse(model_name, f'its levels {list(level_names)} are not in order')
        stages.append(nn.Sequential(*[m for _, m in sequence[start:end]]))
        for i, (timm_name, _) in enumerate(sequence[start:end]):
            prefixes[f'stages.{level}.{i}'] = timm_name
        start = end
    stem = nn.Sequential(*[module for _, module in stem_modules])
    return stem, nn.ModuleList(stages), prefixes


@torch.no_grad()
def _check_sequence(model, model_name, stem, stages, level_names) -> list[int]:
    """The channels of each level, after checking that the regrouped modules, run in order,
    give the outputs of those modules in timm's own ``forward_features`` at CHECK_SIZE."""
    if any(param.is_meta for param in model.parameters()):
        # built for its shapes only (under torch.device('meta')): nothing to compare, the
        # channels come from running the regrouped modules on a meta tensor
        x = stem(torch.empty(1, 3, *CHECK_SIZE, device='meta'))
        channels = []
        for stage in stages:
            x = stage(x)
            channels.append(int(x.shape[1]))
        return channels
    was_training = model.training
    model.eval()
    captured: dict[str, torch.Tensor] = {}

    def keep(name, out):
        # a copy: the next module may write into its input (an in-place activation)
        captured.setdefault(name, out.clone() if isinstance(out, torch.Tensor) else out)

    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: keep(name, out)
        )
        for name in dict.fromkeys(level_names)
    ]
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(1, 3, *CHECK_SIZE, generator=generator)
    try:
        model.forward_features(image)
    except Exception as err:
        raise _refuse(
            model_name,
            f'it does not run at input sizes other than the one it is built for, or at odd '
            f'sizes ({CHECK_SIZE[0]}x{CHECK_SIZE[1]} failed: {type(err).__name__}: '
            f'{str(err).splitlines()[0] if str(err) else ""})',
        ) from err
    finally:
        for hook in hooks:
            hook.remove()
    x = stem(image)
    channels = []
    for level, (name, stage) in enumerate(zip(level_names, stages, strict=True)):
        x = stage(x)
        expected = captured.get(name)
        if not isinstance(expected, torch.Tensor) or expected.dim() != 4:
            raise _refuse(model_name, f'its level {level} ({name!r}) is not an NCHW feature map')
        if expected.shape != x.shape or not torch.equal(expected, x):
            raise _refuse(
                model_name,
                f'its modules run in order do not give its own features at level {level} '
                f'({name!r}): timm computes something between them',
            )
        channels.append(int(x.shape[1]))
    model.train(was_training)
    return channels


class _TimmFamilyBackbone(TimmBackbone):
    """A registered timm family: ``arch`` chooses the variant (timm's ``PREFIX + arch``)."""

    timm_prefix = ''
    archs: tuple[str, ...] = ()

    def __init__(self, arch: str, **kwargs):
        check_choice('arch', arch, self.archs, owner=type(self).__name__)
        self.arch = arch
        super().__init__(model_name=self.timm_prefix + arch, **kwargs)


def _family_docstring(name, prefix, archs, extra=''):
    return (
        f'{name} (timm\'s ``{prefix}*``) with mmlight\'s backbone contract.{extra}\n\n'
        f'    Args:\n'
        f'        arch (str): One of {", ".join(repr(a) for a in archs)} '
        f'(timm\'s ``{prefix}ARCH``).\n'
        f'        **kwargs: The other arguments of :class:`TimmBackbone` (``out_indices``, '
        f'``frozen_stages``, ``norm_eval``, ``with_cp``, ``drop_path_rate``, '
        f'``output_norms``, ``init_cfg``).\n'
    )


@MODELS.register_module()
class MobileNetV4(_TimmFamilyBackbone):
    timm_prefix = 'mobilenetv4_'
    archs = (
        'conv_small',
        'conv_medium',
        'conv_large',
        'hybrid_medium',
        'hybrid_large',
    )
    final_expansion = True
    __doc__ = _family_docstring(
        'MobileNetV4',
        timm_prefix,
        archs,
        ' Level 4 is its final 1x1 expansion to 960 channels.',
    )


@MODELS.register_module()
class RepViT(_TimmFamilyBackbone):
    timm_prefix = 'repvit_'
    archs = ('m0_9', 'm1_0', 'm1_1', 'm1_5', 'm2_3')
    __doc__ = _family_docstring('RepViT', timm_prefix, archs)


@MODELS.register_module()
class FasterNet(_TimmFamilyBackbone):
    timm_prefix = 'fasternet_'
    archs = ('t0', 't1', 't2', 's', 'm', 'l')
    # JierunChen/FasterNet detection/backbones/fasternet.py builds models/fasternet.py with
    # fork_feat=True: a BatchNorm on each of the four outputs
    detection_output_norms = True
    __doc__ = _family_docstring(
        'FasterNet',
        timm_prefix,
        archs,
        ' A BatchNorm on each output level, as in its official detection backbone.',
    )


@MODELS.register_module()
class StarNet(_TimmFamilyBackbone):
    timm_prefix = 'starnet_'
    archs = ('s050', 's100', 's150', 's1', 's2', 's3', 's4')
    __doc__ = _family_docstring('StarNet', timm_prefix, archs)


@MODELS.register_module()
class FastViT(_TimmFamilyBackbone):
    timm_prefix = 'fastvit_'
    archs = ('t8', 't12', 's12', 'sa12', 'sa24', 'sa36', 'ma36')
    # apple/ml-fastvit models/fastvit.py with fork_feat=True: a BatchNorm on each output
    detection_output_norms = True
    __doc__ = _family_docstring(
        'FastViT',
        timm_prefix,
        archs,
        ' A BatchNorm on each output level, as in its official fork_feat backbone.',
    )


HF_HUB = 'https://huggingface.co/timm'


def timm_weights(
    cls: type[_TimmFamilyBackbone],
    family: str,
    arch: str,
    tag: str,
    top1: float,
    top1_source: str,
    params: float,
    licence: str,
) -> PretrainedWeights:
    """timm's ImageNet weights ``PREFIX + arch`` + ``.tag`` on the Hugging Face hub, by that
    name (``mmlight://repvit_m1_1.dist_300e_in1k``): its safetensors file, in timm's layout.

    The hub publishes no hash in a file's name, so the file is not checked against one; it
    holds tensors only (nothing in it can run code) and is loaded strictly.
    """
    name = f'{cls.timm_prefix}{arch}.{tag}'
    return PretrainedWeights(
        name=name,
        family=family,
        model=dict(type=cls.__name__, arch=arch),
        sources=(
            WeightSource(
                url=f'{HF_HUB}/{name}/resolve/main/model.safetensors',
                filename=f'{name}.safetensors',
                layout='timm',
                page=f'{HF_HUB}/{name}',
            ),
        ),
        top1=top1,
        top1_source=top1_source,
        params=params,
        licence=licence,
    )


_REPVIT_README = 'THU-MIG/RepViT README (ImageNet-1K, distilled)'
_FASTERNET_README = 'JierunChen/FasterNet README'
_FASTVIT_README = 'apple/ml-fastvit README (ImageNet-1K)'
_STARNET_README = 'ma-xu/Rewrite-the-Stars README'
# The weights that the official detection configs start from, where they exist (RepViT:
# detection/configs/mask_rcnn_repvit_*; FasterNet: detection/configs/fasternet/*), and the
# weights of the sizes mmlight's configs use
TIMM_WEIGHTS = {
    'mobilenetv4': (
        timm_weights(
            MobileNetV4,
            'mobilenetv4',
            'conv_small',
            'e2400_r224_in1k',
            73.8,
            'MobileNetV4 paper (MNv4-Conv-S, trained by its authors; these weights '
            'are timm\'s own training of the same network)',
            3.8,
            'Apache-2.0',
        ),
    ),
    'repvit': (
        timm_weights(
            RepViT, 'repvit', 'm1_1', 'dist_300e_in1k', 80.7, _REPVIT_README, 8.2, 'Apache-2.0'
        ),
        timm_weights(
            RepViT, 'repvit', 'm1_5', 'dist_300e_in1k', 82.3, _REPVIT_README, 14.0, 'Apache-2.0'
        ),
        timm_weights(
            RepViT, 'repvit', 'm2_3', 'dist_450e_in1k', 83.7, _REPVIT_README, 22.9, 'Apache-2.0'
        ),
    ),
    'fasternet': tuple(
        timm_weights(
            FasterNet,
            'fasternet',
            arch,
            'in1k',
            top1,
            _FASTERNET_README,
            params,
            'Apache-2.0 on its hub page (the original repository has no licence file)',
        )
        for arch, top1, params in (('s', 81.3, 31.1), ('m', 83.0, 53.5), ('l', 83.5, 93.4))
    ),
    'starnet': (
        timm_weights(StarNet, 'starnet', 's1', 'in1k', 73.5, _STARNET_README, 2.9, 'Apache-2.0'),
    ),
    'fastvit': tuple(
        timm_weights(
            FastViT,
            'fastvit',
            arch,
            'apple_in1k',
            top1,
            _FASTVIT_README,
            params,
            'Apple Sample Code License (apple/ml-fastvit LICENSE)',
        )
        for arch, top1, params in (('sa12', 80.9, 11.6), ('sa24', 82.7, 21.5))
    ),
}


def _arch_variants(type_name, archs):
    return lambda _state_dict: [dict(type=type_name, arch=arch) for arch in archs]


_REPVIT_AP = '([RepViT][repvit])'
_FASTERNET_AP = '([FasterNet][fasternet])'
PUBLISHED = {
    'mobilenetv4': (
        'Built by timm. The paper\'s COCO results are RetinaNet with its own recipe, not these '
        'configs: no published number for RTMDet-tiny or YOLOv4 on MobileNetV4.',
        {},
    ),
    'repvit': (
        'Built by timm. [THU-MIG/RepViT `detection/README.md`][repvit] (mmdet 2.x): Mask R-CNN + '
        'FPN 1x, M1.1 39.8 / 37.2, M1.5 41.6 / 38.6, M2.3 44.6 / 40.8 (box / mask). '
        '`mask_rcnn_repvit-*` are those configs, value for value. The repository has no Faster '
        'R-CNN config: no published number for `faster_rcnn_repvit-*`.',
        {
            'mask_rcnn_repvit-m1_1_fpn_1x': f'39.8 box / 37.2 mask {_REPVIT_AP}',
            'mask_rcnn_repvit-m1_5_fpn_1x': f'41.6 box / 38.6 mask {_REPVIT_AP}',
            'mask_rcnn_repvit-m2_3_fpn_1x': f'44.6 box / 40.8 mask {_REPVIT_AP}',
        },
    ),
    'fasternet': (
        'Built by timm. [JierunChen/FasterNet `detection/README.MD`][fasternet] (mmdet 2.x): '
        'Mask R-CNN + FPN 1x, FasterNet-S 39.9 / 36.9, -M 43.0 / 39.1, -L 44.0 / 39.9 (box / '
        'mask). `mask_rcnn_fasternet-*` are those configs, value for value. No Faster R-CNN '
        'config there: no published number for `faster_rcnn_fasternet-*`.',
        {
            'mask_rcnn_fasternet-s_fpn_1x': f'39.9 box / 36.9 mask {_FASTERNET_AP}',
            'mask_rcnn_fasternet-m_fpn_1x': f'43.0 box / 39.1 mask {_FASTERNET_AP}',
            'mask_rcnn_fasternet-l_fpn_1x': f'44.0 box / 39.9 mask {_FASTERNET_AP}',
        },
    ),
    'starnet': ('Built by timm. The paper reports ImageNet only: no published number.', {}),
    'fastvit': (
        'Built by timm. apple/ml-fastvit publishes no detection config or result. Later papers '
        'quote Mask R-CNN 1x, SA12 38.9 / 35.9 and SA24 42.0 / 38.0 (box / mask); that is '
        'second-hand, with an unknown recipe, and the official `fork_feat` backbone of the SA '
        'variants skips stage 3\'s attention blocks ([backbones.md](backbones.md#backbones-built'
        '-by-timm)): no published number for these configs (PoolFormer\'s recipe).',
        {},
    ),
}
for _key, _cls, _paper in (
    (
        'mobilenetv4',
        MobileNetV4,
        Paper(
            'MobileNetV4: Universal Models for the Mobile Ecosystem',
            'https://arxiv.org/abs/2404.10518',
        ),
    ),
    (
        'repvit',
        RepViT,
        Paper(
            'RepViT: Revisiting Mobile CNN From ViT Perspective', 'https://arxiv.org/abs/2307.09283'
        ),
    ),
    (
        'fasternet',
        FasterNet,
        Paper(
            "Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks",
            'https://arxiv.org/abs/2303.03667',
        ),
    ),
    (
        'starnet',
        StarNet,
        Paper('Rewrite the Stars', 'https://arxiv.org/abs/2403.19967'),
    ),
    (
        'fastvit',
        FastViT,
        Paper(
            'FastViT: A Fast Hybrid Vision Transformer using Structural Reparameterization',
            'https://arxiv.org/abs/2303.14189',
        ),
    ),
):
    register_family(
        BackboneFamily(
            key=_key,
            name=_cls.__name__,
            paper=_paper,
            backbones=(_cls.__name__,),
            variants=_arch_variants(_cls.__name__, _cls.archs),
            contract_variants={_cls.__name__: dict(arch=_cls.archs[0])},
            weights=TIMM_WEIGHTS[_key],
            published=PUBLISHED[_key][0],
            published_ap=PUBLISHED[_key][1],
        )
    )
register_family(
    BackboneFamily(
        key='timm',
        name='TimmBackbone',
        paper=Paper(
            'PyTorch Image Models (timm)', 'https://github.com/huggingface/pytorch-image-models'
        ),
        backbones=('TimmBackbone',),
        variants=lambda _state_dict: [],
        contract_variants={'TimmBackbone': dict(model_name='efficientvit_b0')},
        published='Any timm model that passes its checks. No published number.',
    )
)
