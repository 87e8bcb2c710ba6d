"""The house stays layered: each mmlight sub-package imports only from the layers below it
(never from its own callers), and product code never imports the test references."""
import ast
import os
import os.path as osp

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.quick

# lowest first; a package may import from any lower layer and from itself
LAYERS = [
    {'utils', 'version'},
    {'models', 'demo_data'},
    {'converters', 'engine', 'evaluation', 'deployment'},
    {'weights'},
    {'apis'},
    {'analysis', 'visualization'},
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def mmlight_imports(path, package):
    """(line, imported sub-package) of every import of mmlight in one file."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f'{module}.{a.name}' for a in node.names]
            else:
                names = [node.module or '']
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split('.')
            if parts[0] == 'mmlight' and len(parts) > 1:
                yield node.lineno, parts[1]


def product_modules():
    for folder, _, files in os.walk(osp.join(ROOT, 'mmlight')):
        rel = osp.relpath(folder, ROOT).split(os.sep)
        if '.mim' in rel or '__pycache__' in rel or (len(rel) > 1 and rel[1] == 'testing'):
            continue
        for name in files:
            if name.endswith('.py'):
                yield osp.join(folder, name), rel


def test_every_subpackage_has_a_layer():
    packages = {name[:-3] if name.endswith('.py') else name
                for name in os.listdir(osp.join(ROOT, 'mmlight'))
                if not name.startswith(('_', '.')) and name != 'testing'}
    assert packages == set(LAYER)


def test_no_module_imports_from_a_layer_above_it_or_from_the_test_references():
    wrong = []
    for path, package in product_modules():
        own = package[1] if len(package) > 1 else osp.basename(path)[:-3]
        for line, imported in mmlight_imports(path, package):
            where = f'{osp.relpath(path, ROOT)}:{line} imports mmlight.{imported}'
            if imported == 'testing':
                wrong.append(where + ' (test references)')
            elif own == '__init__':
                continue  # the package root registers everything
            elif imported != own and LAYER[imported] >= LAYER[own]:
                wrong.append(where)
    assert not wrong, '\n'.join(wrong)
