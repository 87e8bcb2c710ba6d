"""Pretrained weights by name (``mmlight://NAME``), conversion on load, and safe loading.

No internet: official-layout files are written from reference models (timm, torchvision,
mmpretrain, the official ODConv code) with random weights and served from a local HTTP server
on 127.0.0.1 through the ``MMLIGHT_WEIGHTS_URL`` mirror setting.
"""

import argparse
import dataclasses
import functools
import glob
import http.server
import inspect
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import threading
import time
from typing import ClassVar

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader

import mmlight.registration  # noqa: F401
from mmlight.apis import config_names, resolve_config
from mmlight.testing import references
from mmlight.utils.download import DownloadError, file_sha256
from mmlight.utils.safe_load import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    load_checkpoint_file,
    trust_checkpoint,
)
from mmlight.weights import WEIGHTS, ManualDownloadRequired, converted_cache_path
from tests.helpers import (
    ROOT,
    logged_losses,
    randomize_norm_statistics,
    retinanet_cfg,
    run_tool,
    tiny_config,
)

CONFIGS = [resolve_config(name) for name in config_names()]


# ---------------------------------------------------------------- local server and cache


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate: ClassVar[set] = set()
    requests: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        name = self.path.lstrip('/')
        if name in self.truncate:
            with open(osp.join(self.directory, name), 'rb') as f:
                data = f.read()
            self.send_response(200)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])  # the connection drops half way
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving ``served/``, set as the MMLIGHT_WEIGHTS_URL mirror;
    torch's hub cache (where downloads and converted files go) in tmp_path."""
    root = tmp_path / 'served'
    root.mkdir()
    handler = type('Handler', (_Handler,), dict(truncate=set(), requests=[]))
    httpd = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f'http://127.0.0.1:{httpd.server_address[1]}'
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('MMLIGHT_WEIGHTS_URL', url)
    monkeypatch.delenv('MMLIGHT_WEIGHTS_DIR', raising=False)
    yield argparse.Namespace(root=str(root), url=url, handler=handler)
    httpd.shutdown()
    httpd.server_close()


def _cache_files(tmp_path):
    return sorted(
        osp.relpath(p, tmp_path)
        for p in glob.glob(str(tmp_path / 'torch_home' / '**' / '*'), recursive=True)
        if osp.isfile(p)
    )


def _pin_sha(monkeypatch, name, path):
    """The table pins the real files' sha256; point it at the test file's."""
    entry = WEIGHTS[name]
    sha = file_sha256(path)
    sources = tuple(dataclasses.replace(s, sha256=sha if s.sha256 else None) for s in entry.sources)
    monkeypatch.setitem(WEIGHTS, name, dataclasses.replace(entry, sources=sources))


# ------------------------------------------------ official-layout files from reference models


def _randomized(reference):
    randomize_norm_statistics(reference)
    return reference.eval()


def _hornet_reference(arch, out_indices):
    # mmpretrain's own forward applies its per-level norms (norm0..3), which convert to the
    # detection backbone's out_norms: compare with the whole mmpretrain backbone
    reference = references.MMPretrainHorNetLevels(arch, out_indices)
    reference.model.eval()
    return reference.model


def _official_odconv_checkpoint(model):
    # the official main.py saves DistributedDataParallel's state_dict and its accuracies
    return {
        'epoch': 100,
        'state_dict': {'module.' + k: v for k, v in model.state_dict().items()},
        'acc': torch.tensor(77.0),
        'best_acc': torch.tensor(77.5),
    }


def _make_reference(name, out_indices):
    """(reference module returning the levels, checkpoint object, source index)."""
    torch.manual_seed(0)
    if name in ('ghostnet_1.0x', 'ghostnetv2_1.0x'):
        timm_name = 'ghostnet_100' if name == 'ghostnet_1.0x' else 'ghostnetv2_100'
        ref = _randomized(references.TimmGhostNetLevels(timm_name, out_indices))
        if name == 'ghostnet_1.0x':
            return ref, ref.model.state_dict(), 0  # the official file is a bare state_dict
        # GhostNetV2's official files are timm train.py checkpoints, with its arguments
        return (
            ref,
            {
                'state_dict': ref.model.state_dict(),
                'epoch': 450,
                'version': 2,
                'args': argparse.Namespace(model='ghostnetv2', lr=0.064),
            },
            0,
        )
    if name == 'shufflenetv2_1.0x':
        ref = _randomized(
            references.TorchvisionShuffleNetV2Levels('shufflenet_v2_x1_0', out_indices)
        )
        return ref, ref.model.state_dict(), 0
    if name == 'shufflenetv1_g3_1.0x':
        ref = _randomized(references.MMPretrainShuffleNetLevels('v1', out_indices, groups=3))
        return (
            ref,
            {
                'state_dict': {'backbone.' + k: v for k, v in ref.model.state_dict().items()},
                'meta': {'CLASSES': ['a', 'b'], 'epoch': 300},
            },
            0,
        )
    if name.startswith('hornet-'):
        ref = _hornet_reference(name[len('hornet-') :], out_indices)
        # served under mmpretrain's file name: the official (first) source is absent from the
        # mirror, so this also checks that the next source is tried
        return (
            ref,
            {
                'state_dict': {'backbone.' + k: v for k, v in ref.state_dict().items()},
                'meta': {'epoch': 300},
            },
            1,
        )
    if name.startswith('od_resnet'):
        depth, kernel_num = int(name[9:11]), int(name.split('_')[-1][0])
        ref = _randomized(
            references.OfficialODResNetLevels(depth, kernel_num, out_indices=out_indices)
        )
        return ref, _official_odconv_checkpoint(ref.model), 0
    if name.startswith('od_mobilenetv2'):
        kernel_num = int(name.split('_')[-1][0])
        ref = _randomized(
            references.OfficialODMobileNetV2Levels(1.0, kernel_num, out_indices=out_indices)
        )
        return ref, _official_odconv_checkpoint(ref.model), 0
    if name == 'mobilenetv2_1.0x':
        ref = _randomized(references.TorchvisionMobileNetV2Levels(1.0, out_indices))
        return ref, ref.model.state_dict(), 0
    if name == 'resnet50':
        ref = _randomized(references.TorchvisionResNetLevels('resnet50', out_indices))
        return ref, ref.model.state_dict(), 0
    entry = WEIGHTS[name]
    if entry.sources[0].layout == 'timm':
        # timm's file on the hub: its model's state_dict in safetensors
        from safetensors.torch import save_file

        backbone_type = MODELS.get(entry.model['type'])
        ref = _randomized(
            references.TimmFeatureLevels(
                name.split('.')[0], out_indices, output_norms=backbone_type.detection_output_norms
            )
        )
        return ref, _SafetensorsFile(ref.model.state_dict(), save_file), 0
    raise KeyError(f'no reference for {name}')


class _SafetensorsFile:
    """A checkpoint to write as a .safetensors file (the hub's format), not with torch.save."""

    def __init__(self, state_dict, save_file):
        self.state_dict, self.save_file = state_dict, save_file

    def write(self, path):
        # safetensors refuses tensors that share memory; timm's state_dicts have none
        self.save_file({k: v.contiguous() for k, v in self.state_dict.items()}, path)


def _write_official(name, folder, out_indices=(0, 1, 2, 3)):
    reference, checkpoint, source_index = _make_reference(name, out_indices)
    path = osp.join(folder, WEIGHTS[name].sources[source_index].filename)
    if isinstance(checkpoint, _SafetensorsFile):
        checkpoint.write(path)
    else:
        torch.save(checkpoint, path)
    return reference, path


def _config_backbones():
    """(config, backbone cfg, weights name) of every COCO/YOLO config."""
    rows = []
    for config in CONFIGS:
        backbone = Config.fromfile(config).model.backbone
        rows.append(
            (
                osp.basename(config),
                backbone.to_dict(),
                backbone.init_cfg.checkpoint[len('mmlight://') :],
            )
        )
    return rows


CONFIG_BACKBONES = _config_backbones()
CONFIG_WEIGHTS = sorted({name for _, _, name in CONFIG_BACKBONES})
# the plain R50 baseline is mmdet's own config; its weights are in the table all the same
EXTRA_BACKBONES = [
    (
        '(no config)',
        dict(
            type='ODResNet',
            depth=50,
            od_cfg=None,
            init_cfg=dict(type='Pretrained', checkpoint='mmlight://resnet50'),
        ),
        'resnet50',
    )
]


@pytest.mark.quick
def test_every_config_names_weights_made_for_its_backbone():
    assert len(CONFIG_BACKBONES) == 48
    for config, backbone, name in CONFIG_BACKBONES:
        assert backbone['init_cfg']['type'] == 'Pretrained', config
        assert name in WEIGHTS, config
        model = WEIGHTS[name].model
        assert backbone['type'] == model['type'], config
        defaults = inspect.signature(MODELS.get(model['type'])).parameters
        for key, value in model.items():
            if key == 'type':
                continue
            used = backbone.get(key, defaults[key].default)
            if key == 'od_cfg' and value is not None:
                assert used['kernel_num'] == value['kernel_num'], config
                assert used.get('reduction', 0.0625) == value['reduction'], config
            else:
                assert used == value, (config, key)


@pytest.mark.quick
def test_weights_table_covers_the_published_weights_and_real_sources():
    expected = {
        'ghostnet_1.0x',
        'ghostnetv2_1.0x',
        'ghostnetv2_1.3x',
        'ghostnetv2_1.6x',
        'shufflenetv2_0.5x',
        'shufflenetv2_1.0x',
        'shufflenetv2_1.5x',
        'shufflenetv2_2.0x',
        'shufflenetv1_g3_1.0x',
        'hornet-tiny',
        'hornet-tiny-gf',
        'hornet-small',
        'hornet-small-gf',
        'hornet-base',
        'hornet-base-gf',
        'od_resnet18_1x',
        'od_resnet18_4x',
        'od_resnet50_1x',
        'od_resnet50_4x',
        'od_mobilenetv2_1x',
        'od_mobilenetv2_4x',
        'mobilenetv2_1.0x',
        'resnet50',
    }
    assert expected <= set(WEIGHTS)
    for name, entry in WEIGHTS.items():
        MODELS.build(dict(entry.model))  # every entry names a backbone that builds
        for source in entry.sources:
            assert source.url or source.page, name  # downloadable, or a page for a person
            if source.url:
                assert source.url.startswith('https://'), name
            if source.sha256 and source.url:  # published hash prefixes are in the file name
                assert source.sha256 in source.filename, name


# backbones the weights table does not name, at the edges of each family's variants
UNLISTED_VARIANTS = [
    ('ghostnet', dict(type='GhostNet', widen_factor=0.5)),
    ('ghostnet', dict(type='GhostNet', widen_factor=1.3)),
    ('ghostnetv2', dict(type='GhostNetV2', widen_factor=1.6)),
    ('shufflenetv2', dict(type='ShuffleNetV2', widen_factor=2.0)),
    ('shufflenetv1', dict(type='ShuffleNetV1', groups=8, widen_factor=1.0)),
    ('shufflenetv1', dict(type='ShuffleNetV1', groups=1, widen_factor=0.5)),
    ('hornet', dict(type='HorNet', arch='large-gf384')),
    ('hornet', dict(type='HorNet', arch='base-gf')),
    ('odresnet', dict(type='ODResNet', depth=101, od_cfg=dict(kernel_num=4, reduction=0.0625))),
    ('odresnet', dict(type='ODResNet', depth=34, od_cfg=None)),
    (
        'odmobilenetv2',
        dict(type='ODMobileNetV2', widen_factor=0.75, od_cfg=dict(kernel_num=1, reduction=0.0625)),
    ),
]


@pytest.mark.quick
@pytest.mark.parametrize(
    ('family', 'cfg'),
    UNLISTED_VARIANTS + [(entry.family, entry.model) for entry in WEIGHTS.values()],
)
def test_the_backbone_is_inferred_from_the_tensor_shapes(family, cfg):
    """Every weights-table backbone and variants it does not list: the state_dict's shapes
    name the backbone it came from (built on the meta device: shapes only, no memory)."""
    from mmlight.converters import infer_backbone

    with torch.device('meta'):
        state_dict = MODELS.build(dict(cfg)).state_dict()
    assert infer_backbone(family, state_dict) == dict(cfg)


@pytest.mark.quick
def test_a_state_dict_of_no_variant_names_what_was_tried():
    from mmlight.converters import infer_backbone

    with torch.device('meta'):
        state_dict = MODELS.build(dict(type='ShuffleNetV2', widen_factor=1.0)).state_dict()
    del state_dict['stages.1.0.branch1.depthwise_conv.conv.weight']
    with pytest.raises(
        ValueError,
        match=r"(?s)fits none of the shufflenetv2 backbones.*"
        r"'widen_factor': 0.5.*1 missing keys, 0 unexpected "
        r"keys, e.g. stages.1.0.branch1.depthwise_conv",
    ):
        infer_backbone('shufflenetv2', state_dict)


# The timm families' weights differ only in the variant they build and share every step
# (timm's file, the backbone's own key map): one name per family, the smallest network its
# configs use; every entry of the table builds its backbone and is told from its shapes above
def _smallest_of_family(name):
    family = [n for n in CONFIG_WEIGHTS if WEIGHTS[n].family == WEIGHTS[name].family]
    return min(family, key=lambda n: WEIGHTS[n].params)


TIMM_FAMILY_WEIGHTS = {
    name
    for name in CONFIG_WEIGHTS
    if WEIGHTS[name].sources[0].layout == 'timm' and name != _smallest_of_family(name)
}
DOWNLOAD_TESTED = [name for name in CONFIG_WEIGHTS if name not in TIMM_FAMILY_WEIGHTS]


@pytest.mark.parametrize('name', [*DOWNLOAD_TESTED, 'resnet50'])
def test_named_weights_download_convert_load_and_match_the_reference(
    name, server, tmp_path, monkeypatch
):
    config, backbone_cfg, _ = next(
        row for row in CONFIG_BACKBONES + EXTRA_BACKBONES if row[2] == name
    )
    out_indices = tuple(backbone_cfg.get('out_indices', (0, 1, 2, 3)))
    reference, path = _write_official(name, server.root, out_indices)
    _pin_sha(monkeypatch, name, path)

    backbone = MODELS.build(dict(backbone_cfg))
    backbone.init_weights()  # mmlight://NAME: download, convert, check strictly, cache
    assert server.handler.requests[-1] == '/' + osp.basename(path)
    x = torch.randn(1, 3, 67, 91)
    with torch.no_grad():
        ours, theirs = backbone.eval()(x), reference(x)
    assert len(ours) == len(theirs) == len(out_indices)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-5, config

    # a second use hits the cache: no request reaches the server
    count = len(server.handler.requests)
    again = MODELS.build(dict(backbone_cfg))
    again.init_weights()
    assert len(server.handler.requests) == count
    # the same name works as any mmengine checkpoint (load_from): the backbone of a detector
    checkpoint = CheckpointLoader.load_checkpoint(f'mmlight://{name}', map_location='cpu')
    assert checkpoint['meta']['mmlight_weights'] == name
    own = {
        f'backbone.{k}'
        for k in backbone.state_dict()
        if not k.startswith(tuple(backbone.detection_only_prefixes))
    }
    assert own <= set(checkpoint['state_dict'])


def test_load_from_a_name_loads_the_backbone_of_a_detector(server, monkeypatch):
    """What the Runner does with ``load_from='mmlight://NAME'``."""
    from mmengine.runner.checkpoint import load_checkpoint

    reference, _path = _write_official('ghostnet_1.0x', server.root)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'faster_rcnn_ghostnet_fpn_1x.py'))
    cfg.model.backbone.init_cfg = None
    from mmengine.registry import init_default_scope

    init_default_scope('mmdet')
    detector = MODELS.build(cfg.model)
    load_checkpoint(detector, 'mmlight://ghostnet_1.0x', map_location='cpu')
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(detector.backbone.eval()(x), reference(x), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_weights_dir_is_used_first_and_needs_no_network(tmp_path, monkeypatch):
    folder = tmp_path / 'official'
    folder.mkdir()
    reference, _path = _write_official('od_mobilenetv2_1x', str(folder))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('MMLIGHT_WEIGHTS_DIR', str(folder))
    monkeypatch.delenv('MMLIGHT_WEIGHTS_URL', raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError('the network was used')

    monkeypatch.setattr('urllib.request.urlopen', no_network)
    backbone = MODELS.build(
        dict(
            type='ODMobileNetV2',
            od_cfg=dict(kernel_num=1),
            out_indices=(0, 1, 2, 3),
            init_cfg=dict(type='Pretrained', checkpoint='mmlight://od_mobilenetv2_1x'),
        )
    )
    backbone.init_weights()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(backbone.eval()(x), reference(x), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize('fault', ['truncated', 'wrong sha'])
def test_bad_downloads_are_clear_errors_and_cache_nothing(fault, server, tmp_path, monkeypatch):
    _, path = _write_official('shufflenetv2_1.0x', server.root)
    if fault == 'truncated':
        _pin_sha(monkeypatch, 'shufflenetv2_1.0x', path)
        server.handler.truncate.add(osp.basename(path))
    # (without _pin_sha the table's real sha256 prefix does not match the test file)
    backbone = MODELS.build(
        dict(
            type='ShuffleNetV2',
            init_cfg=dict(type='Pretrained', checkpoint='mmlight://shufflenetv2_1.0x'),
        )
    )
    with pytest.raises(DownloadError) as info:
        backbone.init_weights()
    text = str(info.value)
    if fault == 'truncated':
        assert 'cut short' in text
        assert osp.basename(path) in text
    else:
        assert 'sha256' in text
        assert '5666bf0f80' in text
    assert _cache_files(tmp_path) == []  # no partial file, no converted file
    # once the fault is gone, the same name works
    server.handler.truncate.clear()
    _pin_sha(monkeypatch, 'shufflenetv2_1.0x', path)
    backbone.init_weights()
    assert osp.isfile(converted_cache_path('shufflenetv2_1.0x'))


def test_timm_weights_that_cannot_be_fetched_say_the_hub_page_and_the_file_name(
    tmp_path, monkeypatch
):
    """A machine that cannot reach the hub (here: a mirror on a closed port) is told where to
    download timm's file by hand and under which name to save it."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setenv('MMLIGHT_WEIGHTS_URL', 'http://127.0.0.1:9')
    monkeypatch.delenv('MMLIGHT_WEIGHTS_DIR', raising=False)
    backbone = MODELS.build(
        dict(
            type='StarNet',
            arch='s1',
            init_cfg=dict(type='Pretrained', checkpoint='mmlight://starnet_s1.in1k'),
        )
    )
    with pytest.raises(ManualDownloadRequired) as info:
        backbone.init_weights()
    text = str(info.value)
    assert 'https://huggingface.co/timm/starnet_s1.in1k' in text
    assert osp.join('hub', 'checkpoints', 'starnet_s1.in1k.safetensors') in text
    assert _cache_files(tmp_path) == []


def test_a_corrupt_safetensors_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'model.safetensors'
    path.write_bytes(b'\x08\x00\x00\x00\x00\x00\x00\x00{"a": 1}')
    backbone = MODELS.build(
        dict(type='StarNet', arch='s050', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    )
    with pytest.raises(CorruptCheckpointError, match='is not a readable safetensors file'):
        backbone.init_weights()


def test_drive_only_weights_say_the_page_the_file_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('MMLIGHT_WEIGHTS_URL', raising=False)
    monkeypatch.delenv('MMLIGHT_WEIGHTS_DIR', raising=False)
    backbone = MODELS.build(
        dict(
            type='ODResNet',
            depth=50,
            od_cfg=dict(kernel_num=1),
            init_cfg=dict(type='Pretrained', checkpoint='mmlight://od_resnet50_1x'),
        )
    )
    with pytest.raises(ManualDownloadRequired) as info:
        backbone.init_weights()
    text = str(info.value)
    assert 'https://drive.google.com/file/d/1Aqwv6uQ9iI8a8Z5vjqmKuSTar0U8gfVJ' in text
    assert (
        osp.join(str(tmp_path / 'torch_home'), 'hub', 'checkpoints', 'od_resnet50_1x.pth.tar')
        in text
    )
    assert 'MMLIGHT_WEIGHTS_DIR' in text


def test_train_tool_says_what_to_fetch_before_building_the_dataset(tmp_path):
    env = {
        'TORCH_HOME': str(tmp_path / 'torch_home'),
        'MMLIGHT_WEIGHTS_URL': '',
        'MMLIGHT_WEIGHTS_DIR': '',
    }
    proc = run_tool(
        [
            'tools/train.py',
            'configs/faster_rcnn_odconv_r50_fpn_1x.py',
            '--work-dir',
            str(tmp_path / 'work'),
        ],
        timeout=300,
        env=env,
    )
    assert proc.returncode != 0
    assert 'ManualDownloadRequired' in proc.stderr
    assert 'drive.google.com' in proc.stderr
    assert 'od_resnet50_1x.pth.tar' in proc.stderr
    assert 'annotations' not in proc.stderr
    assert 'data/coco' not in proc.stderr


def test_unconverted_files_and_urls_load_directly(server, tmp_path):
    # a torchvision file by path, a timm/official file by URL: converted on load
    torch.manual_seed(0)
    reference, path = _write_official('shufflenetv2_1.0x', str(tmp_path))
    model = MODELS.build(
        dict(type='ShuffleNetV2', init_cfg=dict(type='Pretrained', checkpoint=path))
    )
    model.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model.eval()(x), reference(x), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    reference, served = _write_official('ghostnet_1.0x', server.root)
    url = f'{server.url}/{osp.basename(served)}'
    model = MODELS.build(dict(type='GhostNet', init_cfg=dict(type='Pretrained', checkpoint=url)))
    model.init_weights()
    with torch.no_grad():
        for a, b in zip(model.eval()(x), reference(x), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert osp.isfile(
        osp.join(str(tmp_path / 'torch_home'), 'hub', 'checkpoints', osp.basename(served))
    )


def test_a_checkpoint_of_another_family_is_a_clear_error(tmp_path):
    _, path = _write_official('shufflenetv2_1.0x', str(tmp_path))
    model = MODELS.build(dict(type='GhostNet', init_cfg=dict(type='Pretrained', checkpoint=path)))
    with pytest.raises(ValueError, match='is not a ghostnet checkpoint') as info:
        model.init_weights()
    text = str(info.value)
    assert 'conv_stem.weight' in text
    assert 'torchvision shufflenetv2 keys' in text


def test_a_convnext_checkpoint_and_a_truncated_file_are_clear_converter_errors(tmp_path):
    from mmlight.converters import convert_state_dict

    # the official ConvNeXt layout shares HorNet's stem and stage names
    convnext = {
        'downsample_layers.0.0.weight': torch.zeros(96, 3, 4, 4),
        'downsample_layers.0.1.weight': torch.zeros(96),
        'stages.0.0.dwconv.weight': torch.zeros(96, 1, 7, 7),
        'stages.0.0.pwconv1.weight': torch.zeros(384, 96),
        'stages.0.0.gamma': torch.zeros(96),
        'head.weight': torch.zeros(1000, 768),
    }
    with pytest.raises(
        ValueError,
        match=r'is not a hornet checkpoint: expected official or '
        r'mmpretrain HorNet keys.*found keys '
        r'downsample_layers\.0\.0\.weight',
    ):
        convert_state_dict('hornet', convnext)
    good = str(tmp_path / 'good.pth')
    torch.save(MODELS.build(dict(type='GhostNet', widen_factor=0.5)).state_dict(), good)
    with open(good, 'rb') as f:
        data = f.read()
    truncated = str(tmp_path / 'truncated.pth')
    with open(truncated, 'wb') as f:
        f.write(data[: len(data) // 2])
    proc = run_tool(
        ['tools/model_converters/convert.py', 'ghostnet', truncated, str(tmp_path / 'out.pth')]
    )
    assert proc.returncode != 0
    assert 'not a readable PyTorch checkpoint' in proc.stderr, proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr
    assert not osp.exists(tmp_path / 'out.pth')


class _WritesAFile:
    """A pickle that runs code when it is loaded: it creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


class _LooksUp:
    """A pickle that looks up an attribute of an allowed class."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return (getattr, (self.owner, self.name))


def _evil_checkpoint(tmp_path):
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / 'evil.pth')
    state = MODELS.build(dict(type='GhostNet', widen_factor=0.5)).state_dict()
    torch.save({'state_dict': dict(state), 'meta': {'payload': _WritesAFile(marker)}}, path)
    return path, marker


def _assert_refused(text, marker):
    assert 'refused to load' in text, text[-2000:]
    assert 'system' in text, text[-2000:]
    assert 'MMLIGHT_TRUSTED_CHECKPOINTS' in text
    assert not osp.exists(marker)


def test_a_pickle_that_runs_code_is_refused_by_pretrained_and_the_converter(tmp_path):
    path, marker = _evil_checkpoint(tmp_path)
    model = MODELS.build(
        dict(type='GhostNet', widen_factor=0.5, init_cfg=dict(type='Pretrained', checkpoint=path))
    )
    with pytest.raises(UnsafeCheckpointError) as info:
        model.init_weights()
    _assert_refused(str(info.value), marker)
    proc = run_tool(
        ['tools/model_converters/convert.py', 'ghostnet', path, str(tmp_path / 'out.pth')]
    )
    assert proc.returncode != 0
    _assert_refused(proc.stderr, marker)
    assert not osp.exists(tmp_path / 'out.pth')


def test_a_pickle_that_runs_code_is_refused_by_load_from_and_resume(demo_root, tmp_path):
    path, marker = _evil_checkpoint(tmp_path)
    cfg = tiny_config(
        Config.fromfile(osp.join(ROOT, 'configs', 'faster_rcnn_ghostnet_fpn_1x.py')),
        demo_root,
        str(tmp_path / 'work'),
    )
    cfg.model.backbone.widen_factor = 0.5
    cfg.model.neck.in_channels = [12, 20, 56, 80]
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    for args in (
        ['tools/test.py', config, path],
        ['tools/train.py', config, '--resume', path],
        ['tools/train.py', config, '--cfg-options', f'load_from={path}'],
    ):
        proc = run_tool(args, timeout=600)
        assert proc.returncode != 0, args
        _assert_refused(proc.stderr, marker)


def test_types_outside_the_allow_list_need_an_explicit_opt_in(tmp_path, monkeypatch):
    import fractions

    path = str(tmp_path / 'odd.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'ratio': fractions.Fraction(1, 3)}, path)
    with pytest.raises(UnsafeCheckpointError, match='fractions.Fraction'):
        load_checkpoint_file(path)
    monkeypatch.delenv('MMLIGHT_TRUSTED_CHECKPOINTS', raising=False)
    trust_checkpoint(path)
    assert load_checkpoint_file(path)['ratio'] == fractions.Fraction(1, 3)
    # mmengine's checkpoints need getattr(HistoryBuffer, 'mean'); no other lookup passes
    lookup = str(tmp_path / 'lookup.pth')
    torch.save({'state_dict': {}, 'hook': _LooksUp(argparse.Namespace, '__init__')}, lookup)
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\(<class 'argparse.Namespace'>"):
        load_checkpoint_file(lookup)
    # official-style extras are allowed without an opt-in
    ok = str(tmp_path / 'ok.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'args': argparse.Namespace(lr=0.1)}, ok)
    assert load_checkpoint_file(ok)['args'].lr == 0.1
    broken = str(tmp_path / 'broken.pth')
    with open(ok, 'rb') as f, open(broken, 'wb') as g:
        g.write(f.read()[:100])
    with pytest.raises(CorruptCheckpointError, match='not a readable PyTorch checkpoint'):
        load_checkpoint_file(broken)


def test_import_mmlight_leaves_mmengine_checkpoint_loading_alone(tmp_path):
    # after the import, mmengine's loaders are its own and torch.load allows nothing more
    code = (
        'import argparse, pickle, sys, torch\n'
        'from mmengine.runner.checkpoint import CheckpointLoader as L\n'
        'before = dict(L._schemes)\n'
        'import mmlight\n'
        'after = dict(L._schemes)\n'
        'assert set(after) - set(before) == {"mmlight://"}, set(after) ^ set(before)\n'
        'assert all(after[k] is before[k] for k in before)\n'
        'torch.save({"args": argparse.Namespace(lr=0.1)}, sys.argv[1])\n'
        'try:\n'
        '    torch.load(sys.argv[1], weights_only=True)\n'
        'except pickle.UnpicklingError:\n'
        '    print("ok")\n'
    )
    proc = subprocess.run(
        [sys.executable, '-c', code, str(tmp_path / 'ns.pth')],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'ok' in proc.stdout, proc.stderr[-3000:]


def test_resume_after_a_kill_gives_the_same_losses(demo_root, tmp_path):
    full_dir, part_dir = str(tmp_path / 'full'), str(tmp_path / 'part')
    cfg = retinanet_cfg(demo_root, full_dir, 4)
    cfg.dump(str(tmp_path / 'full.py'))
    proc = run_tool(['tools/train.py', str(tmp_path / 'full.py'), '--work-dir', full_dir])
    assert proc.returncode == 0, proc.stderr[-3000:]

    # a long run, killed (SIGKILL, no clean-up) once its iteration-2 checkpoint is complete
    long_cfg = retinanet_cfg(demo_root, part_dir, 1000)
    long_cfg.dump(str(tmp_path / 'long.py'))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    victim = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(tmp_path / 'long.py'), '--work-dir', part_dir],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = osp.join(part_dir, 'last_checkpoint')  # written after a checkpoint is saved
    deadline = time.time() + 600
    while not osp.isfile(last) and time.time() < deadline and victim.poll() is None:
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    checkpoint = osp.join(part_dir, 'iter_2.pth')
    saved = load_checkpoint_file(checkpoint)  # mmengine's own checkpoint, weights_only=True
    assert saved['meta']['iter'] == 2
    assert saved['optimizer']['state']

    retinanet_cfg(demo_root, part_dir, 4).dump(str(tmp_path / 'resume.py'))
    proc = run_tool(
        [
            'tools/train.py',
            str(tmp_path / 'resume.py'),
            '--work-dir',
            part_dir,
            '--resume',
            checkpoint,
        ],
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr
    full = logged_losses(full_dir)
    runs = sorted(glob.glob(osp.join(part_dir, '*', 'vis_data', 'scalars.json')))
    with open(runs[-1]) as f:
        resumed = {row['iter']: row['loss'] for row in map(json.loads, f) if 'loss' in row}
    assert sorted(resumed) == [3, 4]
    for it in (3, 4):
        assert resumed[it] == pytest.approx(full[it], rel=1e-4, abs=1e-5), it
