from . import backbones, layers, necks  # noqa: F401

__all__ = ['backbones', 'layers', 'necks']
