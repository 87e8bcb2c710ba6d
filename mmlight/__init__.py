"""mmlight: efficient backbones for MMDetection 3.x.

``import mmlight`` (or ``custom_imports = dict(imports=['mmlight'])`` in a config) registers
every backbone, layer, neck and hook into mmdet's registries, each family's checkpoint
converter as the filter of its backbones' Pretrained loading, and the ``mmlight://NAME``
checkpoint scheme. It changes nothing about how other checkpoints are loaded.
"""
from .version import __version__
from . import engine, evaluation, models  # noqa: F401,E402  (registers the modules)
from . import converters, weights  # noqa: F401,E402  (checkpoint filters, mmlight:// scheme)

__all__ = ['__version__']
