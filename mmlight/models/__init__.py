from . import backbones, layers  # noqa: F401

__all__ = ['backbones', 'layers']
