"""Pretrained weights by name: ``mmlight://NAME`` wherever mmengine takes a checkpoint.

``init_cfg=dict(type='Pretrained', checkpoint='mmlight://ghostnet_1.0x')``, ``load_from`` and
``CheckpointLoader.load_checkpoint`` all resolve the name through :mod:`mmlight.weights.hub`:
the official file is found (``MMLIGHT_WEIGHTS_DIR``) or downloaded (its source, or the
``MMLIGHT_WEIGHTS_URL`` mirror) into torch's hub cache, converted by the family's converter,
loaded strictly into the backbone it was made for, and the converted file is cached.
"""

from mmengine.runner.checkpoint import CheckpointLoader

# the families (their records declare the named weights) and their converters
import mmlight.converters  # noqa: F401

from .hub import (
    SCHEME,
    WEIGHTS_DIR_ENV,
    WEIGHTS_URL_ENV,
    ManualDownloadRequired,
    converted_cache_path,
    converted_file,
    load_named_weights,
    official_file,
    prepare_named_weights,
)
from .table import (
    WEIGHTS,
    PretrainedWeights,
    WeightSource,
    get_weights,
    register_weights,
    weights_for_backbone,
)

# Adds the one prefix 'mmlight://'; every other scheme keeps mmengine's own loader.
CheckpointLoader.register_scheme(prefixes=SCHEME, loader=load_named_weights, force=True)

__all__ = [
    'SCHEME',
    'WEIGHTS',
    'WEIGHTS_DIR_ENV',
    'WEIGHTS_URL_ENV',
    'ManualDownloadRequired',
    'PretrainedWeights',
    'WeightSource',
    'converted_cache_path',
    'converted_file',
    'get_weights',
    'load_named_weights',
    'official_file',
    'prepare_named_weights',
    'register_weights',
    'weights_for_backbone',
]
