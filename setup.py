"""mmlight's build. The metadata lives in pyproject.toml; this file puts configs/ into the
package as ``mmlight/.mim/configs``, the OpenMMLab layout that mmengine's ``mmlight::`` bases
and :mod:`mmlight.apis` read: a link to configs/ in an editable install (``pip install -e .``;
a copy on Windows), a copy in a wheel (the source tree is left as it is)."""

import os
import os.path as osp
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
CONFIGS = osp.join(ROOT, 'configs')
IGNORED = shutil.ignore_patterns('__pycache__', '*.pyc')


def _replace(target):
    if osp.islink(target) or osp.isfile(target):
        os.remove(target)
    elif osp.isdir(target):
        shutil.rmtree(target)


def link_configs():
    """Editable install: mmlight/.mim/configs -> ../../configs."""
    mim = osp.join(ROOT, 'mmlight', '.mim')
    os.makedirs(mim, exist_ok=True)
    target = osp.join(mim, 'configs')
    _replace(target)
    if os.name == 'nt':
        shutil.copytree(CONFIGS, target, ignore=IGNORED)
    else:
        os.symlink(osp.relpath(CONFIGS, mim), target)


class BuildPyWithConfigs(build_py):
    """A wheel: a copy of configs/ in the built package."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        target = osp.join(self.build_lib, 'mmlight', '.mim', 'configs')
        _replace(target)
        shutil.copytree(CONFIGS, target, ignore=IGNORED)


if any(command in sys.argv for command in ('develop', 'editable_wheel')):
    link_configs()

setup(cmdclass={'build_py': BuildPyWithConfigs})
