"""Run a detector on images with mmdet's DetInferencer and save the pictures.

    python tools/analysis/image_demo.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out-dir DIR]

``mmlight.apis.DetInferencer``: mmdet's, reading the checkpoint through mmlight's safe loading
(weights_only with an explicit allow-list; torch.load's defaults refuse the message hub that
mmengine saves in every checkpoint on torch >= 2.6). CONFIG may be an mmlight config name.
"""
import argparse
import os.path as osp

import mmlight  # noqa: F401


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--out-dir', default='work_dirs/image_demo')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def main():
    from mmlight.apis import DetInferencer
    args = parse_args()
    inferencer = DetInferencer(args.config, args.checkpoint, device=args.device,
                               show_progress=False)
    output = inferencer(args.images, out_dir=args.out_dir, pred_score_thr=args.score_thr)
    for image, prediction in zip(args.images, output['predictions']):
        found = sum(score >= args.score_thr for score in prediction['scores'])
        print(f'{image}: {found} detections with score >= {args.score_thr}')
    print(f'pictures in {osp.abspath(osp.join(args.out_dir, "vis"))}')


if __name__ == '__main__':
    main()
