"""Registration of mmlight into mmdet: importing this module registers everything.

``custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)`` in a
config, or :func:`register_all_modules` in a script, registers every backbone, layer, neck,
head, hook and metric into mmdet's registries, each family's checkpoint converter as the
filter of its backbones' Pretrained loading, and the ``mmlight://NAME`` checkpoint scheme, and
lets configs inherit mmlight's (``_base_ = 'mmlight::NAME.py'``). It changes nothing about how
other checkpoints or configs are loaded. Registering twice changes nothing.

It needs the training stack (torch, mmengine, mmdet); :mod:`mmlight.runtime` does not import
this module.
"""

# importing these registers mmlight's modules, checkpoint filters and the mmlight:// scheme
from . import converters, engine, evaluation, models, weights  # noqa: F401
from .utils.package_configs import register_config_bases

__all__ = ['register_all_modules']


def register_all_modules() -> None:
    """Register mmlight's modules into mmdet's registries and ``mmlight::`` config bases.

    Importing this module already does it; the function is for scripts that imported
    ``mmlight`` before the training stack (see :mod:`mmlight`) and say so explicitly.
    """
    register_config_bases()


register_all_modules()
