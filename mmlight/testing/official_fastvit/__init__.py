"""The official FastViT (apple/ml-fastvit), kept as a reference for tests only.

Source: https://github.com/apple/ml-fastvit at commit 8af5928238cab99c45f64fc3e4e7b1516b8224ba
(``models/fastvit.py`` with ``models/modules/mobileone.py`` and ``replknet.py``; its
``fork_feat=True`` model is the detection and segmentation backbone), under Apple's licence
(``LICENSE`` beside this file; ``ACKNOWLEDGEMENTS`` names the code it builds on).
``fastvit.py`` says what was changed. mmlight's product code does not import this package.
"""

from .fastvit import fastvit_sa12, fastvit_t8

__all__ = ['fastvit_sa12', 'fastvit_t8']
