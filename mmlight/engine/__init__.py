from .runtime import (CPUFriendlyDistributedDataParallel, check_custom_imports,
                      check_pretrained_checkpoints, setup_distributed)

__all__ = ['CPUFriendlyDistributedDataParallel', 'check_custom_imports',
           'check_pretrained_checkpoints', 'setup_distributed']
