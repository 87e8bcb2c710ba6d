"""What tools/train.py and tools/test.py share before handing a config to mmengine's Runner:
their common arguments, the config by path, name or ``PACKAGE::PATH``, the custom_imports
check, pretrained files fetched or named before any data loads, the ``--trust-checkpoint``
option, and distributed runs without GPUs."""

import argparse
import os
import os.path as osp

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict, DictAction

from mmlight.utils.pretrained import check_pretrained_exists
from mmlight.utils.safe_load import trust_checkpoint
from mmlight.weights import SCHEME, prepare_named_weights, weights_for_backbone

from .config import resolve_config

CUSTOM_IMPORTS_LINE = (
    "custom_imports = dict(imports=['mmlight.registration'], allow_failed_imports=False)"
)


def mmlight_type_names():
    """Names that ``mmlight.registration`` registers into mmdet's/mmengine's registries."""
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
    """Refuse a config that uses mmlight types without importing mmlight itself (it would fail in
    mmdet's own tools), naming the line to add instead of a registry KeyError.

    Args:
        cfg: the loaded config.

    Raises:
        ValueError: the config uses mmlight modules and has no ``custom_imports`` of mmlight.
    """
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    if any(str(name).split('.')[0] == 'mmlight' for name in imports):
        return
    names = mmlight_type_names()
    used = sorted(
        {
            node['type']
            for _, node in _walk(cfg._cfg_dict.to_dict())
            if isinstance(node.get('type'), str) and node['type'] in names
        }
    )
    if used:
        raise ValueError(
            f'This config uses mmlight modules ({", ".join(used)}) but does not '
            f'import mmlight. Add this line to the config:\n    '
            f'{CUSTOM_IMPORTS_LINE}'
        )


def add_trust_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--trust-checkpoint FILE`` (repeatable) to a tool's parser: the explicit opt-in for a
    file that needs more than mmlight's allow-list of checkpoint types.

    Args:
        parser: the tool's ``argparse.ArgumentParser``.
    """
    parser.add_argument(
        '--trust-checkpoint',
        action='append',
        default=[],
        metavar='FILE',
        help='load this checkpoint with full pickle (it may run code): only for files you '
        'trust; every other file is read with weights_only=True and an allow-list',
    )


def check_pretrained_checkpoints(cfg: Config):
    """Before any data is loaded: fetch and convert every ``mmlight://NAME`` the config names (or
    stop, saying what to download by hand and where to put it), and stop when a local pretrained
    file is missing.

    Args:
        cfg: the loaded config (its ``model`` init_cfgs and ``load_from``).
    """
    for _, node in _walk(cfg._cfg_dict.to_dict().get('model', {})):
        init_cfg = node.get('init_cfg')
        if not (isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'):
            continue
        checkpoint = str(init_cfg.get('checkpoint', ''))
        if checkpoint.startswith(SCHEME):
            prepare_named_weights(checkpoint)
            continue
        names = weights_for_backbone(node.get('type')) if isinstance(node.get('type'), str) else []
        hint = (
            (
                f'Weights by name for {node["type"]}: '
                + ', '.join(f'{SCHEME}{name}' for name in names)
            )
            if names
            else ''
        )
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
    """Let ``--launcher pytorch`` work without GPUs: gloo instead of nccl, and a DDP wrapper that
    accepts CPU modules. With GPUs mmengine's defaults are untouched.

    Args:
        cfg: the config; its ``launcher``, ``env_cfg.dist_cfg`` and ``model_wrapper_cfg`` are set.
        launcher: 'none', 'pytorch', 'slurm' or 'mpi'.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        # mmengine's init_dist calls torch.cuda.set_device first, which fails without CUDA;
        # the Runner skips init_dist when the process group already exists.
        torch_dist.init_process_group(
            backend='gloo', rank=int(os.environ['RANK']), world_size=int(os.environ['WORLD_SIZE'])
        )
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='CPUFriendlyDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
        )


def train_test_parser(description: str, checkpoint: bool = False) -> argparse.ArgumentParser:
    """The arguments tools/train.py and tools/test.py share (mmdet's).

    The config (a path, an mmlight config name or ``PACKAGE::PATH``), with ``checkpoint`` the
    detector checkpoint, ``--work-dir``, ``--cfg-options``, ``--trust-checkpoint``,
    ``--launcher`` and ``--local-rank``. Each tool adds its own.

    Args:
        description: the tool's one-line description.
        checkpoint: take a positional detector checkpoint after the config.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        'config',
        help='the config: a file, an mmlight config name '
        "('faster_rcnn_ghostnet_fpn_1x') or PACKAGE::PATH ('mmdet::...')",
    )
    if checkpoint:
        parser.add_argument('checkpoint', help='the detector checkpoint')
    parser.add_argument(
        '--work-dir',
        help='the folder for logs, metrics and checkpoints (default work_dirs/CONFIG_NAME)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings, key=value (e.g. model.backbone.init_cfg=None)',
    )
    add_trust_checkpoint_argument(parser)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_train_test_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line, with ``LOCAL_RANK`` from ``--local-rank`` where the launcher did not
    set it.

    Args:
        parser: a parser from :func:`train_test_parser`.

    Returns:
        The parsed arguments.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def train_test_config(args: argparse.Namespace) -> Config:
    """The config of a train/test run.

    Trusted checkpoints are registered, the config is found by path or name with
    ``--cfg-options`` merged, its custom_imports checked, the launcher set up, and ``work_dir``
    taken from ``--work-dir``, the config, or ``work_dirs/CONFIG_NAME``.

    Args:
        args: the parsed arguments of :func:`train_test_parser`.

    Returns:
        The config, ready for mmengine's Runner.
    """
    for path in args.trust_checkpoint:
        trust_checkpoint(path)
    try:
        path = resolve_config(args.config)
    except FileNotFoundError as err:
        raise SystemExit(f'config: {err}') from None
    cfg = Config.fromfile(path)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    check_custom_imports(cfg)
    setup_distributed(cfg, args.launcher)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg
