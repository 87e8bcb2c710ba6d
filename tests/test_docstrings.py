"""The public API documents itself in Google style: each function and class that mmlight.apis,
mmlight.deployment, its backend table and mmlight.runtime export has a summary, ``Args:``
naming every parameter, and ``Returns:`` where it returns something."""

import importlib
import inspect
import re

import pytest

pytestmark = pytest.mark.quick

PUBLIC_MODULES = (
    'mmlight.apis',
    'mmlight.deployment',
    'mmlight.deployment.backends',
    'mmlight.deployment.export',
    'mmlight.deployment.backends.openvino',
    'mmlight.deployment.evaluate',
    'mmlight.deployment.predict',
    'mmlight.deployment.calibration',
    'mmlight.runtime',
)
# exported names whose documentation is elsewhere: mmdet's DetInferencer (re-exported with safe
# loading) and inference_detector (mmdet's own)
DOCUMENTED_ELSEWHERE = {'DetInferencer', 'inference_detector'}


def public_callables():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, '__all__', None) or [
            name
            for name, obj in vars(module).items()
            if not name.startswith('_')
            and callable(obj)
            and getattr(obj, '__module__', '') == module_name
        ]
        for name in names:
            obj = getattr(module, name)
            if callable(obj) and name not in DOCUMENTED_ELSEWHERE:
                yield f'{module_name}.{name}', obj


def parameters(obj):
    function = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return [], False
    names = [
        name
        for name, param in signature.parameters.items()
        if name not in ('self', 'cls')
        and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    ]
    returns = not inspect.isclass(obj) and signature.return_annotation not in (
        None,
        'None',
        inspect.Signature.empty,
    )
    return names, returns


def docstring_problems(obj):
    doc = inspect.getdoc(obj) or ''
    if inspect.isclass(obj) and obj.__init__.__doc__ and 'Args:' not in doc:
        doc += '\n' + inspect.getdoc(obj.__init__)
    problems = []
    if not doc.strip():
        return ['no docstring']
    names, returns = parameters(obj)
    if names:
        if 'Args:' not in doc:
            problems.append(f'no Args: section for {names}')
        else:
            args = doc.split('Args:', 1)[1]
            missing = [n for n in names if not re.search(rf'^\s+{n}\b.*:', args, re.M)]
            if missing:
                problems.append(f'Args: does not name {missing}')
    # a generator (a context manager's function) says what it yields instead
    if returns and 'Returns:' not in doc and 'Yields:' not in doc:
        problems.append('no Returns: section')
    return problems


def test_every_public_function_and_class_has_a_google_style_docstring():
    found = {name: docstring_problems(obj) for name, obj in public_callables()}
    assert len(found) > 30
    wrong = {name: problems for name, problems in found.items() if problems}
    assert not wrong, '\n'.join(f'{name}: {problems}' for name, problems in sorted(wrong.items()))
