"""Checkpoint loading that runs no code from the file.

Every file is read with ``torch.load(weights_only=True)``: tensors and plain containers, plus
an explicit allow-list of the few other types that mmengine's own checkpoints (message hub,
numpy arrays and scalars) and the official weight files (an ``argparse.Namespace`` of training
arguments) contain. Anything else (a pickle that would run code on load) is refused with
:class:`UnsafeCheckpointError`, naming the type and the opt-in for files the user trusts.
Nothing here changes how anybody else loads checkpoints: mmengine's loader is swapped for the
safe one only inside :func:`safe_checkpoint_loading`, which mmlight's tools and
:mod:`mmlight.apis` enter.
"""

import os
import os.path as osp
import pickle
import re
from contextlib import contextmanager

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .download import cached_download

TRUSTED_CHECKPOINTS_ENV = 'MMLIGHT_TRUSTED_CHECKPOINTS'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs types outside the allow-list: loading it could run code."""


class CorruptCheckpointError(RuntimeError):
    """A file that is not a readable PyTorch checkpoint (truncated, or not a checkpoint)."""


def is_url(filename: str) -> bool:
    return str(filename).startswith(('http://', 'https://'))


def has_scheme(filename: str) -> bool:
    """``torchvision://``, ``mmlight://``, ``s3://``...: anything mmengine resolves by prefix."""
    return re.match(r'^[A-Za-z][\w+.-]*://', str(filename)) is not None


def _numpy_globals():
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    dtype_classes = {
        type(np.dtype(t))
        for t in (
            np.bool_,
            np.int8,
            np.int16,
            np.int32,
            np.int64,
            np.uint8,
            np.uint16,
            np.uint32,
            np.uint64,
            np.float16,
            np.float32,
            np.float64,
        )
    }
    allowed = [np.ndarray, np.dtype, *sorted(dtype_classes, key=str)]
    # numpy 1.x pickles these as numpy.core.*, numpy 2.x as numpy._core.*; allow both names
    for func in (multiarray._reconstruct, multiarray.scalar):
        allowed += [
            (func, f'numpy.core.multiarray.{func.__name__}'),
            (func, f'numpy._core.multiarray.{func.__name__}'),
        ]
    return allowed


def _history_buffer_method(owner, name):
    """Stands in for ``getattr`` while unpickling. mmengine pickles its HistoryBuffer's
    statistics methods as ``getattr(HistoryBuffer, 'mean')`` (and its ``__setstate__`` puts them
    into a class-wide table), so checkpoints reference ``builtins.getattr``, which in general
    reaches any attribute of anything. This allows exactly those lookups."""
    from mmengine.logging import HistoryBuffer

    builtin_statistics = ('min', 'max', 'current', 'mean')
    if (
        owner is HistoryBuffer
        and isinstance(name, str)
        and (name in builtin_statistics or name in HistoryBuffer._statistics_methods)
    ):
        method = getattr(HistoryBuffer, name, None)
        if getattr(method, '__qualname__', None) == f'HistoryBuffer.{name}':
            return method
    raise pickle.UnpicklingError(
        f'refused getattr({owner!r}, {name!r}) in a checkpoint: only HistoryBuffer\'s '
        f'statistics methods may be looked up'
    )


def checkpoint_safe_globals():
    """The non-tensor types that may be unpickled from a checkpoint (nothing that runs code:
    plain data holders, numpy's array/scalar reconstruction, and the one attribute lookup
    mmengine's message hub needs)."""
    import argparse

    from mmengine.logging import HistoryBuffer

    return [
        argparse.Namespace,
        HistoryBuffer,
        (_history_buffer_method, 'builtins.getattr'),
        *_numpy_globals(),
    ]


def trusted_checkpoints():
    """Files the user opted in to load with full pickle (``MMLIGHT_TRUSTED_CHECKPOINTS``)."""
    value = os.environ.get(TRUSTED_CHECKPOINTS_ENV, '')
    return {osp.realpath(osp.expanduser(p)) for p in value.split(os.pathsep) if p}


def trust_checkpoint(filename: str):
    """Opt one file in to full (code-running) unpickling, for this process and its children."""
    paths = trusted_checkpoints() | {osp.realpath(osp.expanduser(filename))}
    os.environ[TRUSTED_CHECKPOINTS_ENV] = os.pathsep.join(sorted(paths))


def _unsafe_types(path: str, error: Exception):
    allowed = set()
    for item in checkpoint_safe_globals():
        if isinstance(item, tuple):
            allowed.add(item[1])
        else:
            allowed.add(f'{item.__module__}.{item.__qualname__}')
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) files: read the name from torch's message
        found = re.findall(r'GLOBAL ([\w.]+)', str(error))
    return [name for name in found if name not in allowed]


def load_checkpoint_file(filename: str, map_location='cpu'):
    """``torch.load`` of a local file with ``weights_only=True`` and mmlight's allow-list."""
    path = osp.expanduser(str(filename))
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    if path.endswith('.safetensors'):
        return _load_safetensors(filename, path, map_location)
    if osp.realpath(path) in trusted_checkpoints():
        # the user's explicit opt-in for this one file (--trust-checkpoint or
        # MMLIGHT_TRUSTED_CHECKPOINTS): the only full unpickling mmlight does
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        unsafe = _unsafe_types(path, err)
        lookup = re.search(r'refused (getattr\(.*?\)) in a checkpoint', str(err))
        if lookup:
            unsafe.append(lookup.group(1))
        if not unsafe:
            raise CorruptCheckpointError(
                f'{filename!r} is not a readable PyTorch checkpoint: {err}'
            ) from None
        raise UnsafeCheckpointError(
            f'refused to load {filename!r}: it contains {", ".join(unsafe)}, which is not on '
            f'mmlight\'s allow-list of checkpoint types (tensors, containers, numpy arrays, '
            f'argparse.Namespace, mmengine\'s HistoryBuffer). Unpickling it could run code; '
            f'nothing of it was run. If you trust this file (you made it, or its source), opt '
            f'it in explicitly: {TRUSTED_CHECKPOINTS_ENV}={osp.realpath(path)} (or '
            f'--trust-checkpoint with mmlight\'s tools).'
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise CorruptCheckpointError(
            f'{filename!r} is not a readable PyTorch checkpoint (truncated or corrupt '
            f'download?): {err}'
        ) from None


def _load_safetensors(filename: str, path: str, map_location) -> dict:
    """A ``.safetensors`` file (timm's and the Hugging Face hub's format): tensors only, so
    nothing in it can run code."""
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError as err:
        raise ImportError(
            f'{filename!r} is a safetensors file, which needs the safetensors package: pip '
            "install safetensors (timm installs it)"
        ) from err
    device = map_location if isinstance(map_location, str) else 'cpu'
    try:
        return load_file(path, device=device)
    except (SafetensorError, OSError, ValueError) as err:
        raise CorruptCheckpointError(
            f'{filename!r} is not a readable safetensors file (truncated or corrupt '
            f'download?): {err}'
        ) from None


def _mmengine_local_loader(filename, map_location=None):
    return load_checkpoint_file(filename, map_location=map_location)


@contextmanager
def safe_checkpoint_loading():
    """Within this block mmengine reads local checkpoints (``load_from``, ``--resume``)
    through :func:`load_checkpoint_file`, and every ``torch.load`` (URLs, ``torchvision://``)
    accepts the allow-listed types, so mmengine's own checkpoints resume on torch >= 2.6.
    mmengine's loader is put back on exit."""
    previous = CheckpointLoader._schemes.get('')
    CheckpointLoader.register_scheme(prefixes='', loader=_mmengine_local_loader, force=True)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            yield
    finally:
        if previous is not None:
            CheckpointLoader.register_scheme(prefixes='', loader=previous, force=True)


def load_checkpoint(filename: str, map_location='cpu'):
    """Local paths and http(s) URLs (downloaded into torch's hub cache) load through
    :func:`load_checkpoint_file`; other schemes (``mmlight://``, ``torchvision://``, ...)
    through mmengine's CheckpointLoader with the allow-list in force."""
    if is_url(filename):
        return load_checkpoint_file(cached_download(filename), map_location)
    if has_scheme(filename):
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    return load_checkpoint_file(filename, map_location)
