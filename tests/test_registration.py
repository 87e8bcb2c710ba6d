"""How mmdet learns of mmlight: ``mmlight.registration`` (the configs' ``custom_imports``) always
registers; ``import mmlight`` registers in a process that already uses the training stack and
otherwise imports nothing heavy, so that ``mmlight.runtime`` stays torch-free."""

import os

import pytest

from tests.helpers import ROOT, run_python

pytestmark = pytest.mark.quick

HEAVY = ('torch', 'mmcv', 'mmengine', 'mmdet')


def run_script(script, tmp_path):
    proc = run_python(['-c', script], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.split()


@pytest.mark.slow
def test_a_shipped_config_builds_after_mmlight_was_imported_before_the_training_stack(tmp_path):
    """``import mmlight`` first (as isort orders ``import mmlight`` before ``from mmdet...``)
    loads nothing heavy; mmdet's own ``init_detector`` then builds an mmlight config, whose
    ``custom_imports`` registers mmlight."""
    config = os.path.join(ROOT, 'configs', 'faster_rcnn_ghostnet_fpn_1x.py')
    script = (
        'import sys\n'
        'import mmlight\n'
        f'print([n for n in {HEAVY!r} if n in sys.modules])\n'
        'from mmdet.apis import init_detector\n'
        f'model = init_detector({config!r}, device="cpu")\n'
        'print(type(model.backbone).__name__)\n'
    )
    loaded, backbone = run_script(script, tmp_path)
    assert loaded == '[]'
    assert backbone == 'GhostNet'


@pytest.mark.slow
def test_import_mmlight_registers_where_the_training_stack_is_in_use(tmp_path):
    """mmdet's tools import mmengine before a config's ``custom_imports``: there a config that
    still names plain ``mmlight`` keeps working."""
    script = (
        'import mmengine\n'
        'import mmlight\n'
        'from mmdet.registry import MODELS\n'
        'print(MODELS.get("GhostNet").__name__, MODELS.get("YOLOv4Neck").__name__)\n'
    )
    assert run_script(script, tmp_path) == ['GhostNet', 'YOLOv4Neck']


@pytest.mark.slow
def test_register_all_modules_after_a_light_import(tmp_path):
    script = (
        'import mmlight\n'
        'from mmdet.registry import MODELS\n'
        'print(MODELS.get("GhostNet"))\n'
        'mmlight.register_all_modules()\n'
        'print(MODELS.get("GhostNet").__name__, mmlight.models.__name__)\n'
    )
    assert run_script(script, tmp_path) == ['None', 'GhostNet', 'mmlight.models']
