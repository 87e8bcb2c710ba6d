"""Pretrained weights as data (torchvision's ``WeightsEnum`` idea): where a family's ImageNet
weights come from, in which layout, and what they score.

The entries are declared in :mod:`mmlight.weights.zoo` with :func:`register_weights`; the
``mmlight://NAME`` checkpoint scheme (:mod:`mmlight.weights`) downloads, converts and caches an
entry by name.
"""

from dataclasses import dataclass, field


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
        family (str): The converter family (a key of ``mmlight.converters.CONVERTERS``).
        model (dict): The mmlight backbone these weights fit (``type`` and its architecture
            arguments); the converted file is loaded strictly into it before it is cached.
        sources (tuple[WeightSource]): Tried in order.
        top1 (float): ImageNet-1k top-1 accuracy (%) as ``top1_source`` reports it.
        top1_source (str): Who reports ``top1`` (the README or paper table it comes from).
        params (float): Parameters of the classification network (millions) as reported.
    """

    name: str
    family: str
    model: dict = field(hash=False)
    sources: tuple[WeightSource, ...]
    top1: float
    top1_source: str
    params: float


WEIGHTS: dict[str, PretrainedWeights] = {}


def register_weights(*entries: PretrainedWeights):
    for entry in entries:
        if entry.name in WEIGHTS:
            raise KeyError(f'weights {entry.name!r} are registered twice')
        if not entry.sources:
            raise ValueError(f'weights {entry.name!r} have no source')
        WEIGHTS[entry.name] = entry


def get_weights(name: str) -> PretrainedWeights:
    if name not in WEIGHTS:
        raise KeyError(
            f'no pretrained weights are named {name!r}; valid names: {", ".join(sorted(WEIGHTS))}'
        )
    return WEIGHTS[name]


def weights_for_backbone(type_name: str):
    """The names of the weights that fit backbones of this registry type."""
    return sorted(name for name, entry in WEIGHTS.items() if entry.model['type'] == type_name)
