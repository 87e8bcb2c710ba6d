"""Train a detector (mmdet's tools/train.py CLI, plus mmlight's checks and CPU DDP)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlight  # noqa: F401  (registers mmlight; the config must still import it)
from mmlight.apis import (
    add_trust_checkpoint_argument,
    check_custom_imports,
    check_pretrained_checkpoints,
    setup_distributed,
    shutdown_distributed,
)
from mmlight.utils.download import DownloadError
from mmlight.utils.safe_load import safe_checkpoint_loading, trust_checkpoint


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR by batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or (no value) from the latest in the work dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings, key=value (e.g. model.backbone.init_cfg=None)')
    add_trust_checkpoint_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    for path in args.trust_checkpoint:
        trust_checkpoint(path)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_custom_imports(cfg)
    try:
        check_pretrained_checkpoints(cfg)
    except (FileNotFoundError, DownloadError) as err:  # say what to fetch, not a traceback
        raise SystemExit(f'{type(err).__name__}: {err}') from None
    setup_distributed(cfg, args.launcher)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # mmengine reads load_from / --resume through mmlight's safe loader in this block only
    with safe_checkpoint_loading():
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    main()
