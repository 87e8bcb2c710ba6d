"""mmlight as an installed package: a wheel built from the checkout works outside it, the lint
is clean, and what README and docs tell a user to run exists."""

import glob
import os
import os.path as osp
import re
import subprocess
import sys
import zipfile

import pytest

from tests.helpers import ROOT, build_wheel

pytestmark = pytest.mark.quick

DOCS = [osp.join(ROOT, 'README.md'), *sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))]


def checkout_configs():
    return sorted(
        osp.relpath(path, osp.join(ROOT, 'configs'))[:-3]
        for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in path
    )


def run(args, cwd, env=None, timeout=600):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """The wheel, built as docs/get_started.md says (tests/helpers.py)."""
    return build_wheel(tmp_path_factory.mktemp('source'))


def test_the_wheel_holds_the_configs_and_the_license_files(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    packaged = sorted(
        name[len('mmlight/.mim/configs/') : -3]
        for name in names
        if name.startswith('mmlight/.mim/configs/')
        and name.endswith('.py')
        and '_base_' not in name
    )
    assert packaged == checkout_configs()
    assert 'mmlight/.mim/configs/_base_/detr_multiscale_resize.py' in names
    # OpenMMLab's model metadata, where mim reads it: the index and the metafiles it imports
    assert 'mmlight/.mim/model-index.yml' in names
    assert 'mmlight/.mim/configs/metafiles/ghostnet.yml' in names
    for license_file in (
        'mmlight/testing/official_odconv/LICENSE',
        'mmlight/testing/official_hornet/LICENSE',
        'mmlight/testing/official_repvit/LICENSE',
        'mmlight/testing/official_fastvit/LICENSE',
        'mmlight/testing/official_fastvit/ACKNOWLEDGEMENTS',
    ):
        assert license_file in names
    licenses = [name for name in names if '.dist-info/' in name and 'LICENSE' in name]
    assert any(name.endswith('/LICENSE') for name in licenses), licenses
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in names if n.endswith('.dist-info/METADATA')))
    metadata = metadata.decode()
    assert 'Requires-Python: >=3.10' in metadata
    for extra in ('mim', 'onnx', 'openvino', 'eval', 'timm', 'tests'):
        assert f'Provides-Extra: {extra}' in metadata


USER_SCRIPT = r'''
import json, os, sys
import torch
import mmlight
from mmlight.apis import config_names, init_detector, resolve_config
from mmlight.analysis.inference import eager_predict

assert mmlight.__file__.startswith(sys.prefix), mmlight.__file__
detector = init_detector(sys.argv[1])
detector.test_cfg.rcnn.score_thr = 0.0
image = torch.randint(0, 256, (3, 128, 160), dtype=torch.uint8)
result = eager_predict(detector, image)()[0]
print(json.dumps(dict(
    file=mmlight.__file__, names=config_names(recursive=True),
    resolved=resolve_config('faster_rcnn_ghostnet_fpn_1x'),
    neck=detector.neck.out_channels, boxes=len(result.pred_instances))))
'''

USER_CONFIG = '''_base_ = ['mmlight::faster_rcnn_ghostnet_fpn_1x.py']
model = dict(backbone=dict(widen_factor=0.5, init_cfg=None),
             neck=dict(in_channels=[12, 20, 56, 80], out_channels=64),
             rpn_head=dict(in_channels=64, feat_channels=64),
             roi_head=dict(bbox_roi_extractor=dict(out_channels=64),
                           bbox_head=dict(in_channels=64)))
'''


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_environment_works_outside_the_checkout(wheel, tmp_path):
    """The wheel in a new virtual environment (reusing the installed torch / mmcv / mmdet):
    its configs are found, a user config inheriting ``mmlight::`` builds and runs a forward,
    from a folder outside the repository, with the extras docs/get_started.md names."""
    venv = tmp_path / 'venv'
    # no pip or setuptools of its own: the reused ones (torch needs a newer setuptools than the
    # one venv would bundle); `python -m pip` then installs into the new environment
    run(
        [sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip', str(venv)],
        cwd=tmp_path,
    )
    python = str(venv / 'bin' / 'python')
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    # every requirement, extras included, is met by the reused packages: nothing to download
    run(
        [python, '-m', 'pip', 'install', '-q', '--no-index', f'{wheel}[onnx,openvino,eval]'],
        cwd=tmp_path,
        env=env,
    )
    work = tmp_path / 'elsewhere'
    work.mkdir()
    (work / 'my_config.py').write_text(USER_CONFIG)
    (work / 'use.py').write_text(USER_SCRIPT)
    proc = run([python, 'use.py', 'my_config.py'], cwd=work, env=env)
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['file'].startswith(str(venv))
    assert ROOT not in out['file']
    assert out['names'] == checkout_configs()
    assert out['resolved'].startswith(str(venv))
    assert out['resolved'].endswith(
        osp.join('mmlight', '.mim', 'configs', 'faster_rcnn_ghostnet_fpn_1x.py')
    )
    assert out['neck'] == 64
    assert out['boxes'] > 0


# ------------------------------------------------------------------ what the docs name


def doc_text(path):
    with open(path) as f:
        # a shell command continued on the next line is one command
        return re.sub(r'\\\n\s*', ' ', f.read())


def named_paths(text):
    pattern = r'(?<![\w./-])((?:configs|tools|mmlight|tests|docs)/[\w./-]*[\w/])'
    return set(re.findall(pattern, text))


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: osp.relpath(p, ROOT))
def test_every_file_the_docs_name_exists(doc):
    text = doc_text(doc)
    missing = []
    for path in named_paths(text):
        if any(part.split('.')[0].isupper() for part in path.split('/')):
            continue  # a placeholder: configs/CONFIG.py
        if not osp.exists(osp.join(ROOT, path)):
            missing.append(path)
    for link in re.findall(r'\]\(([^)#:]+)(?:#[^)]*)?\)', text):
        if not link.startswith('http') and not osp.exists(
            osp.normpath(osp.join(osp.dirname(doc), link))
        ):
            missing.append(link)
    assert not missing, f'{osp.relpath(doc, ROOT)} names files that do not exist: {missing}'


# library functions that add a tool's arguments, and the module that holds them
SHARED_ARGUMENTS = {'train_test_parser': 'mmlight/apis/train_test.py'}


def tool_flags(tool):
    """The --flags a tool's command line takes (argparse, also where a library function adds
    them, or the shell script's own)."""
    with open(osp.join(ROOT, tool)) as f:
        source = f.read()
    for function, module in SHARED_ARGUMENTS.items():
        if function in source:
            with open(osp.join(ROOT, module)) as f:
                source += f.read()
    flags = set(re.findall(r"""['"](--[a-z][\w-]*)['"]""", source))
    if 'BooleanOptionalAction' in source:  # argparse adds --no-FLAG beside each such --FLAG
        flags |= {'--no-' + flag[2:] for flag in flags}
    if tool.endswith('.sh'):
        flags |= set(re.findall(r'(?m)^\s*(--[a-z][\w-]*)\)', source))  # case patterns
        flags |= set(re.findall(r'= "(--[a-z][\w-]*)"', source))  # [ "$1" = "--flag" ]
    return flags


# the shell wrappers hand their extra arguments to these
DELEGATES = {
    'tools/dist_train.sh': 'tools/train.py',
    'tools/dist_test.sh': 'tools/test.py',
    'tools/run_demo.sh': 'tools/train.py',
}


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: osp.relpath(p, ROOT))
def test_every_flag_the_docs_give_a_tool_exists(doc):
    wrong = []
    for line in doc_text(doc).splitlines():
        for match in re.finditer(r'((?:python3? |bash )?(tools/[\w/]+\.(?:py|sh)))([^`|]*)', line):
            tool, rest = match.group(2), match.group(3)
            rest = re.split(r'\s#\s|\s\|\s|;|&&', rest)[0]  # up to a comment or the next command
            known = tool_flags(tool) | tool_flags(DELEGATES.get(tool, tool))
            known |= {'--help'}
            for flag in re.findall(r'(?<![\w-])(--[a-z][\w-]*)', rest):
                if flag not in known:
                    wrong.append(f'{tool} {flag}')
    assert not wrong, f'{osp.relpath(doc, ROOT)} gives flags the tools do not take: {wrong}'


def test_every_test_the_docs_cite_exists():
    sources = ''
    for path in glob.glob(osp.join(ROOT, 'tests', '*.py')):
        with open(path) as f:
            sources += f.read()
    defined = set(re.findall(r'def (test_\w+)', sources))
    config_keys = {'test_cfg', 'test_dataloader', 'test_evaluator', 'test_pipeline', 'test_out_dir'}
    cited = set()
    for doc in DOCS:
        cited |= set(re.findall(r'(?<![\w/])(test_\w+)(?![\w.])', doc_text(doc)))
    cited -= config_keys
    assert cited
    assert not cited - defined, sorted(cited - defined)


def test_the_model_zoo_lists_every_config():
    with open(osp.join(ROOT, 'docs', 'model_zoo.md')) as f:
        zoo = f.read()
    rows = re.findall(r'^\| `([\w-]+)` \|', zoo, flags=re.M)
    coco = [name for name in checkout_configs() if not name.startswith('demo/')]
    assert sorted(rows) == coco


CHILD_CONFIG = (
    "_base_ = ['mmlight::faster_rcnn_ghostnet_fpn_1x.py']\n"
    "model = dict(neck=dict(out_channels=64))\n"
)
READ_CHILD = '''
import sys
from mmengine.config import Config
if sys.argv[2] == 'import':
    import mmlight.registration  # noqa: F401
cfg = Config.fromfile(sys.argv[1])
print(cfg.model.backbone.type, cfg.model.neck.out_channels, cfg.custom_imports.imports,
      cfg.model.get('_scope_'))
'''


@pytest.mark.slow
def test_an_mmlight_base_resolves_after_mmlight_registration_and_says_why_not_before(tmp_path):
    """After ``import mmlight.registration``, ``_base_ = 'mmlight::NAME.py'`` is the installed
    file, read as a plain base (no scope of its own); without the import mmengine refuses the
    path, as docs/train_test.md says mmdet's own tools do."""
    (tmp_path / 'child.py').write_text(CHILD_CONFIG)
    (tmp_path / 'read.py').write_text(READ_CHILD)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = run([sys.executable, 'read.py', 'child.py', 'import'], cwd=tmp_path, env=env)
    # the scope is the one the mmlight config's own mmdet base gives, not a scope 'mmlight'
    assert proc.stdout.split() == ['GhostNet', '64', "['mmlight.registration']", 'mmdet']
    proc = subprocess.run(
        [sys.executable, 'read.py', 'child.py', 'no-import'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode != 0
    assert '_get_package_and_cfg_path` is used for get external package' in proc.stderr


def test_registration_leaves_other_packages_bases_as_mmengine_resolves_them(monkeypatch):
    """Another package's base resolves to mmengine's answer, read from its metafiles once per
    base and process; a relative base still resolves beside the file that names it."""
    from mmengine.config import Config
    from mmengine.config import config as mmengine_config

    from mmlight.utils.package_configs import external_config_path, register_config_bases

    reads = []
    read_metafiles = mmengine_config._get_external_cfg_path
    monkeypatch.setattr(
        mmengine_config,
        '_get_external_cfg_path',
        lambda *args: reads.append(args) or read_metafiles(*args),
    )
    external_config_path.cache_clear()
    base = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    path, scope = Config._get_cfg_path(base, __file__)
    original = Config._get_cfg_path.__wrapped__(base, __file__)
    assert (path, scope) == original
    assert scope == 'mmdet'
    assert len(reads) == 2  # the first resolution, then the original's own
    assert Config._get_cfg_path(base, 'another/file.py') == original
    assert len(reads) == 2
    with pytest.raises(FileNotFoundError):  # a failure is not remembered
        Config._get_cfg_path('mmdet::faster_rcnn/no_such.py', __file__)
    with pytest.raises(FileNotFoundError):
        Config._get_cfg_path('mmdet::faster_rcnn/no_such.py', __file__)
    assert Config._get_cfg_path('../base.py', '/configs/demo/x.py') == (
        '/configs/demo/../base.py',
        None,
    )
    register_config_bases()  # a second registration changes nothing
    assert Config._get_cfg_path.__wrapped__.__name__ == '_get_cfg_path'
    with pytest.raises(FileNotFoundError, match="mmlight has no config 'no_such.py'"):
        Config._get_cfg_path('mmlight::no_such.py', __file__)
