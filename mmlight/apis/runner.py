"""Deprecated: the train/test tools' checks moved to :mod:`mmlight.apis.train_test` (every name
is also in :mod:`mmlight.apis`)."""

import importlib
import warnings


def __getattr__(name):
    module = importlib.import_module('mmlight.apis.train_test')
    if not hasattr(module, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f'mmlight.apis.runner.{name} is deprecated and will be removed in the next release: '
        f'use mmlight.apis.{name}',
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(module, name)
