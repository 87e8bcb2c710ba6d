"""Deprecated: the runners moved to :mod:`mmlight.deployment.backends` (the backend table)."""

from ._deprecated import forward

_BACKENDS = 'mmlight.deployment.backends'
MOVED = {
    'DetectorRunner': (_BACKENDS, 'DetectorRunner'),
    'OUTPUT_LAYOUTS': (_BACKENDS, 'OUTPUT_SIGNATURES'),
    'load_runner': (_BACKENDS, 'load_runner'),
    'result_to_sample': ('mmlight.deployment.predict', 'result_to_sample'),
}


def __getattr__(name):
    return forward(__name__, MOVED, name)
