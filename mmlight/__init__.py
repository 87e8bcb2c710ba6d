"""mmlight: efficient backbones for MMDetection 3.x.

``import mmlight`` (or ``custom_imports = dict(imports=['mmlight'])`` in a config) registers
every backbone, layer, neck and hook into mmdet's registries.
"""
from .version import __version__
from .utils.checkpoint import install_trusted_local_loader
from . import engine, models  # noqa: F401,E402  (registers the modules)

install_trusted_local_loader()

__all__ = ['__version__']
