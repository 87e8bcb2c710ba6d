"""Test (evaluate) a detector (mmdet's tools/test.py CLI)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlight  # noqa: F401
from mmlight.apis import (
    add_trust_checkpoint_argument,
    check_custom_imports,
    setup_distributed,
    shutdown_distributed,
)
from mmlight.utils.safe_load import safe_checkpoint_loading, trust_checkpoint


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file')
    parser.add_argument('--show-dir', help='directory to save painted images')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings, key=value')
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
    setup_distributed(cfg, args.launcher)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    # the detector checkpoint holds the backbone too: the ImageNet file is not needed here
    if 'backbone' in cfg.get('model', {}):
        cfg.model.backbone.init_cfg = None
    cfg.load_from = args.checkpoint

    if args.show_dir:
        cfg.default_hooks.visualization.draw = True
        cfg.default_hooks.visualization.test_out_dir = args.show_dir
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl file')
        cfg.test_evaluator = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator.append(dict(type='DumpDetResults', out_file_path=args.out))

    # mmengine reads load_from / --resume through mmlight's safe loader in this block only
    with safe_checkpoint_loading():
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        metrics = runner.test()
    print(metrics)
    shutdown_distributed()


if __name__ == '__main__':
    main()
