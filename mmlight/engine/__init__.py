"""Training components registered in mmengine's registries: the ODConv temperature hook, the
layer-wise decay optimizer constructor and the CPU-friendly DDP wrapper."""

from .hooks import ODConvTemperatureHook
from .model_wrappers import CPUFriendlyDistributedDataParallel
from .optimizers import LayerDecayOptimWrapperConstructor, hornet_layer_id

__all__ = [
    'CPUFriendlyDistributedDataParallel',
    'LayerDecayOptimWrapperConstructor',
    'ODConvTemperatureHook',
    'hornet_layer_id',
]
