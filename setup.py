"""mmlight's build. The metadata lives in pyproject.toml; this file puts configs/ into the
package as ``mmlight/.mim/configs`` (and model-index.yml beside it), the OpenMMLab layout that
mmengine's ``mmlight::`` bases, :mod:`mmlight.apis` and mim read: links in an editable install
(``pip install -e .``; copies on Windows), copies in a wheel (the source tree is left as it
is)."""

import os
import os.path as osp
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
CONFIGS = osp.join(ROOT, 'configs')
# OpenMMLab's model metadata (mim reads .mim/model-index.yml; its metafiles are in configs/)
MODEL_INDEX = osp.join(ROOT, 'model-index.yml')
IGNORED = shutil.ignore_patterns('__pycache__', '*.pyc')


def _replace(target):
    if osp.islink(target) or osp.isfile(target):
        os.remove(target)
    elif osp.isdir(target):
        shutil.rmtree(target)


def link_configs():
    """Editable install: mmlight/.mim/configs -> ../../configs, and model-index.yml beside it."""
    mim = osp.join(ROOT, 'mmlight', '.mim')
    os.makedirs(mim, exist_ok=True)
    for source, name in ((CONFIGS, 'configs'), (MODEL_INDEX, 'model-index.yml')):
        target = osp.join(mim, name)
        _replace(target)
        if os.name != 'nt':
            os.symlink(osp.relpath(source, mim), target)
        elif osp.isdir(source):
            shutil.copytree(source, target, ignore=IGNORED)
        else:
            shutil.copy(source, target)


class BuildPyWithConfigs(build_py):
    """A wheel: a copy of configs/ in the built package."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        target = osp.join(self.build_lib, 'mmlight', '.mim', 'configs')
        _replace(target)
        shutil.copytree(CONFIGS, target, ignore=IGNORED)
        shutil.copy(MODEL_INDEX, osp.join(self.build_lib, 'mmlight', '.mim', 'model-index.yml'))


if any(command in sys.argv for command in ('develop', 'editable_wheel')):
    link_configs()

setup(cmdclass={'build_py': BuildPyWithConfigs})
