"""The manual is what the code does: the site builds strictly (broken links, missing pages and
anchors, bad API references fail; every tool's --help runs), every Python block of README and
docs/ runs, every config snippet builds, every shell line runs a tool the manual documents or
says what it needs, and the custom-dataset tutorial trains."""

import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROI_SAMPLES, ROOT, TEST_DETECTIONS, run_folder
from tests.tool_process import run_forked

PAGES = [osp.join(ROOT, 'README.md'), *sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))]
FENCE = re.compile(r'^```(\w*)\n(.*?)^```', re.M | re.S)


def page_blocks(language):
    """(page relative to the root, line, code) of every fenced block in ``language``; a block
    whose code is the same as an earlier one's (README and a page showing one snippet) once."""
    blocks, seen = [], set()
    for page in PAGES:
        with open(page) as f:
            text = f.read()
        for match in FENCE.finditer(text):
            if match.group(1) == language and match.group(2) not in seen:
                seen.add(match.group(2))
                line = text.count('\n', 0, match.start()) + 1
                blocks.append((osp.relpath(page, ROOT), line, match.group(2)))
    return blocks


def block_id(block):
    return f'{block[0]}:{block[1]}'


def is_config(code):
    """A config snippet (what a config file holds) rather than a program: no imports, only
    assignments."""
    return not re.search(r'^(import|from) ', code, re.M) and bool(
        re.match(r'^\w+ = ', code.lstrip())
    )


PYTHON_BLOCKS = page_blocks('python')
CONFIG_BLOCKS = [block for block in PYTHON_BLOCKS if is_config(block[2])]
PROGRAM_BLOCKS = [block for block in PYTHON_BLOCKS if not is_config(block[2])]


def test_the_manual_builds_strictly(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'mkdocs', 'build', '--strict', '--site-dir', str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    tools_page = (tmp_path / 'tools' / 'index.html').read_text()
    # each tool's arguments come from the tool: a flag only the code knows is on the page
    assert '--trust-checkpoint' in tools_page
    assert '--resize-images' in tools_page
    api_page = (tmp_path / 'api' / 'index.html').read_text()
    assert 'inference_detector' in api_page
    assert 'Detector' in api_page


def test_every_page_is_in_the_navigation():
    with open(osp.join(ROOT, 'mkdocs.yml')) as f:
        nav = set(re.findall(r':\s+(\S+\.md)$', f.read(), flags=re.M))
    pages = {osp.basename(page) for page in PAGES[1:]}
    assert nav == pages


# ------------------------------------------------------------------ the world a snippet runs in


def random_checkpoint(config, path):
    """A checkpoint of ``config``'s detector with its initial weights (no download)."""
    import torch

    from mmlight.apis import init_detector

    torch.manual_seed(0)
    detector = init_detector(config, cfg_options={'model.backbone.init_cfg': None})
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(dict(state_dict=detector.state_dict()), path)


@pytest.fixture(scope='module')
def snippet_world(tmp_path_factory, demo_root, trained_demo):
    """What the manual's snippets assume a user has, in one folder: an image, the demo data,
    the checkpoints the README's and the demo's training write, an exported demo model, and a
    COCO-layout annotation file."""
    import cv2
    import filelock

    from tests.deployment_helpers import export_openvino

    folder = run_folder(tmp_path_factory) / 'snippet_world'
    folder.mkdir(exist_ok=True)
    with filelock.FileLock(str(folder) + '.lock'):
        if not (folder / 'done').exists():
            image = cv2.imread(osp.join(demo_root, 'val', '000001.png'))
            cv2.imwrite(str(folder / 'image.jpg'), image)
            (folder / 'images').mkdir()
            cv2.imwrite(str(folder / 'images' / 'a.jpg'), image)
            cv2.imwrite(str(folder / 'images' / 'b.png'), image[:, :60])
            shutil.copytree(demo_root, folder / 'data' / 'demo')
            annotations = folder / 'data' / 'coco' / 'annotations'
            annotations.mkdir(parents=True)
            shutil.copy(
                osp.join(demo_root, 'annotations', 'instances_val.json'),
                annotations / 'instances_val2017.json',
            )
            _config, checkpoint, _data = trained_demo
            demo_dir = folder / 'work_dirs' / 'demo_faster_rcnn_ghostnet_fpn_demo'
            demo_dir.mkdir(parents=True)
            shutil.copy(checkpoint, demo_dir / 'epoch_16.pth')
            random_checkpoint(
                'faster_rcnn_ghostnet_fpn_1x',
                str(folder / 'work_dirs' / 'faster_rcnn_ghostnet_fpn_1x' / 'epoch_12.pth'),
            )
            # export_onnx.py's OpenVINO files of that checkpoint with the demo config, as the
            # manual exports it (at its 192x192: the run's shared export is at the trained
            # config's 128x128)
            demo_config = osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py')
            export_openvino(demo_config, checkpoint, folder / 'det.xml')
            (folder / 'done').touch()
    return folder


def scratch_copy(world, destination):
    """The snippet world copied into a folder of the snippet's own: a snippet may write files
    (det.onnx, det.xml), and the other snippets' world stays as it was. The checkpoints, which
    no snippet writes and which are the large files, are hard links."""

    def copy(source, target):
        if source.endswith('.pth'):
            os.link(source, target)
        else:
            shutil.copy2(source, target)

    shutil.copytree(world, destination, copy_function=copy, ignore=shutil.ignore_patterns('done'))
    return destination


def run_in_world(world, tmp_path, files, args):
    """Python on ``args`` (a script and its arguments) in a copy of the snippet world holding
    ``files`` (name -> text), in a process of its own forked from one that has imported the
    training stack (:mod:`tests.tool_process`), as a user's script runs after its imports."""
    cwd = scratch_copy(world, tmp_path / 'world')
    for name, text in files.items():
        (cwd / name).write_text(text)
    return run_forked(str(cwd), args, dict(os.environ, PYTHONPATH=ROOT), timeout=600)


@pytest.mark.parametrize('block', PROGRAM_BLOCKS, ids=block_id)
def test_every_python_block_of_the_manual_runs(block, snippet_world, tmp_path):
    page, line, code = block
    proc = run_in_world(snippet_world, tmp_path, {'snippet.py': code}, ['snippet.py'])
    assert proc.returncode == 0, (
        f'the Python block at {page}:{line} fails:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}'
    )


# how the shipped configs set up each mmlight backbone for detection; a snippet that swaps one
# in keeps these
KEPT_BACKBONE_KEYS = ('frozen_stages', 'norm_eval', 'norm_cfg')

BUILD_CONFIG = '''
import json, os, sys
from mmengine.config import Config
from mmengine.registry import init_default_scope
import mmlight.registration  # noqa: F401
from mmdet.registry import METRICS, MODELS

cfg = Config.fromfile(sys.argv[1])
init_default_scope(cfg.get('default_scope', 'mmdet'))
built = {}
if 'model' in cfg and 'type' in cfg.model:
    model = MODELS.build(cfg.model)
    built['model'] = type(model).__name__
    built['backbone'] = {k: v for k, v in cfg.model.get('backbone', {}).items() if k != 'arch'}
for key in ('val_evaluator', 'test_evaluator'):
    # an evaluator reads its annotation file when built: where the snippet's data is not
    # here, the model alone is built (the tutorial's data: the training test)
    if key in cfg and os.path.isfile(cfg[key].get('ann_file', '')):
        built[key] = type(METRICS.build(cfg[key])).__name__
if 'train_dataloader' in cfg:
    built['batch_size'] = cfg.train_dataloader.batch_size
print(json.dumps(built, default=str))
'''


def shipped_backbone_settings(backbone_type):
    """(frozen_stages, norm_eval, norm_cfg) of the COCO configs with this backbone."""
    from mmlight.apis import config_names, load_detector_config

    settings = set()
    for name in config_names():
        if name.startswith('demo/'):
            continue
        backbone = load_detector_config(name).model.backbone
        if backbone.type == backbone_type:
            settings.add(json.dumps([backbone.get(key) for key in KEPT_BACKBONE_KEYS]))
    return settings


@pytest.mark.parametrize('block', CONFIG_BLOCKS, ids=block_id)
def test_every_config_snippet_of_the_manual_builds(block, snippet_world, tmp_path):
    from mmlight.registration import register_all_modules

    page, line, code = block
    files = {'snippet_config.py': code, 'build.py': BUILD_CONFIG}
    proc = run_in_world(snippet_world, tmp_path, files, ['build.py', 'snippet_config.py'])
    assert proc.returncode == 0, (
        f'the config at {page}:{line} does not build:\n{proc.stderr[-4000:]}'
    )
    built = json.loads(proc.stdout.strip().splitlines()[-1])
    assert built, f'the config at {page}:{line} builds nothing (no model, evaluator or loader)'
    backbone = built.get('backbone', {})
    register_all_modules()
    from mmlight.models import backbones as mmlight_backbones

    if backbone.get('type') in mmlight_backbones.__all__:
        settings = shipped_backbone_settings(backbone['type'])
        if settings:  # a backbone that a shipped config uses: the snippet keeps its set-up
            kept = json.dumps([backbone.get(key) for key in KEPT_BACKBONE_KEYS])
            assert kept in settings, (page, line, kept, settings)
        assert backbone.get('init_cfg', {}).get('type') == 'Pretrained', (
            f'{page}:{line}: an mmlight backbone without init_cfg trains from random weights'
        )


# ------------------------------------------------------------------ shell lines


# a line that only sets a shell variable (VAR=value, VAR="...", VAR=$(...)) runs nothing
ASSIGNMENT = re.compile(r"""^(export )?[A-Z_][A-Z0-9_]*=("[^"]*"|'[^']*'|\$\([^)]*\)|\S+)$""")


def shell_lines():
    """(page, line) of every command in the manual's bash blocks (continuations joined), but
    for blocks that open with a comment (a note on the whole block: where it runs, what it
    needs) and lines that only set a shell variable."""
    lines = []
    for page, _line, code in page_blocks('bash'):
        if code.lstrip().startswith('#'):
            continue
        for command in re.sub(r'\\\n\s*', ' ', code).splitlines():
            command = command.strip()
            if command and not command.startswith('#') and not ASSIGNMENT.match(command):
                lines.append((page, command))
    return lines


def documented_tools():
    with open(osp.join(ROOT, 'docs', 'tools.md')) as f:
        return set(re.findall(r'<!-- usage: (\S+) -->', f.read()))


RUNS_A_TOOL = re.compile(
    r'^(?:\S+=\S+ )*(?:python3? (tools/\S+\.py)|python3? -m (mmlight\.runtime)|(mmlight-detect))'
)


def test_every_shell_line_runs_a_documented_tool_or_says_what_it_needs():
    """A line that runs a Python tool is checked by the build (its --help runs, tools.md) and by
    test_every_flag_the_docs_give_a_tool_exists; any other line carries a visible note (a
    trailing comment) of what it needs or does."""
    tools = documented_tools()
    silent = []
    for page, command in shell_lines():
        match = RUNS_A_TOOL.match(command)
        if match:
            tool = match.group(1) or 'mmlight/runtime/__main__.py'
            assert tool in tools, f'{page}: {command} runs {tool}, which tools.md does not document'
        elif ' # ' not in command:
            silent.append(f'{page}: {command}')
    assert not silent, 'shell lines with no note of what they need:\n' + '\n'.join(silent)


# ------------------------------------------------------------------ the custom-dataset tutorial


def tutorial_config():
    with open(osp.join(ROOT, 'docs', 'custom_dataset.md')) as f:
        text = f.read()
    configs = [code for lang, code in FENCE.findall(text) if lang == 'python' and '_base_' in code]
    assert len(configs) == 1, 'custom_dataset.md should hold one config'
    return configs[0]


def test_the_custom_dataset_config_sets_the_classes_in_every_head():
    from mmengine.config import Config

    import mmlight.registration  # noqa: F401

    cfg = Config.fromstring(tutorial_config(), '.py')
    classes = cfg.metainfo['classes']
    assert cfg.model.roi_head.bbox_head.num_classes == len(classes)
    assert cfg.model.roi_head.mask_head.num_classes == len(classes)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.metainfo == cfg.metainfo, loader


def test_the_custom_dataset_tutorial_trains_on_data_in_its_layout(tmp_path, demo_root):
    """The tutorial's config, unchanged, trains two iterations and evaluates with
    tools/train.py on data the test writes in the tutorial's layout (data/balloons/: the demo
    shapes renamed to the tutorial's classes)."""
    from mmengine.config import Config

    import mmlight.registration  # noqa: F401

    config = tutorial_config()
    cfg = Config.fromstring(config, '.py')
    root = tmp_path / cfg.train_dataloader.dataset.data_root
    for split, loader in (('train', 'train_dataloader'), ('val', 'val_dataloader')):
        dataset = cfg[loader].dataset
        with open(osp.join(demo_root, 'annotations', f'instances_{split}.json')) as f:
            coco = json.load(f)
        coco['images'] = coco['images'][:2]
        kept = {image['id'] for image in coco['images']}
        coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in kept]
        names = cfg.metainfo['classes']
        coco['categories'] = [
            dict(category, name=names[i % len(names)])
            for i, category in enumerate(coco['categories'])
        ]
        coco['categories'] = coco['categories'][: len(names)]
        ids = {category['id'] for category in coco['categories']}
        coco['annotations'] = [a for a in coco['annotations'] if a['category_id'] in ids]
        ann_file = root / dataset.ann_file
        ann_file.parent.mkdir(parents=True, exist_ok=True)
        ann_file.write_text(json.dumps(coco))
        images = root / dataset.data_prefix.img
        images.mkdir(parents=True, exist_ok=True)
        for image in coco['images']:
            shutil.copy(osp.join(demo_root, split, image['file_name']), images / image['file_name'])
    (tmp_path / 'my_config.py').write_text(config)
    proc = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'),
            'my_config.py',
            '--work-dir',
            'work',
            '--cfg-options',
            'model.backbone.init_cfg=None',  # no ImageNet download in the test
            'train_cfg.max_epochs=1',
            # the demo images at their size (96 x 96, not 800 x 800) and the RoI heads on as
            # many RoIs as they need (tests/helpers.tiny_config's caps): the same code in a
            # tenth of the time
            'train_dataloader.dataset.pipeline.2.scale=(96,96)',
            'val_dataloader.dataset.pipeline.1.scale=(96,96)',
            f'model.train_cfg.rcnn.sampler.num={ROI_SAMPLES}',
            f'model.test_cfg.rpn.max_per_img={ROI_SAMPLES}',
            f'model.test_cfg.rcnn.max_per_img={TEST_DETECTIONS}',
            'train_dataloader.batch_size=1',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'Iter(train) [2/2]' in log or 'Epoch(train) [1][2/2]' in log, log[-3000:]
    assert 'bbox_mAP' in log, log[-3000:]
    assert 'segm_mAP' in log, log[-3000:]
