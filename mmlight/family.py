"""A backbone family is one record (timm's ``default_cfgs`` beside the model).

Each family module under :mod:`mmlight.models.backbones` declares, beside its backbone, one
:class:`BackboneFamily`: its registered backbone types and variants, its named ImageNet weights
(source, licence, layout), its checkpoint converter, its paper and the published COCO AP of its
configs where the source prints that exact setting. :func:`register_family` enters it here;
every table the tools and docs read is made from :data:`FAMILIES`: the converters'
(``tools/model_converters/convert.py``), the weights by name (``mmlight://NAME``), the backbone
inferred from a checkpoint's shapes, OpenMMLab's metafiles (``model-index.yml``), the model
zoo's family section and the backbone contract suite. One key names a family everywhere.

A new family is its module (the backbone and its record) and its configs, plus a converter
(a ``convert`` and a ``detect`` function, entered with :func:`register_converter` under the
family's key) where its checkpoints use other keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmlight.utils.pretrained import register_checkpoint_filter, unregister_checkpoint_filter
from mmlight.utils.state_dict import strip_key_prefix


@dataclass(frozen=True)
class WeightSource:
    """One place an official file can be had.

    Args:
        url (str): Where to download it; ``None`` where no program can (e.g. a Google Drive
            page: see ``page``).
        filename (str): The file's official name. ``MMLIGHT_WEIGHTS_DIR`` is searched for this
            name, and ``MMLIGHT_WEIGHTS_URL`` mirrors keep it.
        layout (str): Key layout of the file ('official', 'timm', 'torchvision',
            'mmpretrain'); the family's converter reads it.
        sha256 (str, optional): The file's sha256, or the prefix of it that the source
            publishes in the file name (torchvision, OpenMMLab). ``None`` where the source
            publishes none.
        page (str, optional): The page a person opens to download the file by hand.
    """

    url: str | None
    filename: str
    layout: str
    sha256: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class PretrainedWeights:
    """A named set of ImageNet weights for one mmlight backbone.

    Args:
        name (str): What ``mmlight://NAME`` refers to.
        family (str): The key of the family whose converter reads its files.
        model (dict): The mmlight backbone these weights fit (``type`` and its architecture
            arguments); the converted file is loaded strictly into it before it is cached.
        sources (tuple[WeightSource]): Tried in order.
        top1 (float): ImageNet-1k top-1 accuracy (%) as ``top1_source`` reports it.
        top1_source (str): Who reports ``top1`` (the README or paper table it comes from).
        params (float): Parameters of the classification network (millions) as reported.
        licence (str): The licence of the repository that publishes the file.
    """

    name: str
    family: str
    model: dict = field(hash=False)
    sources: tuple[WeightSource, ...]
    top1: float
    top1_source: str
    params: float
    licence: str = ''


@dataclass(frozen=True)
class Converter:
    """How a family's checkpoints become mmlight keys.

    Args:
        convert: source state_dict (unwrapped, ``module.`` removed) -> the mmlight backbone's
            state_dict; classification heads are dropped.
        detect: the state_dict's keys -> the layout they are in ('official', 'timm', ...), or
            None where they are not this family's.
        expected: what its files look like, for the error that meets another file.
    """

    convert: Callable[[dict], dict]
    detect: Callable[[Any], str | None]
    expected: str


@dataclass(frozen=True)
class Paper:
    """The paper a family comes from."""

    title: str
    url: str


@dataclass(frozen=True)
class BackboneFamily:
    """One backbone family: everything the tables of tools and docs say about it.

    Its converter, where its checkpoints use other keys, is entered under the same key with
    :func:`register_converter` (it lives beside the key mappings of :mod:`mmlight.converters`,
    which read the family's architecture tables).

    Args:
        key: its one name: the converter's, the weights' ``family``, the metafile's
            (``configs/metafiles/KEY.yml``).
        name: its name in the metafile collection and the docs ('GhostNetV2').
        paper: the paper it comes from.
        backbones: the backbone types it registers in mmdet's ``MODELS``.
        variants: a converted state_dict -> the backbone configs it may be made for (every
            width, depth and arch the family builds); the first whose tensors it holds exactly
            is the backbone a checkpoint is for.
        contract_variants: a small variant of each backbone type (its arguments), for the backbone
            contract suite (the contract does not depend on the width).
        weights: its named ImageNet weights.
        published: the model zoo's note on where its published COCO numbers come from.
        published_ap: config name -> the model zoo's 'published COCO AP' cell, only where the
            source prints that exact setting ('51.7 box / 44.8 mask ([HorNet][hornet])').
    """

    key: str
    name: str
    paper: Paper
    backbones: tuple[str, ...]
    variants: Callable[[dict], list[dict]]
    contract_variants: dict[str, dict]
    weights: tuple[PretrainedWeights, ...] = ()
    published: str = ''
    published_ap: dict[str, str] = field(default_factory=dict)


FAMILIES: dict[str, BackboneFamily] = {}
CONVERTERS: dict[str, Converter] = {}
WEIGHTS: dict[str, PretrainedWeights] = {}


def register_family(family: BackboneFamily) -> BackboneFamily:
    """Enter ``family`` and its weights into the tables.

    Raises:
        KeyError: the key, or a weights name, is registered already.
        ValueError: the record contradicts itself (a weight of another family, a test variant
            of a type it does not register).
    """
    if family.key in FAMILIES:
        raise KeyError(f'backbone family {family.key!r} is registered twice')
    if set(family.contract_variants) != set(family.backbones):
        raise ValueError(
            f'family {family.key!r}: contract_variants must name each of its backbones '
            f'{list(family.backbones)}, got {sorted(family.contract_variants)}'
        )
    for entry in family.weights:
        if entry.family != family.key:
            raise ValueError(
                f'weights {entry.name!r} are declared by family {family.key!r} and name '
                f'family {entry.family!r}'
            )
    FAMILIES[family.key] = family
    register_weights(*family.weights)
    return family


def register_converter(key: str, converter: Converter) -> Converter:
    """Enter the converter of the registered family ``key``; it becomes the checkpoint filter
    of the family's backbones, so that Pretrained loading converts unconverted files."""
    if key not in FAMILIES:
        raise KeyError(
            f'a converter for family {key!r}, which is not registered; registered: '
            f'{sorted(FAMILIES)}'
        )
    if key in CONVERTERS:
        raise KeyError(f'family {key!r} has a converter already')
    CONVERTERS[key] = converter
    register_checkpoint_filter(*FAMILIES[key].backbones)(_family_filter(key))
    return converter


def unregister_family(key: str) -> None:
    """Take a family (its weights, its converter and checkpoint filter) out of the tables."""
    family = FAMILIES.pop(key)
    for entry in family.weights:
        WEIGHTS.pop(entry.name, None)
    if CONVERTERS.pop(key, None) is not None:
        unregister_checkpoint_filter(*family.backbones)


def register_weights(*entries: PretrainedWeights) -> None:
    """Add named weights to a registered family (:func:`register_family` adds a record's
    own)."""
    for entry in entries:
        if entry.name in WEIGHTS:
            raise KeyError(f'weights {entry.name!r} are registered twice')
        if not entry.sources:
            raise ValueError(f'weights {entry.name!r} have no source')
        if entry.family not in FAMILIES:
            raise ValueError(
                f'weights {entry.name!r} name family {entry.family!r}, which is not registered; '
                f'registered: {sorted(FAMILIES)}'
            )
        WEIGHTS[entry.name] = entry


def get_weights(name: str) -> PretrainedWeights:
    if name not in WEIGHTS:
        raise KeyError(
            f'no pretrained weights are named {name!r}; valid names: {", ".join(sorted(WEIGHTS))}'
        )
    return WEIGHTS[name]


def weights_for_backbone(type_name: str) -> list[str]:
    """The names of the weights that fit backbones of this registry type."""
    return sorted(name for name, entry in WEIGHTS.items() if entry.model['type'] == type_name)


def family_of_backbone(type_name: str) -> BackboneFamily | None:
    """The family that registers this backbone type (None: none)."""
    return next((f for f in FAMILIES.values() if type_name in f.backbones), None)


def converter_names() -> list[str]:
    """The keys of the families with a converter (``convert.py``'s choices)."""
    return sorted(CONVERTERS)


def strip_module_prefix(state_dict):
    return strip_key_prefix(state_dict, 'module.', only_if_all=True)


def is_mmlight_layout(keys) -> bool:
    return any(k.startswith('stem.') for k in keys) and any(k.startswith('stages.') for k in keys)


def guess_family(keys):
    """(family, layout) of the first family whose converter recognises these keys."""
    for name, converter in CONVERTERS.items():
        layout = converter.detect(keys)
        if layout is not None:
            return name, layout
    return None, None


def _describe_keys(keys, limit=4):
    keys = list(keys)
    return ', '.join(keys[:limit]) + (f' ... ({len(keys)} keys)' if len(keys) > limit else '')


def convert_state_dict(source: str, state_dict, origin: str = 'the checkpoint'):
    """Convert ``state_dict`` with family ``source``'s converter, after checking that its keys
    are that family's: a file of another family (or another network) is a clear error naming
    what was expected and what was found, never an error from inside the key mapping."""
    names = converter_names()
    if source not in names:
        raise ValueError(f'unknown converter {source!r}; valid choices: {names}')
    converter = CONVERTERS[source]
    state_dict = strip_module_prefix(state_dict)
    if not state_dict:
        raise ValueError(f'{origin} holds no tensors')
    keys = list(state_dict)
    if converter.detect(keys) is None:
        other, layout = guess_family(keys)
        found = f'{layout} {other} keys' if other else f'keys {_describe_keys(keys)}'
        if other is None and is_mmlight_layout(keys):
            found = 'mmlight keys (it is converted already)'
        raise ValueError(
            f'{origin} is not a {source} checkpoint: expected {converter.expected}; found {found}'
        )
    return converter.convert(state_dict)


def _family_filter(name):
    def checkpoint_filter(state_dict, source='the checkpoint'):
        if is_mmlight_layout(state_dict):
            return state_dict
        return convert_state_dict(name, state_dict, origin=source)

    return checkpoint_filter
