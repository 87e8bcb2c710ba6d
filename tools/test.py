"""Test (and evaluate) a detector (mmdet's tools/test.py CLI).

    python tools/test.py CONFIG CHECKPOINT [--out preds.pkl] [--show-dir DIR]

CONFIG is a config file, an mmlight config name ('faster_rcnn_ghostnet_fpn_1x') or
PACKAGE::PATH ('mmlight::faster_rcnn_ghostnet_fpn_1x.py', 'mmdet::...').
"""

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmlight.registration  # noqa: F401
from mmlight.apis import (
    parse_train_test_args,
    shutdown_distributed,
    train_test_config,
    train_test_parser,
)
from mmlight.utils.safe_load import safe_checkpoint_loading


def parse_args():
    parser = train_test_parser(__doc__.splitlines()[0], checkpoint=True)
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file')
    parser.add_argument('--show-dir', help='directory to save painted images')
    return parse_train_test_args(parser)


def main():
    args = parse_args()
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'--out must be a .pkl file, got {args.out!r}')
    cfg = train_test_config(args)
    # the detector checkpoint holds the backbone too: the ImageNet file is not needed here
    if 'backbone' in cfg.get('model', {}):
        cfg.model.backbone.init_cfg = None
    cfg.load_from = args.checkpoint

    if args.show_dir:
        cfg.default_hooks.visualization.draw = True
        cfg.default_hooks.visualization.test_out_dir = args.show_dir
    if args.out is not None:
        cfg.test_evaluator = (
            cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        )
        cfg.test_evaluator.append(dict(type='DumpDetResults', out_file_path=args.out))

    # mmengine reads load_from / --resume through mmlight's safe loader in this block only
    with safe_checkpoint_loading():
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        metrics = runner.test()
    print(metrics)
    shutdown_distributed()


if __name__ == '__main__':
    main()
