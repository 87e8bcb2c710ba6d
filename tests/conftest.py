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
