"""Train a detector (mmdet's tools/train.py CLI, plus mmlight's checks and CPU DDP).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]

CONFIG is a config file, an mmlight config name ('faster_rcnn_ghostnet_fpn_1x') or
PACKAGE::PATH ('mmlight::faster_rcnn_ghostnet_fpn_1x.py', 'mmdet::...').
"""

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlight.registration  # noqa: F401
from mmlight.apis import (
    check_pretrained_checkpoints,
    parse_train_test_args,
    shutdown_distributed,
    train_test_config,
    train_test_parser,
)
from mmlight.utils.download import DownloadError
from mmlight.utils.safe_load import safe_checkpoint_loading


def parse_args():
    parser = train_test_parser(__doc__.splitlines()[0])
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR by batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (no value) from the latest in the work dir',
    )
    return parse_train_test_args(parser)


def main():
    args = parse_args()
    cfg = train_test_config(args)
    try:
        check_pretrained_checkpoints(cfg)
    except (FileNotFoundError, DownloadError) as err:  # say what to fetch, not a traceback
        raise SystemExit(f'{type(err).__name__}: {err}') from None

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
