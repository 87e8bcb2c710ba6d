"""Old import paths of the deployment modules, kept working for one release with a warning."""

import importlib
import warnings
from typing import Any


def forward(old_module: str, moved: dict[str, tuple[str, str]], name: str) -> Any:
    """The object ``old_module.name`` now is (``moved[name]``: new module, new name), with a
    DeprecationWarning naming where to import it from."""
    if name not in moved:
        raise AttributeError(f'module {old_module!r} has no attribute {name!r}')
    module, new_name = moved[name]
    warnings.warn(
        f'{old_module}.{name} is deprecated and will be removed in the next release: '
        f'use {module}.{new_name}',
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(module), new_name)
