"""mmlight.runtime: an exported model on any image without the training stack. Its
preprocessing is mmcv's test pipeline (the same detections as deployed_predict, bit for bit, on
square, non-square, gray, RGBA and 16-bit files), fixed-size graphs pad, a bad file gets one
clear line, the model file describes itself, and nothing of torch, mmcv, mmengine or mmdet is
imported."""

import ast
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from dataclasses import asdict

import cv2
import numpy as np
import pytest
import torch

import mmlight.registration  # noqa: F401
from mmlight.analysis.runtime_benchmark import import_blocker
from mmlight.apis import init_detector, load_detector_config
from mmlight.deployment.backends import load_runner
from mmlight.deployment.backends.openvino import convert_to_openvino
from mmlight.deployment.export import export_onnx, write_onnx_metadata
from mmlight.deployment.metadata import MissingMetadataError, PadSpec
from mmlight.deployment.predict import deployed_predict
from mmlight.runtime import Detector, ImageReadError
from tests.deployment_helpers import calibrate_norms, demo_images, open_score_priors
from tests.helpers import ROOT, build_wheel, run_folder, run_python

TRAINING_STACK = ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet')
# the modules mmlight.runtime loads: none may import the training stack, at any depth
RUNTIME_MODULES = (
    'mmlight/__init__.py',
    'mmlight/version.py',
    'mmlight/runtime',
    'mmlight/deployment/__init__.py',
    'mmlight/deployment/backends',
    'mmlight/deployment/metadata.py',
)


def python_files(entry):
    path = osp.join(ROOT, entry)
    if osp.isfile(path):
        return [path]
    return [osp.join(path, name) for name in sorted(os.listdir(path)) if name.endswith('.py')]


@pytest.mark.quick
def test_the_runtime_modules_import_nothing_of_the_training_stack():
    found = []
    for entry in RUNTIME_MODULES:
        for path in python_files(entry):
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or '']
                for name in names:
                    if name.split('.')[0] in TRAINING_STACK:
                        found.append(f'{osp.relpath(path, ROOT)}:{node.lineno} imports {name}')
    # mmlight/__init__.py registers the training stack only where it is installed
    assert found == [], found


def demo_detector(name, demo_root, checkpoint_dir):
    """(config, checkpoint) of a demo config's detector with BN statistics from demo images and
    open score priors: it detects something without training (the trained demo's detections
    through the runtime are checked in tests/test_deployment_tools.py)."""
    config = osp.join(ROOT, 'configs', 'demo', f'{name}.py')
    checkpoint = osp.join(checkpoint_dir, f'{name}.pth')
    if osp.isfile(checkpoint):
        return config, checkpoint
    torch.manual_seed(0)
    detector = init_detector(config)
    detector.init_weights()
    calibrate_norms(detector, demo_images(demo_root))
    open_score_priors(detector)
    torch.save(dict(state_dict=detector.state_dict()), checkpoint)
    return config, checkpoint


ODD_IMAGES = ('wide.png', 'tall.jpg', 'gray.png', 'rgba.png', 'deep.png')


def odd_images(folder, source):
    """A demo image as the files users have (ODD_IMAGES): cropped non-square both ways, gray,
    RGBA, 16-bit."""
    image = cv2.imread(source)
    pictures = (
        image[:48],
        image[:, :40],
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),
        cv2.cvtColor(image, cv2.COLOR_BGR2BGRA),
        image.astype(np.uint16) * 257 + 3,
    )
    for name, picture in zip(ODD_IMAGES, pictures, strict=True):
        cv2.imwrite(osp.join(folder, name), picture)


# the demo Faster R-CNN and YOLO, and the YOLO on MobileNetV4 (a backbone built by timm)
DEMO_MODELS = (
    'faster_rcnn_ghostnet_fpn_demo',
    'yolov4_ghostnet_demo',
    'yolov4_mobilenetv4-conv-small_demo',
)


@pytest.fixture(scope='module')
def exported(tmp_path_factory, demo_root):
    """The demo Faster R-CNN and YOLO (untrained, :func:`demo_detector`) exported as the tools
    export them: fixed size (the test pipeline's 192x192), .onnx and OpenVINO IR; with the images
    they run on. Made once per test run (the first worker to ask exports, the others wait)."""
    import filelock

    folder = run_folder(tmp_path_factory) / 'runtime_exports'
    folder.mkdir(exist_ok=True)
    configs = {}
    with filelock.FileLock(str(folder / 'export.lock')):
        for name in DEMO_MODELS:
            config, checkpoint = demo_detector(name, demo_root, str(folder))
            configs[name] = config
            if not osp.isfile(folder / f'{name}.xml'):
                detector = init_detector(config, checkpoint)
                onnx_file = export_onnx(detector, str(folder / f'{name}.onnx'), (192, 192))
                convert_to_openvino(onnx_file, str(folder / f'{name}.xml'))
        if not osp.isdir(folder / 'val'):
            shutil.copytree(osp.join(demo_root, 'val'), folder / 'val')
            odd_images(str(folder), str(folder / 'val' / '000001.png'))
    models = {
        name: (
            load_detector_config(configs[name]),
            str(folder / f'{name}.onnx'),
            str(folder / f'{name}.xml'),
        )
        for name in DEMO_MODELS
    }
    images = sorted(str(folder / 'val' / n) for n in os.listdir(folder / 'val'))
    return models, images + [str(folder / name) for name in ODD_IMAGES], folder


@pytest.mark.parametrize('name', DEMO_MODELS)
@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_the_runtime_gives_the_full_stacks_detections_on_every_kind_of_image(
    exported, name, backend
):
    """Runtime (cv2 decode and resize from the file's metadata, padded to the fixed 192x192)
    against deployed_predict (mmcv's test pipeline, the same runner): the same boxes, scores
    and labels, exactly."""
    models, images, _ = exported
    cfg, onnx_file, xml_file = models[name]
    model_file = onnx_file if backend == 'onnxruntime' else xml_file
    detector = Detector(model_file)
    assert detector.backend == backend
    assert detector.classes == ['circle', 'square', 'triangle']
    assert detector.input_shape == (192, 192)
    runner = load_runner(backend, model_file)
    found = 0
    for path in images:
        ours = detector(path)
        theirs = deployed_predict(cfg, runner, path).pred_instances
        assert ours.image_shape == cv2.imread(path, cv2.IMREAD_COLOR).shape[:2], path
        np.testing.assert_array_equal(ours.boxes, theirs.bboxes.numpy(), err_msg=path)
        np.testing.assert_array_equal(ours.scores, theirs.scores.numpy(), err_msg=path)
        np.testing.assert_array_equal(ours.labels, theirs.labels.numpy(), err_msg=path)
        found += len(ours)
    assert found > len(images)
    # an array in, the same as its file
    array = cv2.imread(images[0])
    np.testing.assert_array_equal(detector(array).boxes, detector(images[0]).boxes)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_many_images_in_flight_give_each_images_own_detections(exported, backend):
    """Detector.stream's throughput set-up (OpenVINO's THROUGHPUT hint with a stream per
    request, one onnxruntime session per request, the cores divided) gives each image the
    detections of the one-request model, exactly, in the order given."""
    models, images, _ = exported
    _, onnx_file, xml_file = models['faster_rcnn_ghostnet_fpn_demo']
    detector = Detector(onnx_file if backend == 'onnxruntime' else xml_file)
    one_by_one = [detector(path) for path in images]
    streamed = list(detector.stream([*images, 'missing.png'], requests=3))
    assert isinstance(streamed[-1], ImageReadError)
    assert len(detector._stream_runners[3]) == 3
    assert all(runner is not detector.runner for runner in detector._stream_runners[3])
    for single, many in zip(one_by_one, streamed, strict=False):
        np.testing.assert_array_equal(single.boxes, many.boxes)
        np.testing.assert_array_equal(single.scores, many.scores)
        np.testing.assert_array_equal(single.labels, many.labels)


def test_bad_files_get_one_clear_line_and_the_others_still_run(exported, tmp_path):
    models, images, _ = exported
    onnx_file = models['yolov4_ghostnet_demo'][1]
    empty, truncated, text = tmp_path / 'empty.png', tmp_path / 'cut.png', tmp_path / 'notes.jpg'
    empty.write_bytes(b'')
    with open(images[0], 'rb') as f:
        truncated.write_bytes(f.read()[:60])
    text.write_text('not an image')
    detector = Detector(onnx_file)
    for path, reason in (
        (tmp_path / 'missing.png', 'no such file'),
        (empty, 'the file is empty'),
        (truncated, 'not an image OpenCV can decode'),
        (text, 'not an image OpenCV can decode'),
    ):
        with pytest.raises(ImageReadError, match=reason):
            detector(str(path))
    with pytest.raises(
        ValueError,
        match=r'expected an image file path or an HxWx3 uint8 BGR '
        r'array, got an array of shape \(8, 8\)',
    ):
        detector(np.zeros((8, 8), np.uint8))
    out_dir, json_file = tmp_path / 'pictures', tmp_path / 'found.json'
    proc = run_python(
        [
            '-m',
            'mmlight.runtime',
            onnx_file,
            str(empty),
            images[0],
            str(text),
            '--out-dir',
            str(out_dir),
            '--json',
            str(json_file),
            '--score-thr',
            '0.2',
        ],
        tmp_path,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors[:2] == [
        f'{empty}: the file is empty',
        f'{text}: not an image OpenCV can decode (truncated, or another format; 12 bytes)',
    ]
    assert errors[-1] == '2 of 3 images could not be read'
    assert 'Traceback' not in proc.stderr
    found = json.loads(json_file.read_text())
    assert list(found) == [images[0]]
    assert found[images[0]]['detections'], found
    assert all(d['score'] >= 0.2 for d in found[images[0]]['detections'])
    assert (
        cv2.imread(str(out_dir / (osp.splitext(osp.basename(images[0]))[0] + '.png'))) is not None
    )


def test_a_fixed_graph_refuses_an_image_that_resizes_beyond_it_and_an_old_file_is_named(
    exported, tmp_path
):
    models, images, _folder = exported
    detector = Detector(models['yolov4_ghostnet_demo'][1])
    # a pipeline that resizes beyond the 192x192 the graph was exported for (as a graph
    # exported with a smaller --shape than its config's scale)
    detector.metadata.preprocess.resize.scale = [256, 256]
    with pytest.raises(
        ValueError,
        match=r'an image of 96x96 resizes to 256x256, larger than the 192x192 the model '
        r'yolov4_ghostnet_demo.onnx was exported for: export it with --dynamic',
    ):
        detector(images[0])
    import onnx

    bare = str(tmp_path / 'bare.onnx')
    model = onnx.load(models['yolov4_ghostnet_demo'][1])
    del model.metadata_props[:]
    onnx.save(model, bare)
    with pytest.raises(
        MissingMetadataError,
        match=r'bare.onnx holds no mmlight metadata: export '
        r'it again with tools/deployment/export_onnx',
    ):
        Detector(bare)
    cropped = shutil.copy(models['yolov4_ghostnet_demo'][1], tmp_path / 'cropped.onnx')
    original = Detector(str(cropped)).metadata

    def refused_with(error, match, steps, color_type='color', pad=True):
        """The file with these pipeline facts in its metadata is refused with ``match``."""
        metadata = original.to_dict()
        metadata['preprocess']['steps'] = steps
        metadata['preprocess']['decode']['color_type'] = color_type
        if not pad:  # as a file written before the runtime repeated Pad
            metadata['preprocess'].pop('pad')
        write_onnx_metadata(str(cropped), metadata)
        with pytest.raises(error, match=match):
            Detector(str(cropped))

    # a pipeline step the runtime does not repeat (CenterNet's RandomCenterCropPad) is named,
    # not silently skipped
    refused_with(
        ValueError,
        r'cropped.onnx: its test pipeline has steps mmlight.runtime does not repeat '
        r'\(RandomCenterCropPad; it repeats',
        ['LoadImageFromFile', 'Resize', 'RandomCenterCropPad', 'PackDetInputs'],
    )
    # a model of grayscale images: the runtime takes BGR ones
    refused_with(
        ValueError,
        r"cropped.onnx: its test pipeline loads images with "
        r"color_type='grayscale'; mmlight.runtime runs models of 3-channel BGR",
        ['LoadImageFromFile', 'Resize', 'PackDetInputs'],
        color_type='grayscale',
    )
    # a file from before the runtime repeated Pad: its pipeline pads, the file does not say how
    refused_with(
        MissingMetadataError,
        r'cropped.onnx: its test pipeline pads',
        ['LoadImageFromFile', 'Resize', 'Pad', 'PackDetInputs'],
        pad=False,
    )


PADS = [
    dict(size=(192, 192), pad_val=dict(img=(114, 114, 114))),  # RTMDet's
    dict(pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0))),  # YOLOX's
    dict(size_divisor=32, pad_val=7),
    dict(pad_to_square=True, size_divisor=64, pad_val=dict(img=3.5)),  # cv2 pads channel 0
    dict(size_divisor=32, padding_mode='reflect'),
    dict(size_divisor=32, padding_mode='symmetric'),
    dict(size=(120, 130), padding_mode='edge'),
]


@pytest.mark.quick
@pytest.mark.parametrize('pad_cfg', PADS, ids=lambda cfg: '-'.join(map(str, cfg)))
def test_the_runtimes_pad_is_mmdets(pad_cfg):
    """mmlight.runtime's Pad, from the metadata an export writes, against mmdet's ``Pad`` on
    non-square images: the same pixels."""
    from mmdet.datasets.transforms import Pad

    from mmlight.deployment.export import pad_metadata
    from mmlight.runtime.image import pad

    rng = np.random.default_rng(0)
    for height, width in ((70, 101), (101, 70), (64, 64)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        theirs = Pad(**pad_cfg).transform(dict(img=image.copy()))['img']
        # through the JSON a model file holds
        spec = PadSpec(**json.loads(json.dumps(asdict(pad_metadata(dict(type='Pad', **pad_cfg))))))
        np.testing.assert_array_equal(pad(image, spec), theirs)


def test_a_model_whose_pipeline_pads_gives_the_full_stacks_detections(exported, tmp_path):
    """The demo YOLO with RTMDet's test-pipeline Pad (to the 192x192 export shape, with 114)
    exported by the tools: its file says how to pad, and the runtime's detections equal
    deployed_predict's (mmcv's pipeline, Pad included) on square, non-square, gray, RGBA and
    16-bit images."""
    models, images, folder = exported
    cfg = load_detector_config(models['yolov4_ghostnet_demo'][0])  # a deep copy
    pipeline = list(cfg.test_dataloader.dataset.pipeline)
    at = next(i for i, step in enumerate(pipeline) if step['type'] == 'Resize') + 1
    pipeline.insert(at, dict(type='Pad', size=(192, 192), pad_val=dict(img=(114, 114, 114))))
    cfg.test_dataloader.dataset.pipeline = pipeline
    detector = init_detector(cfg, str(folder / 'yolov4_ghostnet_demo.pth'))
    model_file = export_onnx(detector, str(tmp_path / 'padded.onnx'), (192, 192))
    runtime = Detector(model_file)
    assert runtime.metadata.preprocess.pad == PadSpec(
        size=[192, 192],
        size_divisor=None,
        pad_to_square=False,
        value=[114, 114, 114],
        padding_mode='constant',
    )
    runner = load_runner('onnxruntime', model_file)
    found = 0
    for path in images:
        ours = runtime(path)
        theirs = deployed_predict(cfg, runner, path).pred_instances
        np.testing.assert_array_equal(ours.boxes, theirs.bboxes.numpy(), err_msg=path)
        np.testing.assert_array_equal(ours.scores, theirs.scores.numpy(), err_msg=path)
        np.testing.assert_array_equal(ours.labels, theirs.labels.numpy(), err_msg=path)
        found += len(ours)
    assert found > len(images)


@pytest.mark.parametrize('installed', [True, False], ids=['stack-installed', 'stack-blocked'])
def test_the_training_stack_is_not_imported_by_the_runtime(exported, tmp_path, installed):
    """The runtime detects and none of torch, mmcv, mmengine and mmdet is loaded: in this
    environment, where they are installed, and in a process where they cannot be imported (as
    in an environment with only mmlight[runtime])."""
    models, images, _ = exported
    paths = [ROOT]
    if not installed:
        paths.insert(0, import_blocker(TRAINING_STACK, str(tmp_path / 'blocker')))
    script = (
        'import sys, mmlight.runtime as rt\n'
        f'found = rt.Detector({models["faster_rcnn_ghostnet_fpn_demo"][2]!r})({images[0]!r})\n'
        f'print(len(found), [n for n in {TRAINING_STACK!r} if sys.modules.get(n)])\n'
    )
    proc = run_python(['-c', script], tmp_path, paths)
    assert proc.returncode == 0, proc.stderr[-3000:]
    count, loaded = proc.stdout.split(' ', 1)
    assert int(count) > 0
    assert loaded.strip() == '[]'


def test_mmlight_runtime_alone_in_a_clean_environment_gives_the_full_stacks_detections(
    exported, tmp_path
):
    """The wheel with its runtime extra, pip-installed from PyPI into a virtual environment
    without the system's packages (no torch, mmcv, mmengine or mmdet there), runs a model the
    suite exported on a demo image, from a folder outside the checkout: the detections of the
    full stack."""
    models, images, _ = exported
    wheel = build_wheel(tmp_path / 'source')
    venv = tmp_path / 'venv'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300, env=env)
    python = str(venv / 'bin' / 'python')
    # pip keeps what it downloads in its cache: after the first run this installs offline
    proc = subprocess.run(
        [python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', f'{wheel}[runtime]'],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    model = shutil.copy(models['yolov4_ghostnet_demo'][1], elsewhere / 'model.onnx')
    image = shutil.copy(images[-1], elsewhere / 'image.png')  # the 16-bit one
    proc = subprocess.run(
        [
            str(venv / 'bin' / 'mmlight-detect'),
            'model.onnx',
            'image.png',
            '--json',
            'found.json',
            '--score-thr',
            '0',
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run(
        [
            python,
            '-c',
            f'import importlib.util as u; print([n for n in {TRAINING_STACK!r} if u.find_spec(n)])',
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.stdout.strip() == '[]', proc.stdout
    found = json.loads((elsewhere / 'found.json').read_text())[str(image).split('/')[-1]]
    expected = Detector(str(model))(str(image)).to_dict()
    assert found == expected
    assert len(found['detections']) > 0


def test_the_end_to_end_benchmark_times_each_stage_the_rate_in_flight_and_cold_starts(
    exported, tmp_path
):
    """benchmark_runtime.py on the demo Faster R-CNN, on copies of two images resized to
    96x128: every stage, rate, full-stack, eager and cold-start row, and the two NMS stages'
    candidates (the RPN's, then the R-CNN's)."""
    models, images, folder = exported
    onnx_file = models['faster_rcnn_ghostnet_fpn_demo'][1]
    out = tmp_path / 'row.json'
    proc = run_python(
        [
            'tools/analysis/benchmark_runtime.py',
            onnx_file,
            *images[:2],
            '--config',
            osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py'),
            '--checkpoint',
            str(folder / 'faster_rcnn_ghostnet_fpn_demo.pth'),
            '--resize-images',
            '96',
            '128',
            '--requests',
            '1',
            '2',
            '--rounds',
            '1',
            '--cold-starts',
            '1',
            '--json',
            str(out),
        ],
        ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())
    assert row['image_shape'] == [96, 128]
    stages = ('decode_preprocess_s', 'graph_s', 'postprocess_s')
    for key in (
        *stages,
        'full_stack_s',
        'eager_mmdet_s',
        'images_per_s_1',
        'images_per_s_2',
        'cold_start_runtime_s',
        'cold_start_full_stack_s',
    ):
        assert row[key] > 0, key
    assert row['end_to_end_s'] == pytest.approx(sum(row[key] for key in stages))
    assert len(row['nms_candidates']) == 2
    assert min(row['nms_candidates']) > 0
    assert '| end to end / graph |' in proc.stdout
    assert 'images/s, 2 in flight' in proc.stdout
    assert '| candidates entering NMS (per image) |' in proc.stdout


def test_nms_candidates_counts_every_nms_and_puts_mmcvs_back(exported):
    """The demo Faster R-CNN's NMS inputs: the RPN's are its top ``nms_pre`` boxes of each
    level (all of a level with fewer anchors), the R-CNN's the class scores above its
    ``score_thr``; mmdet's modules have mmcv's batched_nms again afterwards."""
    from mmcv.ops import batched_nms
    from mmdet.models.dense_heads import base_dense_head, rpn_head
    from mmdet.models.layers import bbox_nms

    from mmlight.analysis.runtime_benchmark import eager_detector, nms_candidates

    _, images, folder = exported
    config = osp.join(ROOT, 'configs', 'demo', 'faster_rcnn_ghostnet_fpn_demo.py')
    detector = eager_detector(config, str(folder / 'faster_rcnn_ghostnet_fpn_demo.pth'))
    rpn, rcnn = nms_candidates(detector, images[:1])
    # the first image is 96x96, resized to 192x192 (a multiple of 32): levels of stride 4-64
    anchors = detector.rpn_head.num_base_priors
    nms_pre = detector.test_cfg.rpn.nms_pre
    sides = [192 // stride for stride in (4, 8, 16, 32, 64)]
    assert rpn <= sum(min(nms_pre, side * side * anchors) for side in sides)
    assert rpn > 0.9 * sum(min(nms_pre, side * side * anchors) for side in sides)
    assert 0 < rcnn <= detector.test_cfg.rpn.max_per_img * detector.roi_head.bbox_head.num_classes
    for module in (base_dense_head, rpn_head, bbox_nms):
        assert module.batched_nms is batched_nms
