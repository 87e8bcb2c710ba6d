"""OpenMMLab's model metadata for mmlight's configs: ``model-index.yml`` and one
``configs/metafiles/FAMILY.yml`` per backbone family, which ``mim`` (``mim search mmlight``,
``mim train mmlight CONFIG``) and model-zoo pages read.

They are generated from docs/model_zoo.md (the table: detector, backbone, weights, params,
FLOPs, the published COCO AP with its source) and the configs themselves (schedule, backbone
type): ``python tools/misc/make_model_index.py`` writes them, ``--check`` says whether the
files in the tree are current (the test suite runs it).
"""

import os.path as osp
import re
from typing import Any

import yaml

from mmlight.apis import config_names, load_detector_config

MODEL_INDEX = 'model-index.yml'
METAFILE_DIR = osp.join('configs', 'metafiles')
ZOO_PAGE = 'docs/model_zoo.md'

# the metafile (collection) of each backbone type, with the paper it comes from
FAMILIES = {
    'GhostNet': 'ghostnet',
    'GhostNetV2': 'ghostnetv2',
    'ShuffleNetV1': 'shufflenetv1',
    'ShuffleNetV2': 'shufflenetv2',
    'HorNet': 'hornet',
    'ODResNet': 'odconv',
    'ODMobileNetV2': 'odconv',
}
COLLECTIONS = {
    'ghostnet': (
        'GhostNet',
        'GhostNet: More Features from Cheap Operations',
        'https://arxiv.org/abs/1911.11907',
    ),
    'ghostnetv2': (
        'GhostNetV2',
        'GhostNetV2: Enhance Cheap Operation with Long-Range Attention',
        'https://arxiv.org/abs/2211.12905',
    ),
    'shufflenetv1': (
        'ShuffleNetV1',
        'ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices',
        'https://arxiv.org/abs/1707.01083',
    ),
    'shufflenetv2': (
        'ShuffleNetV2',
        'ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design',
        'https://arxiv.org/abs/1807.11164',
    ),
    'hornet': (
        'HorNet',
        'HorNet: Efficient High-Order Spatial Interactions with Recursive Gated Convolutions',
        'https://arxiv.org/abs/2207.14284',
    ),
    'odconv': (
        'ODConv',
        'Omni-Dimensional Dynamic Convolution',
        'https://arxiv.org/abs/2209.07947',
    ),
}
ZOO_COLUMNS = ('config', 'detector', 'backbone', 'ImageNet weights', 'params (M)', 'GFLOPs')


def model_zoo_rows(page: str) -> list[dict[str, str]]:
    """The rows of the model zoo's config table, as dicts of its columns."""
    with open(page) as f:
        lines = [line.strip() for line in f]
    header = next(i for i, line in enumerate(lines) if line.startswith('| config |'))
    names = [cell.strip() for cell in lines[header].strip('|').split('|')]
    if tuple(names[: len(ZOO_COLUMNS)]) != ZOO_COLUMNS:
        raise ValueError(
            f'{page}: the model zoo table starts with columns {names}, expected {list(ZOO_COLUMNS)}'
        )
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith('|'):
            break
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def published_results(cell: str, links: dict[str, str]) -> tuple[list[dict], str | None]:
    """The ``Results`` of a row's 'published COCO AP' cell ('51.7 box / 44.8 mask
    ([HorNet][hornet])') and the URL of its source; none for 'no published number'."""
    if cell.startswith('no published number'):
        return [], None
    source = re.search(r'\]\[(\w+)\]\)', cell)
    if source is None or source.group(1) not in links:
        raise ValueError(f'published AP {cell!r} names no source link')
    results = []
    for value, task in re.findall(r'([\d.]+) (box|mask)', cell):
        name = 'Object Detection' if task == 'box' else 'Instance Segmentation'
        metric = 'box AP' if task == 'box' else 'mask AP'
        results.append({'Task': name, 'Dataset': 'COCO', 'Metrics': {metric: float(value)}})
    return results, links[source.group(1)]


def _reference_links(page: str) -> dict[str, str]:
    with open(page) as f:
        return dict(re.findall(r'^\[(\w+)\]: (\S+)$', f.read(), flags=re.M))


def model_entry(row: dict[str, str], links: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(family, metafile entry) of one model zoo row, with the schedule and backbone type
    read from its config."""
    name = row['config'].strip('`')
    cfg = load_detector_config(name)
    backbone = cfg.model.backbone.type
    if backbone not in FAMILIES:
        raise ValueError(
            f'{name}: backbone {backbone} belongs to no metafile; known: {sorted(FAMILIES)}'
        )
    family = FAMILIES[backbone]
    results, source = published_results(row['published COCO AP'], links)
    metadata: dict[str, Any] = {
        'Training Data': 'COCO',
        'Epochs': int(cfg.train_cfg.max_epochs),
        'Parameters': round(float(row['params (M)']) * 1e6),
        'FLOPs': round(float(row['GFLOPs']) * 1e9),
        'Architecture': [row['detector'], row['backbone']],
        'Pretrained': row['ImageNet weights'].strip('`'),
    }
    entry: dict[str, Any] = {
        'Name': name,
        'In Collection': COLLECTIONS[family][0],
        'Config': f'configs/{name}.py',
        'Metadata': metadata,
    }
    if results:
        # mmlight publishes no COCO-trained checkpoint: the results are the paper's (or its
        # official repository's) for the same detector, backbone and schedule
        metadata['Results Source'] = source
        entry['Results'] = results
    return family, entry


def metafiles(root: str) -> dict[str, str]:
    """Path (relative to ``root``) -> YAML text of ``model-index.yml`` and every metafile, for
    the configs of ``root``'s model zoo page. Raises where a COCO config has no row, or a row
    no config."""
    page = osp.join(root, ZOO_PAGE)
    rows = model_zoo_rows(page)
    links = _reference_links(page)
    listed = [row['config'].strip('`') for row in rows]
    shipped = [name for name in config_names() if '/' not in name]
    if sorted(listed) != sorted(shipped):
        raise ValueError(
            f'{ZOO_PAGE} lists {sorted(set(listed) - set(shipped))} that are not '
            f'configs, and misses {sorted(set(shipped) - set(listed))}'
        )
    by_family: dict[str, list[dict]] = {}
    for row in rows:
        family, entry = model_entry(row, links)
        by_family.setdefault(family, []).append(entry)
    files = {}
    for family in sorted(by_family):
        name, title, url = COLLECTIONS[family]
        collection = {
            'Name': name,
            'Metadata': {'Training Data': 'COCO'},
            'Paper': {'Title': title, 'URL': url},
            'README': ZOO_PAGE,
        }
        document = {'Collections': [collection], 'Models': by_family[family]}
        files[osp.join(METAFILE_DIR, f'{family}.yml')] = _dump(document)
    index = {'Import': [osp.join(METAFILE_DIR, f'{family}.yml') for family in sorted(by_family)]}
    files[MODEL_INDEX] = _dump(index)
    return files


def _dump(document: dict) -> str:
    header = (
        '# generated from docs/model_zoo.md and the configs by '
        'tools/misc/make_model_index.py: edit those, then run it\n'
    )
    return header + yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True)
