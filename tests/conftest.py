import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

if os.environ.get('PYTEST_XDIST_WORKER'):
    # tools/run_tests.sh starts one pytest-xdist worker per core: one thread each, for this
    # process and for the tools and torchrun jobs it starts (they inherit the environment),
    # instead of every worker contending for every core
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = '1'
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """A small copy of the demo set (same generator as the README demo)."""
    from mmlight.demo_data import generate

    root = str(tmp_path_factory.mktemp('demo'))
    generate(root, num_train=16, num_val=8, size=96, seed=0)
    return root + '/'


@pytest.fixture(scope='session')
def trained_demo(tmp_path_factory):
    """(config, checkpoint, data root) of the demo Faster R-CNN trained on 32 demo images,
    shared by every worker of the run (tests/deployment_helpers.py)."""
    from tests.deployment_helpers import trained_demo_checkpoint
    from tests.helpers import run_folder

    return trained_demo_checkpoint(str(run_folder(tmp_path_factory) / 'trained_demo'))


@pytest.fixture(scope='session')
def trained_demo_openvino(tmp_path_factory, trained_demo):
    """The trained demo detector as ``export_onnx.py CONFIG CHECKPOINT --backend openvino``
    writes it (fp32): the .xml, with its .bin and the .onnx beside it; exported once per test
    run and shared by every worker (the tests read it, none writes beside it)."""
    import filelock

    from tests.deployment_helpers import export_openvino
    from tests.helpers import run_folder

    folder = run_folder(tmp_path_factory) / 'trained_demo_openvino'
    folder.mkdir(exist_ok=True)
    xml_file = folder / 'det.xml'
    config, checkpoint, _data = trained_demo
    with filelock.FileLock(str(folder) + '.lock'):
        if not (folder / 'done').exists():
            export_openvino(config, checkpoint, xml_file)
            (folder / 'done').touch()
    return str(xml_file)
