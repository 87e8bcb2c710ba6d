"""The backend table: every runtime an exported detector can be deployed to.

Each backend is one module exposing ``BACKEND``, a :class:`~.base.Backend` (name, file suffix,
precisions, ``convert()``, runner class, ``profile()``), listed here by where it lives and
imported only when asked for. The tools build their ``--backend`` and ``--precision`` choices,
defaults and checks from this table, and the benchmark its runtimes, so that a new runtime is
one module and one line below.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from .base import OUTPUT_SIGNATURES, Backend, DetectorRunner

BACKENDS: dict[str, str] = {
    'onnxruntime': 'mmlight.deployment.backends.onnxruntime:BACKEND',
    'openvino': 'mmlight.deployment.backends.openvino:BACKEND',
}


def backend_names() -> list[str]:
    """The backends of the table.

    Returns:
        Their names, in the table's order.
    """
    return list(BACKENDS)


def get_backend(name: str) -> Backend:
    """A backend of the table, its module imported on first use.

    Args:
        name: its name ('onnxruntime', 'openvino', ...).

    Returns:
        Its :class:`~.base.Backend`.

    Raises:
        ValueError: no backend has that name (the valid names are listed).
    """
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; valid choices: {backend_names()}')
    module, _, attribute = BACKENDS[name].partition(':')
    backend = getattr(importlib.import_module(module), attribute)
    if not isinstance(backend, Backend) or backend.name != name:
        raise TypeError(
            f'the backend table entry {name!r} ({BACKENDS[name]}) is not a Backend named {name!r}'
        )
    return backend


def backend_for_file(path: str) -> str:
    """The backend whose model files have ``path``'s suffix (the first in table order).

    Args:
        path: a model file ('det.onnx', 'det.xml').

    Returns:
        The backend's name.

    Raises:
        ValueError: no backend has that suffix, naming those that exist.
    """
    suffixes: dict[str, str] = {}
    for name in BACKENDS:
        suffixes.setdefault(get_backend(name).suffix, name)
    for suffix, name in suffixes.items():
        if path.lower().endswith(suffix):
            return name
    raise ValueError(
        f'{path}: no backend runs files of this kind; model files end in '
        f'{", ".join(f"{s} ({n})" for s, n in suffixes.items())}'
    )


def all_precisions() -> list[str]:
    """Every precision some backend runs (the tools' ``--precision`` choices).

    Returns:
        The precisions, in table order.
    """
    precisions: list[str] = []
    for name in BACKENDS:
        precisions += [p for p in get_backend(name).precisions if p not in precisions]
    return precisions


def load_runner(
    backend: str, path: str, precision: str | None = None, **options: Any
) -> DetectorRunner:
    """An exported detector in a backend's runtime.

    Args:
        backend: the backend's name ('onnxruntime', 'openvino', ...).
        path: its model file.
        precision: the precision to run in; None: the model file's own, else the backend's
            default. A precision the backend does not run is refused, naming those it runs.
        **options: for the runner (``num_threads``, ``profile``).

    Returns:
        The runner (:class:`~.base.DetectorRunner`).
    """
    return get_backend(backend).load(path, precision, **options)


class Runtime(NamedTuple):
    """A backend in one precision: what the benchmark measures as one column."""

    backend: str
    precision: str

    @property
    def label(self) -> str:
        """'onnxruntime' for a backend with one precision, else 'openvino_int8'."""
        if len(get_backend(self.backend).precisions) == 1:
            return self.backend
        return f'{self.backend}_{self.precision}'


def runtimes(available_only: bool = False) -> list[Runtime]:
    """Every (backend, precision) pair of the table.

    Args:
        available_only: only the backends whose packages this environment has.

    Returns:
        The pairs, as :class:`Runtime`.
    """
    pairs = []
    for name in BACKENDS:
        backend = get_backend(name)
        if not available_only or backend.available():
            pairs += [Runtime(name, precision) for precision in backend.precisions]
    return pairs


__all__ = [
    'BACKENDS',
    'OUTPUT_SIGNATURES',
    'Backend',
    'DetectorRunner',
    'Runtime',
    'all_precisions',
    'backend_for_file',
    'backend_names',
    'get_backend',
    'load_runner',
    'runtimes',
]
