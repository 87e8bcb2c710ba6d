"""OpenMMLab's model metadata (model-index.yml, configs/metafiles/*.yml) is current: generated
from docs/model_zoo.md and the configs, one entry per COCO config, in mim's layout; the model
zoo's latency columns and the benchmarks page's table are current: generated from one benchmark
file, each config at its own input size."""

import os.path as osp

import pytest
import yaml

from mmlight.analysis.model_index import MODEL_INDEX, model_zoo_rows, published_results
from mmlight.analysis.zoo_benchmark import own_input_shape, own_size_rows, zoo_page
from mmlight.apis import config_names, load_detector_config
from tests.helpers import ROOT, run_tool


def test_the_metafiles_and_the_latency_tables_in_the_tree_are_the_generated_ones():
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


@pytest.mark.quick
@pytest.mark.parametrize(
    ('config', 'shape'),
    [
        ('faster_rcnn_ghostnet_fpn_1x', (800, 1344)),  # 1333 padded to the divisor 32
        ('yolov4_ghostnet_416', (416, 416)),
        ('rtmdet_tiny_ghostnet', (640, 640)),
    ],
)
def test_each_config_is_benchmarked_at_its_own_input_size(config, shape):
    assert own_input_shape(load_detector_config(config)) == shape


def bench_row(config, shape, eager, ort, int8):
    return {
        'config': config,
        'shape': list(shape),
        'params_m': 20.0194,
        'gflops': 123.79,
        'eager_s': eager,
        'onnxruntime_s': ort,
        'openvino_int8_s': int8,
    }


ZOO_TABLE = '\n'.join(
    [
        'text above',
        '| config | detector | backbone | ImageNet weights | params (M) | GFLOPs | input '
        '| latency (s) eager / ORT / OV int8 | published COCO AP |',
        '|---|---|---|---|---|---|---|---|---|',
        '| `faster_rcnn_ghostnet_fpn_1x` | Faster R-CNN | GhostNet 1.0x '
        '| `mmlight://ghostnet_1.0x` | 1 | 2 | ? | ? | no published number |',
        '',
        'text below',
    ]
)


@pytest.mark.quick
def test_the_zoo_columns_come_from_the_row_at_the_configs_own_size():
    rows = {
        ('faster_rcnn_ghostnet_fpn_1x', (192, 192)): bench_row(
            'faster_rcnn_ghostnet_fpn_1x', (192, 192), 9.0, 9.0, 9.0
        ),
        ('faster_rcnn_ghostnet_fpn_1x', (800, 1344)): bench_row(
            'faster_rcnn_ghostnet_fpn_1x', (800, 1344), 2.8404, 1.5693, 0.452
        ),
    }
    page = zoo_page(ZOO_TABLE, rows)
    assert (
        '| `faster_rcnn_ghostnet_fpn_1x` | Faster R-CNN | GhostNet 1.0x '
        '| `mmlight://ghostnet_1.0x` | 20.0 | 124 | 800x1344 | 2.840 / 1.569 / 0.452 '
        '| no published number |'
    ) in page
    assert page.startswith('text above\n')
    assert page.endswith('\ntext below')
    del rows[('faster_rcnn_ghostnet_fpn_1x', (800, 1344))]
    with pytest.raises(ValueError, match='faster_rcnn_ghostnet_fpn_1x at 800x1344'):
        own_size_rows(rows, ['faster_rcnn_ghostnet_fpn_1x'])
