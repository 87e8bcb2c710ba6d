from . import backbones, dense_heads, layers, necks  # noqa: F401

__all__ = ['backbones', 'dense_heads', 'layers', 'necks']
