"""OpenMMLab's model metadata (model-index.yml, configs/metafiles/*.yml) is current: generated
from docs/model_zoo.md and the configs, one entry per COCO config, in mim's layout."""

import os.path as osp

import pytest
import yaml

from mmlight.analysis.model_index import MODEL_INDEX, model_zoo_rows, published_results
from mmlight.apis import config_names
from tests.helpers import ROOT, run_tool


def test_the_metafiles_in_the_tree_are_the_ones_the_model_zoo_and_configs_give():
    proc = run_tool(['tools/misc/make_model_index.py', '--check'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'all files are current' in proc.stdout


@pytest.mark.quick
def test_every_coco_config_has_one_metafile_entry_and_every_entry_a_config():
    with open(osp.join(ROOT, MODEL_INDEX)) as f:
        index = yaml.safe_load(f)
    models = []
    for path in index['Import']:
        with open(osp.join(ROOT, path)) as f:
            metafile = yaml.safe_load(f)
        collections = {collection['Name'] for collection in metafile['Collections']}
        for model in metafile['Models']:
            assert model['In Collection'] in collections, model['Name']
            assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
            assert model['Config'] == f"configs/{model['Name']}.py"
            models.append(model['Name'])
    assert sorted(models) == [name for name in config_names() if '/' not in name]
    rows = {
        row['config'].strip('`') for row in model_zoo_rows(osp.join(ROOT, 'docs', 'model_zoo.md'))
    }
    assert rows == set(models)


@pytest.mark.quick
def test_a_published_number_becomes_results_with_its_source_and_none_stays_none():
    links = {'hornet': 'https://example.org/hornet'}
    results, source = published_results('51.7 box / 44.8 mask ([HorNet][hornet])', links)
    assert source == 'https://example.org/hornet'
    assert results == [
        {'Task': 'Object Detection', 'Dataset': 'COCO', 'Metrics': {'box AP': 51.7}},
        {'Task': 'Instance Segmentation', 'Dataset': 'COCO', 'Metrics': {'mask AP': 44.8}},
    ]
    assert published_results('no published number', links) == ([], None)
    with pytest.raises(ValueError, match='names no source link'):
        published_results('40.0 box', links)
