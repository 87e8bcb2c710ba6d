"""The gates every change passes: ruff's lint rules and its formatter, mypy on the typed
packages (pyproject.toml), and the pre-commit hooks pinned to the same versions."""

import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.quick


def run(*args):
    return subprocess.run(
        [sys.executable, '-m', *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_the_codebase_is_clean_under_the_linter():
    proc = run('ruff', 'check', '--no-cache', '.')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_the_codebase_is_formatted():
    proc = run('ruff', 'format', '--check', '--no-cache', '.')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_the_typed_packages_pass_mypy():
    proc = run('mypy', '--no-incremental')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert 'Success: no issues found' in proc.stdout


def test_pre_commit_pins_the_versions_the_suite_installs():
    with open(f'{ROOT}/.pre-commit-config.yaml') as f:
        hooks = f.read()
    with open(f'{ROOT}/tools/ensure_env.sh') as f:
        setup = f.read()
    for tool, hook in (('RUFF', 'ruff-pre-commit'), ('MYPY', 'mirrors-mypy')):
        version = re.search(rf'^{tool}_VERSION=(\S+)$', setup, re.M).group(1)
        assert re.search(rf'{hook}\n\s+rev: v{re.escape(version)}\n', hooks), (tool, version)
