"""The house stays layered: each mmlight sub-package imports only from the layers below it
(never from its own callers), and product code never imports the test references."""

import ast
import os
import os.path as osp
import re

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.quick

# lowest first; a package may import from any lower layer and from itself
LAYERS = [
    {'utils', 'version'},
    {'family'},
    {'models', 'demo_data'},
    {'converters', 'engine', 'evaluation', 'deployment'},
    {'weights', 'runtime'},
    {'registration'},
    {'apis'},
    {'analysis', 'visualization'},
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}
# 'mmlight.deployment.backends.onnxruntime:BACKEND': a module and the name a table imports
IMPORT_TABLE_ENTRY = re.compile(r'^mmlight(\.\w+)+:\w+$')


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
        else:
            anchor = (
                package if path.endswith('__init__.py') else [*package, osp.basename(path)[:-3]]
            )
            names = list(dynamic_imports(node, anchor))
        for name in names:
            parts = name.split('.')
            if parts[0] == 'mmlight' and len(parts) > 1:
                yield node.lineno, parts[1]


IMPORT_CALLS = ('import_module', '__import__')


def dynamic_imports(node, anchor):
    """The modules an import by name reaches: ``importlib.import_module('mmlight.x')`` (a
    relative name resolved against ``anchor``, the calling module's ``__name__`` as a list),
    ``__import__('mmlight.x')``, and the 'mmlight.x.y:NAME' entries of an import table (the
    backend table's) that a call imports later."""
    if isinstance(node, ast.Call):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', '')
        if called in IMPORT_CALLS and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            if isinstance(name, str) and name.startswith('.'):
                dots = len(name) - len(name.lstrip('.'))
                base = anchor[: len(anchor) - dots + 1]
                name = '.'.join([*base, name[dots:]]) if name[dots:] else '.'.join(base)
            if isinstance(name, str):
                yield name
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        if IMPORT_TABLE_ENTRY.match(node.value):
            yield node.value.partition(':')[0]


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


def test_imports_by_name_are_layered_too(tmp_path):
    """An import by name (importlib, __import__, an import table's entry) is an import: the
    checks above read it, so none hides from them."""
    path = tmp_path / 'module.py'
    path.write_text(
        'import importlib\n'
        "importlib.import_module('mmlight.apis')\n"
        "__import__('mmlight.weights.table')\n"
        "importlib.import_module('...runtime', __name__)\n"
        "TABLE = {'x': 'mmlight.analysis.inference:REFERENCES'}\n"
        "NOT_AN_IMPORT = 'mmlight.registration is what a config imports'\n"
    )
    found = [imported for _, imported in mmlight_imports(str(path), ['mmlight', 'utils'])]
    assert found == ['apis', 'weights', 'runtime', 'analysis']


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
        else:
            yield from dynamic_imports(node, name.split('.'))


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


# inside mmlight.deployment, lowest first: the export, its metadata and the full stack's side
# of a deployed model (predict, evaluate: they take any runner), then the backend table (each
# backend converts the export and runs it)
DEPLOYMENT_LAYERS = [
    {'metadata', 'postprocess', 'detector', 'export', 'calibration', 'predict', 'evaluate'},
    {'backends'},
]


def test_nothing_in_deployment_imports_back_up_from_the_backends():
    layer = {name: level for level, names in enumerate(DEPLOYMENT_LAYERS) for name in names}
    folder = osp.join(ROOT, 'mmlight', 'deployment')
    own_modules = {name[:-3] for name in os.listdir(folder) if name.endswith('.py')} | {'backends'}
    assert own_modules - {'__init__'} == set(layer)
    wrong = []
    for path, _ in product_modules():
        parts = module_name(path).split('.')
        if parts[:2] != ['mmlight', 'deployment'] or len(parts) < 3:
            continue
        own = parts[2]
        known = {module_name(p) for p, _ in product_modules()}
        for imported in imported_modules(path, known):
            target = imported.split('.')
            if target[:2] != ['mmlight', 'deployment'] or len(target) < 3 or target[2] == own:
                continue
            if layer[target[2]] > layer[own]:
                wrong.append(f'{osp.relpath(path, ROOT)} imports {imported}')
    assert not wrong, '\n'.join(wrong)


# a tool is a command line over the library: its arguments and a main() that calls mmlight
THIN_TOOL_LINES = 150


def test_the_benchmark_tools_are_thin_command_lines():
    fat = []
    folder = osp.join(ROOT, 'tools', 'analysis')
    for name in sorted(os.listdir(folder)):
        if not (name.startswith('benchmark_') and name.endswith('.py')):
            continue
        path = osp.join(folder, name)
        with open(path) as f:
            text = f.read()
        functions = [
            node.name for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)
        ]
        lines = text.count('\n')
        if lines >= THIN_TOOL_LINES or not set(functions) <= {'parse_args', 'main', 'cfg_options'}:
            fat.append(f'{name}: {lines} lines, functions {functions}')
    assert not fat, '\n'.join(fat)
