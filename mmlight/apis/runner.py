"""What tools/train.py and tools/test.py do before handing a config to mmengine's Runner:
the custom_imports check, pretrained files fetched or named before any data loads, the
``--trust-checkpoint`` option, and distributed runs without GPUs."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict

from mmlight.converters import weights_for_backbone
from mmlight.utils.pretrained import check_pretrained_exists
from mmlight.weights import SCHEME, prepare_named_weights

CUSTOM_IMPORTS_LINE = "custom_imports = dict(imports=['mmlight'], allow_failed_imports=False)"


def mmlight_type_names():
    """Names that ``import mmlight`` registers into mmdet's/mmengine's registries."""
    from mmdet.registry import HOOKS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    names = set()
    for registry in (MODELS, HOOKS, OPTIM_WRAPPER_CONSTRUCTORS):
        for name, cls in registry.module_dict.items():
            if getattr(cls, '__module__', '').startswith('mmlight'):
                names.add(name)
    return names


def _walk(node, path=''):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f'{path}.{key}' if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f'{path}[{i}]')


def check_custom_imports(cfg: Config):
    """Configs that use mmlight types must import mmlight themselves, so that they also run
    with mmdet's own tools; say which line to add instead of a registry KeyError."""
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    if any(str(name).split('.')[0] == 'mmlight' for name in imports):
        return
    names = mmlight_type_names()
    used = sorted({node['type'] for _, node in _walk(cfg._cfg_dict.to_dict())
                   if isinstance(node.get('type'), str) and node['type'] in names})
    if used:
        raise ValueError(f'This config uses mmlight modules ({", ".join(used)}) but does not '
                         f'import mmlight. Add this line to the config:\n    '
                         f'{CUSTOM_IMPORTS_LINE}')


def add_trust_checkpoint_argument(parser):
    """``--trust-checkpoint FILE`` (repeatable): the explicit opt-in for a file that needs more
    than mmlight's allow-list of checkpoint types."""
    parser.add_argument(
        '--trust-checkpoint', action='append', default=[], metavar='FILE',
        help='load this checkpoint with full pickle (it may run code): only for files you '
        'trust; every other file is read with weights_only=True and an allow-list')


def check_pretrained_checkpoints(cfg: Config):
    """Before any data is loaded: fetch and convert every ``mmlight://NAME`` the config names
    (or stop, saying what to download by hand and where to put it), and stop when a local
    pretrained file is missing."""
    for _, node in _walk(cfg._cfg_dict.to_dict().get('model', {})):
        init_cfg = node.get('init_cfg')
        if not (isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'):
            continue
        checkpoint = str(init_cfg.get('checkpoint', ''))
        if checkpoint.startswith(SCHEME):
            prepare_named_weights(checkpoint)
            continue
        names = weights_for_backbone(node.get('type')) if isinstance(node.get('type'), str) \
            else []
        hint = (f'Weights by name for {node["type"]}: '
                + ', '.join(f'{SCHEME}{name}' for name in names)) if names else ''
        check_pretrained_exists(checkpoint, hint)
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and load_from.startswith(SCHEME):
        prepare_named_weights(load_from)


def shutdown_distributed():
    """Destroy the process group before the interpreter exits: a gloo group left to interpreter
    teardown can abort the process ("terminate called without an active exception", exit -6)
    after training and evaluation have finished."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def setup_distributed(cfg: Config, launcher: str):
    """Let ``--launcher pytorch`` work without GPUs: gloo instead of nccl, and a DDP wrapper
    that accepts CPU modules. With GPUs mmengine's defaults are untouched."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        # mmengine's init_dist calls torch.cuda.set_device first, which fails without CUDA;
        # the Runner skips init_dist when the process group already exists.
        torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                      world_size=int(os.environ['WORLD_SIZE']))
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='CPUFriendlyDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
