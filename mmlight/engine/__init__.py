from .hooks import ODConvTemperatureHook
from .optimizers import LayerDecayOptimWrapperConstructor, hornet_layer_id
from .runtime import (CPUFriendlyDistributedDataParallel, add_trust_checkpoint_argument,
                      check_custom_imports, check_pretrained_checkpoints, setup_distributed,
                      shutdown_distributed)

__all__ = ['LayerDecayOptimWrapperConstructor', 'ODConvTemperatureHook', 'hornet_layer_id',
           'CPUFriendlyDistributedDataParallel', 'add_trust_checkpoint_argument',
           'check_custom_imports', 'check_pretrained_checkpoints', 'setup_distributed',
           'shutdown_distributed']
