"""The official ODConv code (OSVAI/ODConv), kept as a reference for tests only.

Source: https://github.com/OSVAI/ODConv at commit acb771c496d78a63d31cbbdc9174e6b4a16d5be1
(``modules/odconv.py``, ``models/od_resnet.py``, ``models/od_mobilenetv2.py``), MIT License
(``LICENSE`` beside this file; the repository's licence at that commit). The only change is
the import path (``from modules.odconv`` became ``from .odconv``). mmlight's product code does
not import this package.
"""
from .od_mobilenetv2 import OD_MobileNetV2, od_mobilenetv2_050, od_mobilenetv2_075, \
    od_mobilenetv2_100
from .od_resnet import OD_ResNet, od_resnet18, od_resnet34, od_resnet50, od_resnet101
from .odconv import ODConv2d
