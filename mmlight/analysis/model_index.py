"""OpenMMLab's model metadata for mmlight's configs: ``model-index.yml`` and one
``configs/metafiles/FAMILY.yml`` per backbone family, which ``mim`` (``mim search mmlight``,
``mim train mmlight CONFIG``) and model-zoo pages read.

They are generated from the family records (:mod:`mmlight.family`: collection, paper, the
published COCO AP of a config where the source prints that setting), docs/model_zoo.md's table
(detector, backbone, weights, params, FLOPs) and the configs themselves (schedule, backbone
type): ``python tools/misc/make_model_index.py`` writes them, and the model zoo's AP column and
family section from the same records; ``--check`` says whether the files in the tree are
current (the test suite runs it). Every registered family has its metafile, with or without
configs.
"""

import os.path as osp
import re
from typing import Any

import yaml

from mmlight.apis import config_names, load_detector_config
from mmlight.family import FAMILIES, family_of_backbone

MODEL_INDEX = 'model-index.yml'
METAFILE_DIR = osp.join('configs', 'metafiles')
ZOO_PAGE = 'docs/model_zoo.md'

# the model zoo's section on each family, generated from the family records
FAMILY_SECTION_START = '<!-- families: generated from the family records by make_model_index.py -->'
FAMILY_SECTION_END = '<!-- end of the families -->'
NO_NUMBER = 'no published number'
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
    if cell.startswith(NO_NUMBER):
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


def published_cell(config: str) -> str:
    """A config's 'published COCO AP' cell, from its backbone family's record."""
    cfg = load_detector_config(config)
    family = family_of_backbone(cfg.model.backbone.type)
    return NO_NUMBER if family is None else family.published_ap.get(config, NO_NUMBER)


def family_section() -> str:
    """The model zoo's section on each family: its paper and where its numbers come from."""
    lines = [FAMILY_SECTION_START]
    for family in FAMILIES.values():
        lines.append(
            f'- **{family.name}** ([paper]({family.paper.url})): '
            f'{family.published or NO_NUMBER + "."}'
        )
    lines.append(FAMILY_SECTION_END)
    return '\n'.join(lines)


def zoo_family_parts(text: str) -> str:
    """The model zoo page with its 'published COCO AP' column and family section made from the
    family records."""
    lines = text.split('\n')
    header = next(i for i, line in enumerate(lines) if line.startswith('| config |'))
    names = [cell.strip() for cell in lines[header].strip('|').split('|')]
    column = names.index('published COCO AP')
    for i in range(header + 2, len(lines)):
        if not lines[i].startswith('|'):
            break
        cells = lines[i].strip('|').split('|')
        cells[column] = f' {published_cell(cells[0].strip().strip("`"))} '
        lines[i] = '|' + '|'.join(cells) + '|'
    text = '\n'.join(lines)
    pattern = re.compile(
        re.escape(FAMILY_SECTION_START) + r'\n.*?' + re.escape(FAMILY_SECTION_END), re.S
    )
    if not pattern.search(text):
        raise ValueError(
            f'{ZOO_PAGE} has no {FAMILY_SECTION_START!r} ... {FAMILY_SECTION_END!r} section'
        )
    return pattern.sub(lambda _: family_section(), text)


def _reference_links(page: str) -> dict[str, str]:
    with open(page) as f:
        return dict(re.findall(r'^\[(\w+)\]: (\S+)$', f.read(), flags=re.M))


def model_entry(row: dict[str, str], links: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(family, metafile entry) of one model zoo row, with the schedule and backbone type
    read from its config."""
    name = row['config'].strip('`')
    cfg = load_detector_config(name)
    backbone = cfg.model.backbone.type
    family = family_of_backbone(backbone)
    if family is None:
        raise ValueError(
            f'{name}: backbone {backbone} belongs to no registered family; known: '
            f'{sorted(FAMILIES)}'
        )
    results, source = published_results(family.published_ap.get(name, NO_NUMBER), links)
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
        'In Collection': family.name,
        'Config': f'configs/{name}.py',
        'Metadata': metadata,
    }
    if results:
        # mmlight publishes no COCO-trained checkpoint: the results are the paper's (or its
        # official repository's) for the same detector, backbone and schedule
        metadata['Results Source'] = source
        entry['Results'] = results
    return family.key, entry


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
    for key in sorted(FAMILIES):
        family = FAMILIES[key]
        collection = {
            'Name': family.name,
            'Metadata': {'Training Data': 'COCO'},
            'Paper': {'Title': family.paper.title, 'URL': family.paper.url},
            'README': ZOO_PAGE,
        }
        document = {'Collections': [collection], 'Models': by_family.get(key, [])}
        files[osp.join(METAFILE_DIR, f'{key}.yml')] = _dump(document)
    index = {'Import': [osp.join(METAFILE_DIR, f'{key}.yml') for key in sorted(FAMILIES)]}
    files[MODEL_INDEX] = _dump(index)
    return files


def _dump(document: dict) -> str:
    header = (
        '# generated from the family records, docs/model_zoo.md and the configs by '
        'tools/misc/make_model_index.py: edit those, then run it\n'
    )
    return header + yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True)
