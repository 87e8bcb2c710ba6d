"""mmlight: efficient backbones for MMDetection 3.x.

``import mmlight`` (or ``custom_imports = dict(imports=['mmlight'])`` in a config) registers
every backbone, layer, neck and hook into mmdet's registries, each family's checkpoint
converter as the filter of its backbones' Pretrained loading, and the ``mmlight://NAME``
checkpoint scheme, and lets configs inherit mmlight's (``_base_ = 'mmlight::NAME.py'``). It
changes nothing about how other checkpoints or configs are loaded.
"""

# importing these registers mmlight's modules, checkpoint filters and the mmlight:// scheme
from . import converters, engine, evaluation, models, weights  # noqa: F401
from .utils.package_configs import register_config_bases
from .version import __version__

register_config_bases()

__all__ = ['__version__']
