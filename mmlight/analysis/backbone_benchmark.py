"""The backbone benchmark behind ``tools/analysis/benchmark_backbones.py``: mmlight models beside
their reference implementations with the same weights (forward and forward+backward images/s,
peak memory, params, FLOPs), and detector pairs' training steps. Each measurement runs in a
fresh process (the tool again, with ``--worker``); the functions take the tool's parsed
arguments, whose ``references`` is the module the reference expressions are evaluated in (the
tool passes the test references, which product code does not import)."""

import json
import logging
import os
import os.path as osp
import sys
import tempfile

import torch

from mmlight.utils.benchmark import PeakMemory, alternating_rounds, run_isolated, timed

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

PAIRS = {
    # name: mmlight backbone config, reference factory (evaluated in mmlight.testing.references),
    # converter from the reference's state_dict (None: same keys), reference description
    'ghostnet': dict(
        mmlight=dict(type='GhostNet', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="TimmGhostNetLevels('ghostnet_100')",
        converter='ghostnet',
        reference_name='timm ghostnet_100',
    ),
    'ghostnetv2': dict(
        mmlight=dict(type='GhostNetV2', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="TimmGhostNetLevels('ghostnetv2_100')",
        converter='ghostnet',
        reference_name='timm ghostnetv2_100',
    ),
    'shufflenetv2': dict(
        mmlight=dict(type='ShuffleNetV2', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="TorchvisionShuffleNetV2Levels('shufflenet_v2_x1_0')",
        converter='shufflenetv2',
        reference_name='torchvision shufflenet_v2_x1_0',
    ),
    'shufflenetv1': dict(
        mmlight=dict(type='ShuffleNetV1', groups=3, widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="MMPretrainShuffleNetLevels('v1', groups=3)",
        converter='shufflenetv1',
        reference_name='mmpretrain ShuffleNetV1 g3',
    ),
    'hornet-t': dict(
        mmlight=dict(type='HorNet', arch='tiny', out_norm=False),
        reference="MMPretrainHorNetLevels('tiny')",
        converter='hornet',
        reference_name='mmpretrain HorNet tiny',
        drop=('out_norms.',),
    ),
    'hornet-t-gf': dict(
        mmlight=dict(type='HorNet', arch='tiny-gf', out_norm=False),
        reference="MMPretrainHorNetLevels('tiny-gf')",
        converter='hornet',
        reference_name='mmpretrain HorNet tiny-gf',
        drop=('out_norms.',),
    ),
    'resnet50': dict(
        mmlight=dict(type='ODResNet', depth=50, od_cfg=None),
        reference="TorchvisionResNetLevels('resnet50')",
        converter='odresnet',
        reference_name='torchvision resnet50',
    ),
    'odresnet50': dict(
        mmlight=dict(type='ODResNet', depth=50, od_cfg=dict(kernel_num=1)),
        reference="odconv_official_formulation(build_mmlight("
        "dict(type='ODResNet', depth=50, od_cfg=dict(kernel_num=1))))",
        converter=None,
        reference_name='official ODConv formulation',
    ),
    'odresnet50-4x': dict(
        mmlight=dict(type='ODResNet', depth=50, od_cfg=dict(kernel_num=4)),
        reference="odconv_official_formulation(build_mmlight("
        "dict(type='ODResNet', depth=50, od_cfg=dict(kernel_num=4))))",
        converter=None,
        reference_name='official ODConv formulation',
    ),
    'odmobilenetv2': dict(
        mmlight=dict(type='ODMobileNetV2', od_cfg=dict(kernel_num=1)),
        reference="odconv_official_formulation(build_mmlight("
        "dict(type='ODMobileNetV2', od_cfg=dict(kernel_num=1))))",
        converter=None,
        reference_name='official ODConv formulation',
    ),
    'odmobilenetv2-4x': dict(
        mmlight=dict(type='ODMobileNetV2', od_cfg=dict(kernel_num=4)),
        reference="odconv_official_formulation(build_mmlight("
        "dict(type='ODMobileNetV2', od_cfg=dict(kernel_num=4))))",
        converter=None,
        reference_name='official ODConv formulation',
    ),
}
DEFAULT_PAIRS = (
    'ghostnet',
    'ghostnetv2',
    'shufflenetv2',
    'shufflenetv1',
    'hornet-t',
    'hornet-t-gf',
)
DETECTOR_PAIRS = {
    # name: (mmlight config, baseline config)
    'faster_rcnn_odconv_r50': (
        'configs/faster_rcnn_odconv_r50_fpn_1x.py',
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    ),
    'faster_rcnn_odconv_official_r50': (
        'configs/faster_rcnn_odconv_r50_fpn_1x.py:official',
        'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    ),
    # the depthwise-separable YOLOv4 neck and head against the same detector with dense 3x3
    # convs in both (mmdet's YOLOV3Head bridge)
    'yolov4_ghostnet': ('configs/yolov4_ghostnet_416.py', 'configs/yolov4_ghostnet_416.py:dense'),
}


def build_mmlight(cfg):
    from mmdet.registry import MODELS

    import mmlight.registration  # noqa: F401

    return MODELS.build(dict(cfg))


def build(pair, impl, references):
    """The pair's mmlight model, or its reference (``PAIRS[pair]['reference']``, an expression
    over the ``references`` module: the tool passes ``mmlight.testing.references``)."""
    if impl == 'reference':
        return eval(PAIRS[pair]['reference'], dict(vars(references), build_mmlight=build_mmlight))
    return build_mmlight(PAIRS[pair]['mmlight'])


def reference_state_to_mmlight(pair, reference):
    if PAIRS[pair]['converter'] is None:
        return reference.state_dict()
    from mmlight.converters import convert_state_dict
    from mmlight.utils.state_dict import strip_key_prefix

    state = strip_key_prefix(reference.state_dict(), 'model.', only_if_any=True)
    # layers the reference has and the compared mmlight model does not (HorNet's norms)
    drop = PAIRS[pair].get('drop', ())
    return {
        k: v
        for k, v in convert_state_dict(PAIRS[pair]['converter'], state).items()
        if not (drop and k.startswith(drop))
    }


def detector_from_config(spec, references):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    path, variant = spec, None
    head, _, tail = spec.rpartition(':')
    if tail in ('official', 'dense'):
        path, variant = head, tail
    if path.startswith('mmdet::'):
        import mmdet

        path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', path[len('mmdet::') :])
    cfg = Config.fromfile(osp.join(ROOT, path) if not osp.isabs(path) else path)
    cfg.model.backbone.init_cfg = None
    if variant == 'dense':
        cfg.model.neck.use_depthwise = False
        cfg.model.bbox_head.use_depthwise = False
    model = MODELS.build(cfg.model)
    model.init_weights()
    return references.odconv_official_formulation(model) if variant == 'official' else model


def detector_steps(args, impl, device):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    spec = DETECTOR_PAIRS[args.pair][0 if impl == 'mmlight' else 1]
    model = detector_from_config(spec, args.references).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    height, width = args.size
    inputs = (torch.rand(args.batch, 3, height, width, generator=generator) * 255).to(device)
    samples = []
    for _ in range(args.batch):
        xy = torch.rand(8, 2, generator=generator) * torch.tensor([width * 0.7, height * 0.7])
        wh = 32 + torch.rand(8, 2, generator=generator) * torch.tensor([width, height]) * 0.3
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(height, width),
                batch_input_shape=(height, width),
                ori_shape=(height, width),
                pad_shape=(height, width),
                scale_factor=(1.0, 1.0),
            )
        )
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1).to(device),
            labels=torch.randint(0, 80, (8,), generator=generator).to(device),
        )
        samples.append(sample)

    def train_step():
        batch = model.data_preprocessor(dict(inputs=list(inputs), data_samples=samples), True)
        losses = model(**batch, mode='loss')
        loss = sum(
            v.sum()
            for k, v in losses.items()
            if 'loss' in k
            for v in (v if isinstance(v, list) else [v])
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return dict(train=train_step)


def backbone_steps(args, impl, device, weights):
    model = build(args.pair, impl, args.references)
    model.load_state_dict(torch.load(weights, map_location='cpu'))
    model.to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    x = torch.randn(args.batch, 3, *args.size, device=device).to(memory_format=memory_format)

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)

    def train_step():
        model.train()
        outs = model(x)
        sum(o.float().mean() for o in outs).backward()

    return dict(fwd=forward, train=train_step)


def steps(args, impl, device):
    if args.pair in DETECTOR_PAIRS:
        return detector_steps(args, impl, device)
    return backbone_steps(args, impl, device, getattr(args, f'{impl}_weights'))


def memory_worker(args, impl):
    """Peak memory of one implementation, alone in this process."""
    device = torch.device(args.device)
    result = {}
    for phase, fn in steps(args, impl, device).items():
        with PeakMemory(device) as memory:
            timed(fn, 1, 1, device)
        result[f'{phase}_peak_mib'] = memory.mib
    return result


def timing_worker(args):
    """Both implementations in one process, timed in alternating rounds so that drifts of the
    machine hit both alike; the median per-iteration time of the rounds is reported."""
    device = torch.device(args.device)
    fns = {impl: steps(args, impl, device) for impl in ('reference', 'mmlight')}
    result = {}
    for phase in fns['mmlight']:
        seconds = alternating_rounds(
            {impl: fns[impl][phase] for impl in fns}, args.iters, args.warmup, device
        )
        for impl, per_iter in seconds.items():
            result[f'{impl}_{phase}_img_s'] = args.batch / per_iter
    return result


def run_worker(mode, args, weights):
    """One measurement in a fresh process: ``args.script`` (the tool) with ``--worker``."""
    cmd = [
        sys.executable,
        args.script,
        args.pair,
        '--worker',
        mode,
        '--device',
        args.device,
        '--batch',
        str(args.batch),
        '--size',
        *map(str, args.size),
        '--iters',
        str(args.iters),
        '--warmup',
        str(args.warmup),
    ]
    for impl, path in weights.items():
        if path:
            cmd += [f'--{impl}-weights', path]
    if args.channels_last:
        cmd.append('--channels-last')
    return run_isolated(cmd, f'{args.pair}/{mode}')


def complexity(model, size):
    from mmengine.analysis import get_model_complexity_info

    logging.getLogger('mmengine').setLevel(logging.ERROR)
    info = get_model_complexity_info(
        model, input_shape=(3, *size), show_table=False, show_arch=False
    )
    return info['params'], info['flops']


def compare(pair, args, tmp):
    args.pair = pair
    weights = {'reference': None, 'mmlight': None}
    if pair in DETECTOR_PAIRS:
        row = dict(
            pair=pair,
            reference=DETECTOR_PAIRS[pair][1],
            params_m=float('nan'),
            gflops=float('nan'),
            max_abs_diff=float('nan'),
        )
    else:
        torch.manual_seed(0)
        reference = build(pair, 'reference', args.references).eval()
        ours = build(pair, 'mmlight', args.references).eval()
        weights = {impl: osp.join(tmp, f'{pair}_{impl}.pth') for impl in weights}
        torch.save(reference.state_dict(), weights['reference'])
        ours.load_state_dict(reference_state_to_mmlight(pair, reference), strict=True)
        torch.save(ours.state_dict(), weights['mmlight'])
        with torch.no_grad():
            x = torch.randn(1, 3, *args.size)
            diff = max(
                (a - b).abs().max().item() for a, b in zip(ours(x), reference(x), strict=False)
            )
        params, flops = complexity(ours, args.size)
        row = dict(
            pair=pair,
            reference=PAIRS[pair]['reference_name'],
            params_m=params / 1e6,
            gflops=flops / 1e9,
            max_abs_diff=diff,
        )
    row.update(run_worker('timing', args, weights))
    for impl in ('reference', 'mmlight'):
        for key, value in run_worker(f'memory-{impl}', args, weights).items():
            row[f'{impl}_{key}'] = value
    for key in ('fwd_img_s', 'train_img_s', 'fwd_peak_mib', 'train_peak_mib'):
        if f'mmlight_{key}' in row:
            row[f'{key}_ratio'] = row[f'mmlight_{key}'] / max(row[f'reference_{key}'], 1e-9)
    return row


def _cell(row, key, digits=1):
    if f'mmlight_{key}' not in row:
        return '-'
    return (
        f"{row[f'mmlight_{key}']:.{digits}f} / {row[f'reference_{key}']:.{digits}f} "
        f"({row[f'{key}_ratio']:.2f})"
    )


def print_table(rows, args):
    device = (
        torch.cuda.get_device_name()
        if args.device == 'cuda'
        else f'CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)'
    )
    print(
        f'\ndevice: {device}; torch {torch.__version__}; batch {args.batch}; input '
        f'{args.size[0]}x{args.size[1]}; {args.iters} timed iterations'
        f'{"; channels_last" if args.channels_last else ""}'
    )
    print(
        '| model | reference | params (M) | GFLOPs | max abs diff | fwd img/s mmlight / ref '
        '(ratio) | fwd+bwd img/s mmlight / ref (ratio) | fwd peak MiB mmlight / ref (ratio) '
        '| fwd+bwd peak MiB mmlight / ref (ratio) |'
    )
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(
            f"| {r['pair']} | {r['reference']} | {r['params_m']:.2f} | {r['gflops']:.2f} | "
            f"{r['max_abs_diff']:.1e} | {_cell(r, 'fwd_img_s', 2)} | "
            f"{_cell(r, 'train_img_s', 2)} | {_cell(r, 'fwd_peak_mib', 0)} | "
            f"{_cell(r, 'train_peak_mib', 0)} |"
        )


def worker(args):
    """The measurement a ``--worker`` process makes."""
    args.pair = args.pairs[0]
    if args.worker == 'timing':
        return timing_worker(args)
    return memory_worker(args, args.worker[len('memory-') :])


def run(args):
    """Every pair of ``args.pairs`` (default :data:`DEFAULT_PAIRS`): the rows, printed as they
    come and as a table (and written to ``args.json``)."""
    if args.device == 'cuda':
        torch.backends.cudnn.benchmark = True
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in args.pairs or DEFAULT_PAIRS:
            rows.append(compare(pair, args, tmp))
            print(json.dumps(rows[-1]), flush=True)
    print_table(rows, args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
