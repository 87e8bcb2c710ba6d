"""Run a detector on images and save the pictures: the PyTorch model with mmdet's
DetInferencer, or a deployed model (ONNX in onnxruntime, OpenVINO IR).

    python tools/analysis/image_demo.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out-dir DIR]
    python tools/analysis/image_demo.py CONFIG FILE.xml IMAGE ... --backend openvino \\
        [--precision int8]

``--backend`` is 'pytorch' or any backend of the deployment backend table.

PyTorch: ``mmlight.apis.DetInferencer``, mmdet's, reading the checkpoint through mmlight's safe
loading (weights_only with an explicit allow-list; torch.load's defaults refuse the message hub
that mmengine saves in every checkpoint on torch >= 2.6). CONFIG may be an mmlight config name.
Deployed: the config's test pipeline, then the exported model in its runtime.
"""

import argparse
import os
import os.path as osp

import mmlight.registration  # noqa: F401
from mmlight.deployment.backends import all_precisions, backend_names, get_backend


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('config')
    parser.add_argument('model', help='the checkpoint, or the .onnx / .xml of a deployed model')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--backend', choices=['pytorch', *backend_names()], default='pytorch')
    parser.add_argument(
        '--precision',
        choices=all_precisions(),
        help='inference precision of a deployed model (default: its own)',
    )
    parser.add_argument('--out-dir', default='work_dirs/image_demo')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def pytorch_predictions(args):
    from mmlight.apis import DetInferencer

    inferencer = DetInferencer(args.config, args.model, device=args.device, show_progress=False)
    output = inferencer(args.images, out_dir=args.out_dir, pred_score_thr=args.score_thr)
    return [prediction['scores'] for prediction in output['predictions']]


def deployed_predictions(args):
    import mmcv
    from mmdet.visualization import DetLocalVisualizer

    from mmlight.apis import load_detector_config
    from mmlight.deployment.backends import load_runner
    from mmlight.deployment.predict import deployed_predict

    cfg = load_detector_config(args.config)
    try:
        get_backend(args.backend).check_precision(args.precision)
    except ValueError as err:
        raise SystemExit(f'--precision: {err}') from None
    detector = load_runner(args.backend, args.model, args.precision)
    visualizer = DetLocalVisualizer(name=f'image_demo_{os.getpid()}')
    visualizer.dataset_meta = dict(cfg.test_dataloader.dataset.get('metainfo') or {})
    scores = []
    for path in args.images:
        sample = deployed_predict(cfg, detector, path)
        visualizer.add_datasample(
            osp.basename(path),
            mmcv.imread(path, channel_order='rgb'),
            sample,
            draw_gt=False,
            pred_score_thr=args.score_thr,
            out_file=osp.join(args.out_dir, 'vis', osp.basename(path)),
        )
        scores.append(sample.pred_instances.scores.tolist())
    return scores


def main():
    args = parse_args()
    if args.precision and args.backend == 'pytorch':
        raise SystemExit(
            '--precision: the pytorch backend runs fp32 (eager PyTorch); the '
            'exported backends run the others (--backend openvino)'
        )
    predict = pytorch_predictions if args.backend == 'pytorch' else deployed_predictions
    for image, scores in zip(args.images, predict(args), strict=True):
        found = sum(score >= args.score_thr for score in scores)
        print(f'{image}: {found} detections with score >= {args.score_thr}')
    print(f'pictures in {osp.abspath(osp.join(args.out_dir, "vis"))}')


if __name__ == '__main__':
    main()
