"""Model wrappers (registered in mmengine's MODEL_WRAPPERS)."""

from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUFriendlyDistributedDataParallel(MMDistributedDataParallel):
    """MMDistributedDataParallel that also wraps CPU models (device_ids must be None there;
    mmengine always passes the local rank)."""

    def __init__(self, module, device_ids=None, **kwargs):
        if next(module.parameters()).device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)
