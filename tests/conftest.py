import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """A small copy of the demo set (same generator as the README demo)."""
    from mmlight.demo_data import generate
    root = str(tmp_path_factory.mktemp('demo'))
    generate(root, num_train=16, num_val=8, size=96, seed=0)
    return root + '/'
