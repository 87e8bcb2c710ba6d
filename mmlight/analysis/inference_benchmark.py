"""The inference benchmark behind ``tools/analysis/benchmark_inference.py``: per-image CPU latency
(batch 1) and peak memory of detector configs in eager PyTorch, eager with conv + BN fused and
every exported runtime of the backend table, params, FLOPs and the share of the CPU's
matrix-product peak; or, with ``--profile``, where the time goes. Each measurement runs in a
fresh process (the tool again, with ``--worker``); the functions take the tool's parsed
arguments."""

import json
import os.path as osp
import sys
import tempfile

from mmlight.apis import init_detector
from mmlight.deployment.detector import detector_kind
from mmlight.deployment.export import export_onnx
from mmlight.utils.benchmark import PeakMemory, alternating_rounds, run_isolated

from .complexity import detector_complexity
from .inference import (
    RANDOM_WEIGHTS_SEED,
    UNFOLDED,
    benchmark_config,
    exported_runners,
    inference_fns,
    is_unfolded,
    prepare_models,
    random_image,
)
from .profile import ADDED, BETWEEN, OTHER, eager_breakdown, exported_breakdown
from .runtimes import (
    EAGER_RUNTIMES,
    EXPORT_REFERENCE,
    exported_runtimes,
    model_file,
    peak_share,
    runtime_labels,
)


def random_detector(config):
    """The config's detector with the benchmark's one draw of random weights."""
    return init_detector(benchmark_config(config), seed=RANDOM_WEIGHTS_SEED)


def model_worker(args):
    """The measurements of a ``--worker`` that builds the detector: ``timing`` (every runtime),
    ``profile`` and the peak memory of an eager runtime (the others:
    :func:`mmlight.analysis.benchmark_worker.worker`)."""
    shape = args.shape[0]
    if args.worker == 'timing':
        detector = random_detector(args.configs[0])
        runners = exported_runners(args.runtimes, args.onnx)
        fns = inference_fns(detector, shape, args.runtimes, args.onnx, runners)
        seconds = alternating_rounds(fns, args.iters, warmup=1)
        # and the precision each exported runtime computed in, for its share of the peak
        return {f'{runtime}_s': value for runtime, value in seconds.items()} | {
            f'{label}_arithmetic': runner.arithmetic for label, runner in runners.items()
        }
    if args.worker == 'profile':
        detector = random_detector(args.configs[0])
        image = random_image(shape)
        batch = image[None].float().numpy()
        sections = {'eager': dict(module=eager_breakdown(detector, image, args.iters))}
        exported = exported_runtimes()
        for label in args.runtimes:
            if label in exported:
                sections[label] = exported_breakdown(
                    args.onnx,
                    model_file(args.onnx, exported[label]),
                    exported[label],
                    batch,
                    args.iters,
                )
        return sections
    # the whole footprint of an eager runtime: building the torch model and one call, above
    # the imports
    runtime = args.worker[len('memory-') :]
    if runtime not in EAGER_RUNTIMES:
        raise ValueError(f'model_worker: {args.worker!r} is not a worker of the torch model')
    with PeakMemory() as memory:
        detector = random_detector(args.configs[0])
        inference_fns(detector, shape, [runtime], args.onnx)[runtime]()
    return {f'{runtime}_peak_mib': memory.mib}


def run_worker(args, config, shape, mode, runtimes, onnx_file):
    """One measurement in a fresh process: ``args.script`` (the tool) with ``--worker``."""
    cmd = [
        sys.executable,
        args.script,
        config,
        '--worker',
        mode,
        '--shape',
        *map(str, shape),
        '--iters',
        str(args.iters),
        '--runtimes',
        *runtimes,
    ]
    if onnx_file:
        cmd += ['--onnx', onnx_file]
    return run_isolated(cmd, f'{config} ({mode})')


def export_graph(detector, config, shape, tmp):
    """The ONNX file of ``detector`` in ``tmp``; ValueError for a detector the ONNX path does
    not cover."""
    detector_kind(detector)
    return export_onnx(
        detector,
        osp.join(tmp, config.replace(UNFOLDED, '_unfolded') + '.onnx'),
        shape,
        reparameterize=not is_unfolded(config),
    )


def measure(args, config, shape, tmp, peaks):
    path = benchmark_config(config)
    detector = random_detector(path)
    complexity = detector_complexity(path, shape)
    row = dict(
        config=config,
        shape=list(shape),
        params_m=complexity['detector']['params'] / 1e6,
        gflops=complexity['detector']['flops'] / 1e9,
        peak_gflops=peaks,
    )
    runtimes = [r for r in args.runtimes if r in EAGER_RUNTIMES]
    exported = [r for r in args.runtimes if r not in EAGER_RUNTIMES]
    onnx_file = None
    if exported:
        try:
            onnx_file = export_graph(detector, config, shape, tmp)
            runtimes += exported
        except ValueError as err:  # a detector the ONNX path does not cover
            row['onnx'] = str(err)
    if onnx_file:
        prepare_models(onnx_file, shape, exported)
    row.update(run_worker(args, config, shape, 'timing', runtimes, onnx_file))
    for runtime in runtimes if args.memory else []:
        row.update(run_worker(args, config, shape, f'memory-{runtime}', [runtime], onnx_file))
    return row


def profile(args, config, shape, tmp):
    onnx_file = export_graph(random_detector(config), config, shape, tmp)
    runtimes = [r for r in args.runtimes if r not in EAGER_RUNTIMES]
    prepare_models(onnx_file, shape, runtimes)
    return run_worker(args, config, shape, 'profile', runtimes, onnx_file)


def print_parts(title, parts, min_share=0.01):
    """One breakdown, largest rows as they come; the parts under ``min_share`` of the total in
    one line (the operator types: dozens of them)."""
    total = sum(parts.values())
    print(f'  {title}: {total:.4f} s')
    small = {
        name: seconds
        for name, seconds in parts.items()
        if seconds < min_share * total and not name.startswith('other')
    }
    for name, seconds in parts.items():
        if name not in small:
            print(f'    {name:32s} {seconds:9.4f}  {seconds / total:6.1%}')
    if small:
        seconds = sum(small.values())
        print(
            f"    {f'({len(small)} more, < {min_share:.0%} each)':32s} {seconds:9.4f}  "
            f'{seconds / total:6.1%}'
        )


def print_modules(title, parts, nodes=None):
    """The time of each module of the detector, every one of them (a handful), with the
    number of executed nodes traced to it where the runtime ran an exported graph."""
    total = sum(parts.values())
    print(f'  {title}: {total:.4f} s' + ('  (executed nodes)' if nodes is not None else ''))
    for name, seconds in parts.items():
        count = '' if nodes is None or name == BETWEEN else f'  {nodes.get(name, 0):6d}'
        print(f'    {name:32s} {seconds:9.4f}  {seconds / total:6.1%}{count}')


def print_profile(config, shape, sections):
    print(f'\n{config} at {shape[0]}x{shape[1]}: seconds per image (share)')
    for runtime, section in sections.items():
        if runtime == 'eager':
            print_modules(runtime, section['module'])
            continue
        nodes = section['nodes']
        print_modules(f'{runtime} by module', section['module'], nodes)
        print_parts(f'{runtime} by operator type', section['operator'])
        traced = sum(count for part, count in nodes.items() if not part.startswith('other'))
        print(
            f'  {runtime} nodes: {sum(nodes.values())} executed, {traced} traced to the '
            f"detector's modules, {nodes.get(OTHER, 0)} to its pre/post-processing, "
            f'{nodes.get(ADDED, 0)} added by the runtime'
        )
        if BETWEEN not in section['module']:
            print(
                f"  {runtime}: the counters add up to more than the call's "
                f"{section['wall']:.3f} s: the shares are of the counters' sum"
            )


def print_table(rows):
    runtimes = [r for r in runtime_labels() if any(f'{r}_s' in row for row in rows)]
    print(
        '| config | size | params (M) | GFLOPs | '
        + ' | '.join(f'{r} (s)' for r in runtimes)
        + ' | eager / onnxruntime | peak MiB '
        + ' / '.join(runtimes)
        + ' |'
    )
    print('|---|---|---|---|' + '---|' * len(runtimes) + '---|---|')
    for row in rows:

        def cell(key, fmt='{:.3f}', row=row):
            return fmt.format(row[key]) if key in row else 'n/a'

        speedup = (
            f"{row['eager_s'] / row['onnxruntime_s']:.2f}x"
            if 'onnxruntime_s' in row and 'eager_s' in row
            else 'n/a'
        )
        memory = ' / '.join(cell(f'{r}_peak_mib', '{:.0f}') for r in runtimes)
        height, width = row['shape']
        print(
            f"| {row['config']} | {height}x{width} | {row['params_m']:.2f} | "
            f"{row['gflops']:.1f} | "
            + ' | '.join(cell(f'{r}_s') for r in runtimes)
            + f' | {speedup} | {memory} |'
        )
    print_speedups(rows, [r for r in runtimes if r not in (*EAGER_RUNTIMES, EXPORT_REFERENCE)])
    with_peak = [row for row in rows if row.get('peak_gflops')]
    if not with_peak:
        return
    exported = [r for r in runtimes if r not in EAGER_RUNTIMES]
    print(
        '\nAchieved GFLOP/s (2 x the row\'s multiply-adds per second) / the matrix-product '
        'peak of the precision the runtime computed in (n/a where torch multiplies in it more '
        'slowly than in fp32: no peak of the CPU\'s to compare with):\n'
    )
    print('| config | size | ' + ' | '.join(exported) + ' |')
    print('|---|---|' + '---|' * len(exported))
    for row in with_peak:
        cells = []
        for runtime in exported:
            share = peak_share(row, runtime)
            if share is None:
                cells.append('n/a')
                continue
            achieved, peak = share
            cells.append(f'{achieved:.0f} / {peak:.0f} ({achieved / peak:.0%})')
        height, width = row['shape']
        print(f"| {row['config']} | {height}x{width} | " + ' | '.join(cells) + ' |')


def print_speedups(rows, runtimes, reference='mmdet_faster_rcnn_r50'):
    """Each of ``runtimes`` against the row's own onnxruntime FP32, and against the reference's
    eager PyTorch at the same image size (where that row was measured)."""
    if not runtimes:
        return
    eager = {
        tuple(row['shape']): row['eager_s']
        for row in rows
        if row['config'] == reference and 'eager_s' in row
    }
    print(
        f'\nSpeed-ups (x): against the row\'s onnxruntime FP32 | against {reference} in '
        'eager at the same size:\n'
    )
    names = list(runtimes)
    print(
        '| config | size | '
        + ' | '.join(f'{n} vs onnxruntime' for n in names)
        + ' | '
        + ' | '.join(f'{n} vs reference eager' for n in names)
        + ' |'
    )
    print('|---|---|' + '---|' * 2 * len(runtimes))
    for row in rows:

        def ratio(numerator, runtime, row=row):
            seconds = row.get(f'{runtime}_s')
            return f'{numerator / seconds:.2f}x' if numerator and seconds else 'n/a'

        height, width = row['shape']
        cells = [ratio(row.get('onnxruntime_s'), r) for r in runtimes]
        cells += [ratio(eager.get(tuple(row['shape'])), r) for r in runtimes]
        print(f"| {row['config']} | {height}x{width} | " + ' | '.join(cells) + ' |')


def plot(rows, path):
    """One panel per image size; in each, one group of horizontal bars per config (a bar per
    runtime), seconds per image on a log scale."""
    import math

    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    def label(value, _):
        return f'{value:g}'

    def minor_label(value, _):  # 2 and 5 of each decade, plainly
        return f'{value:g}' if round(value / 10 ** math.floor(math.log10(value))) in (2, 5) else ''

    shapes = sorted({tuple(row['shape']) for row in rows}, reverse=True)
    configs = sorted({row['config'] for row in rows})
    runtimes = [r for r in runtime_labels() if any(f'{r}_s' in row for row in rows)]
    bar = 0.8 / len(runtimes)
    fig, axes = plt.subplots(
        1,
        len(shapes),
        figsize=(7 * len(shapes), 0.12 * len(runtimes) * len(configs) + 1.8),
        squeeze=False,
        sharey=True,
    )
    for ax, shape in zip(axes[0], shapes, strict=True):
        panel = {row['config']: row for row in rows if tuple(row['shape']) == shape}
        for offset, runtime in enumerate(runtimes):
            ys = [
                i + (offset - (len(runtimes) - 1) / 2) * bar
                for i, c in enumerate(configs)
                if f'{runtime}_s' in panel.get(c, {})
            ]
            xs = [panel[c][f'{runtime}_s'] for c in configs if f'{runtime}_s' in panel.get(c, {})]
            ax.barh(ys, xs, height=bar, label=runtime)
        ax.set_yticks(range(len(configs)), configs, fontsize=8)
        ax.set_xscale('log')
        ax.xaxis.set_major_formatter(FuncFormatter(label))
        ax.xaxis.set_minor_formatter(FuncFormatter(minor_label))
        ax.tick_params(axis='x', which='both', labelsize=8)
        ax.set_xlabel('seconds per image (batch 1, log scale)')
        ax.set_title(f'{shape[0]}x{shape[1]}')
        ax.grid(alpha=0.3, axis='x', which='both')
    axes[0][0].invert_yaxis()  # the panels share the axis: the first config on top in both
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle('CPU inference, seconds per image (no bar: not measured)')
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(
        handles,
        labels,
        loc='upper center',
        bbox_to_anchor=(0.5, 0.965),
        ncol=len(runtimes),
        fontsize=9,
        frameon=False,
    )
    fig.savefig(path, dpi=110)
    return path


def run(args):
    """The benchmark of the tool's parsed ``args``: the profile, or the latency table (and its
    JSON file and plot)."""
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            for shape in args.shape:
                for config in args.configs:
                    try:
                        breakdown = profile(args, config, shape, tmp)
                    except ValueError as err:  # a detector the ONNX path does not cover
                        print(f'\n{config}: not profiled: {err}')
                        continue
                    print_profile(config, shape, breakdown)
        return
    rows = []
    if args.json and osp.isfile(args.json):
        with open(args.json) as f:
            rows = json.load(f)
    done = {(row['config'], tuple(row['shape'])) for row in rows}
    todo = [
        (config, shape)
        for shape in args.shape
        for config in args.configs
        if (config, tuple(shape)) not in done
    ]
    peaks = (
        run_worker(args, 'none', args.shape[0], 'peak', ['eager'], None)['peak_gflops']
        if todo
        else {}
    )
    if peaks:
        print(
            'matrix-product peak (GFLOP/s): '
            + ', '.join(f'{name} {value:.0f}' for name, value in peaks.items()),
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shape:
            for config in args.configs:
                if (config, tuple(shape)) in done:
                    continue
                rows.append(measure(args, config, shape, tmp, peaks))
                print(json.dumps(rows[-1]), flush=True)
                if args.json:
                    with open(args.json, 'w') as f:
                        json.dump(rows, f, indent=1)
    print_table(rows)
    if args.plot:
        print(f'plot: {plot(rows, args.plot)}')
