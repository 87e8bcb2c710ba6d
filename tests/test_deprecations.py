"""The old import paths of moved names keep working for one release, each with a
DeprecationWarning that names the new place."""

import importlib
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.quick

MOVED = [
    ('mmlight.deployment.onnx', 'export_onnx', 'mmlight.deployment.export', 'export_onnx'),
    (
        'mmlight.deployment.onnx',
        'OnnxDetector',
        'mmlight.deployment.backends.onnxruntime',
        'OnnxRuntimeRunner',
    ),
    (
        'mmlight.deployment.openvino',
        'OpenVINODetector',
        'mmlight.deployment.backends.openvino',
        'OpenVINORunner',
    ),
    (
        'mmlight.deployment.openvino',
        'convert_to_openvino',
        'mmlight.deployment.openvino_ir',
        'convert_to_openvino',
    ),
    ('mmlight.deployment.runner', 'load_runner', 'mmlight.deployment.backends', 'load_runner'),
    (
        'mmlight.deployment.runner',
        'result_to_sample',
        'mmlight.deployment.predict',
        'result_to_sample',
    ),
    (
        'mmlight.apis.runner',
        'check_custom_imports',
        'mmlight.apis',
        'check_custom_imports',
    ),
    ('mmlight.converters', 'WEIGHTS', 'mmlight.weights', 'WEIGHTS'),
    ('mmlight.converters', 'get_weights', 'mmlight.weights', 'get_weights'),
]


@pytest.mark.parametrize(
    ('old', 'name', 'new', 'new_name'), MOVED, ids=[f'{old}.{name}' for old, name, _, _ in MOVED]
)
def test_an_old_import_path_warns_and_gives_the_moved_object(old, name, new, new_name):
    with pytest.warns(DeprecationWarning, match=rf'{old}\.{name} is deprecated .* {new}'):
        obj = getattr(importlib.import_module(old), name)
    assert obj is getattr(importlib.import_module(new), new_name)


def test_detector_layout_warns_and_names_the_kind():
    from mmlight.apis import init_detector
    from mmlight.deployment import detector_layout

    detector = init_detector(f'{ROOT}/configs/yolov4_ghostnet_416.py')
    with pytest.warns(DeprecationWarning, match=r'detector_kind\(detector\).name'):
        assert detector_layout(detector) == 'yolo'


def test_the_old_evaluation_tool_name_still_runs_and_says_the_new_one():
    proc = subprocess.run(
        [sys.executable, 'tools/deployment/test_onnx.py', '--help'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'use tools/deployment/evaluate.py' in proc.stderr
    assert 'usage: evaluate.py' in proc.stdout
