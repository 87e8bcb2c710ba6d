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
    {'weights', 'runtime'},
    {'registration'},
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
                base = package[: len(package) - node.level + 1]
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
    packages = {
        name[:-3] if name.endswith('.py') else name
        for name in os.listdir(osp.join(ROOT, 'mmlight'))
        if not name.startswith(('_', '.')) and name != 'testing'
    }
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


def module_name(path):
    rel = osp.relpath(path, ROOT)[:-3].split(os.sep)
    return '.'.join(rel[:-1] if rel[-1] == '__init__' else rel)


def imported_modules(path, known):
    """The mmlight modules one file imports, at any depth (function-level imports too: a circle
    through them still ties the two modules together). ``from package import name`` names the
    submodule where ``name`` is one."""
    name = module_name(path)
    package = name.split('.') if path.endswith('__init__.py') else name.split('.')[:-1]
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f'{module}.{alias.name}'
                yield full if full in known else module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def test_no_import_circle_between_mmlight_modules():
    """Package roots (``__init__``) that import their own modules to register or re-export
    them are the only edges into a package that may come back."""
    paths = [path for path, _ in product_modules()]
    known = {module_name(path) for path in paths}
    graph = {
        module_name(path): {
            m for m in imported_modules(path, known) if m in known and m != module_name(path)
        }
        for path in paths
    }
    # a package root imports its modules; a module importing its own package's root (for a
    # name it re-exports) would be a circle, and is one
    state, circles = {}, []

    def visit(module, stack):
        state[module] = 'open'
        for child in sorted(graph[module]):
            if state.get(child) == 'open':
                circles.append(' -> '.join([*stack[stack.index(child) :], child]))
            elif child not in state:
                visit(child, [*stack, child])
        state[module] = 'done'

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, '\n'.join(circles)
