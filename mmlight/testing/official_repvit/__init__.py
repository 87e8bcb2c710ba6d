"""The official RepViT detection backbone (THU-MIG/RepViT), kept as a reference for tests only.

Source: https://github.com/THU-MIG/RepViT at commit 298f42075eda5d2e6102559fad260c970769d34e
(``detection/repvit.py``, the backbone of the paper's Mask R-CNN results), Apache License 2.0
(``LICENSE`` beside this file; the repository's licence at that commit). ``repvit.py`` says
what was changed. mmlight's product code does not import this package.
"""
from .repvit import RepViT, repvit_m1_1

__all__ = ['RepViT', 'repvit_m1_1']
