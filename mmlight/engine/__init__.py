from .hooks import ODConvTemperatureHook
from .runtime import (CPUFriendlyDistributedDataParallel, check_custom_imports,
                      check_pretrained_checkpoints, setup_distributed)

__all__ = ['ODConvTemperatureHook', 'CPUFriendlyDistributedDataParallel', 'check_custom_imports',
           'check_pretrained_checkpoints', 'setup_distributed']
