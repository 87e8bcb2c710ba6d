"""Time mmlight backbones beside their reference implementations, with the same weights, in
one run: forward and forward+backward images/s, peak memory, params and FLOPs.

    python tools/analysis/benchmark_backbones.py                      # every pair, CPU
    python tools/analysis/benchmark_backbones.py ghostnet --device cuda --batch 8 --size 512 512

Each (model, implementation) is timed in its own subprocess so that peak memory (CUDA: max
allocated; CPU: growth of the peak resident set over the state before the timed loops) is
not polluted by the other. Ratios > 1 mean mmlight is faster / uses less memory.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

PAIRS = {
    # name: mmlight config, reference factory, converter, reference description
    'ghostnet': dict(
        mmlight=dict(type='GhostNet', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="TimmGhostNetLevels('ghostnet_100')", converter='ghostnet',
        reference_name='timm ghostnet_100'),
    'ghostnetv2': dict(
        mmlight=dict(type='GhostNetV2', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="TimmGhostNetLevels('ghostnetv2_100')", converter='ghostnet',
        reference_name='timm ghostnetv2_100'),
    'shufflenetv2': dict(
        mmlight=dict(type='ShuffleNetV2', widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="TorchvisionShuffleNetV2Levels('shufflenet_v2_x1_0')",
        converter='shufflenetv2', reference_name='torchvision shufflenet_v2_x1_0'),
    'shufflenetv1': dict(
        mmlight=dict(type='ShuffleNetV1', groups=3, widen_factor=1.0, out_indices=(0, 1, 2, 3)),
        reference="MMPretrainShuffleNetLevels('v1', groups=3)", converter='shufflenetv1',
        reference_name='mmpretrain ShuffleNetV1 g3'),
}


def build(pair, impl):
    if impl == 'reference':
        from mmlight.testing import references
        return eval(PAIRS[pair]['reference'], vars(references))
    import mmlight  # noqa: F401
    from mmdet.registry import MODELS
    return MODELS.build(dict(PAIRS[pair]['mmlight']))


def reference_state_to_mmlight(pair, reference):
    from mmlight.converters import convert_state_dict
    state = {k[len('model.'):] if k.startswith('model.') else k: v
             for k, v in reference.state_dict().items()}
    return convert_state_dict(PAIRS[pair]['converter'], state)


def current_rss_kib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, iters, warmup, device):
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def worker(args):
    device = torch.device(args.device)
    model = build(args.pair, args.impl)
    model.load_state_dict(torch.load(args.weights, map_location='cpu'))
    model.to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    x = torch.randn(args.batch, 3, *args.size, device=device).to(memory_format=memory_format)
    result = {}

    def peak_start():
        if device.type == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            return torch.cuda.memory_allocated()
        return current_rss_kib() * 1024

    def peak_end(base):
        if device.type == 'cuda':
            return torch.cuda.max_memory_allocated() - base
        return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base, 0)

    model.eval()
    with torch.no_grad():
        base = peak_start()
        seconds = timed(lambda: model(x), args.iters, args.warmup, device)
        result['fwd_img_s'] = args.batch / seconds
        result['fwd_peak_mib'] = peak_end(base) / 2**20

    model.train()

    def step():
        outs = model(x)
        sum(o.float().mean() for o in outs).backward()

    base = peak_start()
    seconds = timed(step, args.iters, args.warmup, device)
    result['train_img_s'] = args.batch / seconds
    result['train_peak_mib'] = peak_end(base) / 2**20
    print('RESULT ' + json.dumps(result))


def run_worker(pair, impl, weights, args):
    cmd = [sys.executable, os.path.abspath(__file__), pair, '--worker', impl, '--weights', weights,
           '--device', args.device, '--batch', str(args.batch), '--size', *map(str, args.size),
           '--iters', str(args.iters), '--warmup', str(args.warmup)]
    if args.channels_last:
        cmd.append('--channels-last')
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'{pair}/{impl} failed:\n{out.stderr[-3000:]}')
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')][-1]
    return json.loads(line[len('RESULT '):])


def complexity(model, size):
    from mmengine.analysis import get_model_complexity_info
    info = get_model_complexity_info(model, input_shape=(3, *size), show_table=False,
                                     show_arch=False)
    return info['params'], info['flops']


def compare(pair, args, tmp):
    torch.manual_seed(0)
    reference = build(pair, 'reference').eval()
    ours = build(pair, 'mmlight').eval()
    ref_path = os.path.join(tmp, f'{pair}_reference.pth')
    our_path = os.path.join(tmp, f'{pair}_mmlight.pth')
    torch.save(reference.state_dict(), ref_path)
    ours.load_state_dict(reference_state_to_mmlight(pair, reference), strict=True)
    torch.save(ours.state_dict(), our_path)
    with torch.no_grad():
        x = torch.randn(1, 3, *args.size)
        diff = max((a - b).abs().max().item() for a, b in zip(ours(x), reference(x)))
    params, flops = complexity(ours, args.size)
    row = dict(pair=pair, reference=PAIRS[pair]['reference_name'], params_m=params / 1e6,
               gflops=flops / 1e9, max_abs_diff=diff)
    for impl, path in (('reference', ref_path), ('mmlight', our_path)):
        for key, value in run_worker(pair, impl, path, args).items():
            row[f'{impl}_{key}'] = value
    for key in ('fwd_img_s', 'train_img_s'):
        row[f'{key}_ratio'] = row[f'mmlight_{key}'] / row[f'reference_{key}']
    return row


def print_table(rows, args):
    device = torch.cuda.get_device_name() if args.device == 'cuda' else \
        f'CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)'
    print(f'\ndevice: {device}; torch {torch.__version__}; batch {args.batch}; input '
          f'{args.size[0]}x{args.size[1]}; {args.iters} timed iterations'
          f'{"; channels_last" if args.channels_last else ""}')
    print('| model | reference | params (M) | GFLOPs | max abs diff | fwd img/s mmlight / ref '
          '(ratio) | fwd+bwd img/s mmlight / ref (ratio) | fwd peak MiB mmlight / ref | '
          'fwd+bwd peak MiB mmlight / ref |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['pair']} | {r['reference']} | {r['params_m']:.2f} | {r['gflops']:.2f} | "
              f"{r['max_abs_diff']:.1e} | {r['mmlight_fwd_img_s']:.1f} / "
              f"{r['reference_fwd_img_s']:.1f} ({r['fwd_img_s_ratio']:.2f}) | "
              f"{r['mmlight_train_img_s']:.1f} / {r['reference_train_img_s']:.1f} "
              f"({r['train_img_s_ratio']:.2f}) | {r['mmlight_fwd_peak_mib']:.0f} / "
              f"{r['reference_fwd_peak_mib']:.0f} | {r['mmlight_train_peak_mib']:.0f} / "
              f"{r['reference_train_peak_mib']:.0f} |")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('pairs', nargs='*', choices=[[]] + sorted(PAIRS), default=[],
                        help=f'models to compare (default: all of {sorted(PAIRS)})')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[320, 320], metavar=('H', 'W'))
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--json', help='also write the rows to this file')
    parser.add_argument('--worker', choices=['reference', 'mmlight'], help=argparse.SUPPRESS)
    parser.add_argument('--weights', help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.worker:
        args.pair = args.pairs[0]
        return worker(args)
    if args.device == 'cuda':
        torch.backends.cudnn.benchmark = True
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in args.pairs or sorted(PAIRS):
            rows.append(compare(pair, args, tmp))
    print_table(rows, args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
