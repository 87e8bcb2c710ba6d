"""What a Python user calls: configs by name, a detector from a config and a checkpoint (safe,
strict loading), inference on images, and the checks mmlight's train/test tools run.

    from mmlight.apis import init_detector, inference_detector
    detector = init_detector('faster_rcnn_ghostnet_fpn_1x', 'epoch_12.pth')
    result = inference_detector(detector, 'image.jpg')
"""

# mmlight's registrations are what every function here builds from
from ..registration import register_all_modules
from .config import (
    config_names,
    config_root,
    load_detector_config,
    pipeline_resize_shape,
    resolve_config,
)
from .detector import init_detector
from .inference import DetInferencer, inference_detector
from .train_test import (
    add_trust_checkpoint_argument,
    check_custom_imports,
    check_pretrained_checkpoints,
    parse_train_test_args,
    setup_distributed,
    shutdown_distributed,
    train_test_config,
    train_test_parser,
)

__all__ = [
    'DetInferencer',
    'add_trust_checkpoint_argument',
    'check_custom_imports',
    'check_pretrained_checkpoints',
    'config_names',
    'config_root',
    'inference_detector',
    'init_detector',
    'load_detector_config',
    'parse_train_test_args',
    'pipeline_resize_shape',
    'register_all_modules',
    'resolve_config',
    'setup_distributed',
    'shutdown_distributed',
    'train_test_config',
    'train_test_parser',
]
