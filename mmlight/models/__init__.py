from . import backbones, dense_heads, layers, necks

__all__ = ['backbones', 'dense_heads', 'layers', 'necks']
