"""The names that 0.2 renamed (kept one release with a DeprecationWarning) are gone in 0.3: the
old import paths fail with Python's own error, and only the new ones exist."""

import importlib
import os.path as osp

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.quick

REMOVED_MODULES = [
    'mmlight.deployment.onnx',
    'mmlight.deployment.openvino',
    'mmlight.deployment.runner',
    'mmlight.apis.runner',
]
REMOVED_NAMES = [
    ('mmlight.deployment', 'detector_layout'),
    ('mmlight.deployment.detector', 'detector_layout'),
    ('mmlight.converters', 'WEIGHTS'),
    ('mmlight.converters', 'get_weights'),
    ('mmlight.converters', 'register_weights'),
]
NEW_PLACES = [
    ('mmlight.deployment.export', 'export_onnx'),
    ('mmlight.deployment.backends.onnxruntime', 'OnnxRuntimeRunner'),
    ('mmlight.deployment.backends.openvino', 'OpenVINORunner'),
    ('mmlight.deployment.backends.openvino', 'convert_to_openvino'),
    ('mmlight.deployment.backends', 'load_runner'),
    ('mmlight.deployment.predict', 'result_to_sample'),
    ('mmlight.apis', 'check_custom_imports'),
    ('mmlight.weights', 'WEIGHTS'),
    ('mmlight.weights', 'get_weights'),
]


@pytest.mark.parametrize('module', REMOVED_MODULES)
def test_a_removed_module_is_gone(module):
    with pytest.raises(ModuleNotFoundError, match=module.replace('.', r'\.')):
        importlib.import_module(module)


@pytest.mark.parametrize(('module', 'name'), REMOVED_NAMES)
def test_a_removed_name_is_gone(module, name):
    with pytest.raises(AttributeError, match=name):
        getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(('module', 'name'), NEW_PLACES)
def test_the_new_place_of_a_renamed_name_has_it(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_the_old_evaluation_tool_name_is_gone():
    assert not osp.exists(osp.join(ROOT, 'tools', 'deployment', 'test_onnx.py'))
    assert osp.isfile(osp.join(ROOT, 'tools', 'deployment', 'evaluate.py'))
