"""Every tool takes a config by path, by mmlight config name or as ``PACKAGE::PATH``, and finds
mmlight's configs in a checkout that was never pip-installed."""

import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from mmlight.apis import train_test_config
from tests.helpers import ROOT, run_python

pytestmark = pytest.mark.quick


def train_test_args(config, **overrides):
    args = dict(
        config=config,
        work_dir=None,
        cfg_options=None,
        trust_checkpoint=[],
        launcher='none',
        local_rank=0,
    )
    args.update(overrides)
    return argparse.Namespace(**args)


@pytest.mark.parametrize(
    'config',
    [
        'demo/faster_rcnn_ghostnet_fpn_demo',
        'mmlight::demo/faster_rcnn_ghostnet_fpn_demo.py',
        osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py'),
    ],
    ids=['name', 'mmlight::', 'path'],
)
def test_train_and_test_take_a_config_by_name_package_path_or_file(config):
    cfg = train_test_config(train_test_args(config, cfg_options={'train_cfg.max_epochs': 3}))
    assert cfg.model.backbone.type == 'GhostNet'
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.work_dir == osp.join('./work_dirs', 'faster_rcnn_ghostnet_fpn_demo')


def test_an_unknown_config_name_stops_with_the_valid_names():
    with pytest.raises(
        SystemExit,
        match=r"config: 'no_such_config' is neither a config file.*"
        r'faster_rcnn_ghostnet_fpn_1x',
    ):
        train_test_config(train_test_args('no_such_config'))


@pytest.mark.slow
def test_a_checkout_that_was_not_installed_finds_its_configs(tmp_path):
    """A copy of the package and configs/ without mmlight/.mim (no pip install): config names
    resolve to the checkout's configs/, and the benchmark's --help (which lists them) runs."""
    checkout = tmp_path / 'checkout'
    shutil.copytree(
        osp.join(ROOT, 'mmlight'),
        checkout / 'mmlight',
        ignore=shutil.ignore_patterns('.mim', '__pycache__'),
    )
    shutil.copytree(osp.join(ROOT, 'configs'), checkout / 'configs')
    shutil.copytree(osp.join(ROOT, 'tools'), checkout / 'tools')
    env = dict(os.environ, PYTHONPATH=str(checkout))
    script = (
        'import mmlight, os.path as osp; from mmlight.apis import resolve_config; '
        "print(osp.dirname(mmlight.__file__)); print(resolve_config('yolov4_ghostnet_416'))"
    )
    proc = run_python(['-c', script], tmp_path, [checkout])
    assert proc.returncode == 0, proc.stderr[-3000:]
    package, resolved = proc.stdout.split()[-2:]
    assert package == str(checkout / 'mmlight')
    assert resolved == str(checkout / 'configs' / 'yolov4_ghostnet_416.py')
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark_inference.py', '--help'],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'usage: benchmark_inference.py' in proc.stdout
