"""The typed deploy metadata: the JSON a model file holds, read back as a record that checks
itself; the files that mmlight 0.2 wrote keep loading."""

import json

import pytest

from mmlight.deployment.metadata import (
    DeployMetadata,
    MissingMetadataError,
    PadSpec,
    ResizeSpec,
)

pytestmark = pytest.mark.quick

# the metadata of a fixed-size YOLO .onnx as mmlight 0.2 wrote it (format 1), key for key
ONNX_0_2 = {
    'format': 1,
    'mmlight_version': '0.2.0',
    'task': 'bbox',
    'detector_kind': 'yolo',
    'classes': ['circle', 'square', 'triangle'],
    'score_thr': 0.05,
    'input': {
        'name': 'image',
        'layout': 'NCHW',
        'channel_order': 'bgr',
        'dtype': 'float32',
        'range': [0, 255],
        'shape': [192, 192],
        'dynamic_range': None,
        'pad_value': [0.0, 0.0, 0.0],
    },
    'preprocess': {
        'decode': {'color_type': 'color', 'backend': 'cv2'},
        'resize': {'scale': [192, 192], 'keep_ratio': True, 'interpolation': 'bilinear'},
        'pad': {
            'size': [192, 192],
            'size_divisor': None,
            'pad_to_square': False,
            'value': [114, 114, 114],
            'padding_mode': 'constant',
        },
        'size_divisor': 32,
        'steps': ['LoadImageFromFile', 'Resize', 'Pad', 'LoadAnnotations', 'PackDetInputs'],
    },
    'outputs': ['dets', 'labels'],
    'source': 'configs/demo/yolov4_ghostnet_demo.py',
}
# an int8 OpenVINO IR of 0.2: the export's record with what the conversion added
IR_0_2 = dict(
    ONNX_0_2,
    precision='int8',
    calibration={'calibration_images': 16, 'quantized_types': 'Convolution,MatMul'},
)


def with_changes(base, **preprocess):
    data = json.loads(json.dumps(base))
    data['preprocess'].update(preprocess)
    return data


@pytest.mark.parametrize('data', [ONNX_0_2, IR_0_2], ids=['onnx', 'openvino_int8'])
def test_a_file_of_mmlight_0_2_loads_as_the_record(data):
    metadata = DeployMetadata.from_json(json.dumps(data), 'det.onnx')
    assert metadata.detector_kind == 'yolo'
    assert metadata.classes == ['circle', 'square', 'triangle']
    assert metadata.input_shape == (192, 192)
    assert metadata.preprocess.resize == ResizeSpec([192, 192], True, 'bilinear')
    assert metadata.preprocess.pad == PadSpec([192, 192], None, False, [114, 114, 114])
    assert metadata.precision == data.get('precision')
    metadata.check_runnable('det.onnx')
    # written back in the same layout: nothing of the file is lost
    written = json.loads(metadata.to_json())
    assert written == dict(
        data, precision=data.get('precision'), calibration=data.get('calibration')
    )


def test_a_file_from_before_the_pipeline_steps_were_recorded_loads():
    data = json.loads(json.dumps(ONNX_0_2))
    del data['preprocess']['pad'], data['preprocess']['steps']
    metadata = DeployMetadata.from_dict(data)
    assert metadata.preprocess.pad is None
    assert metadata.preprocess.steps == []
    metadata.check_runnable()


@pytest.mark.parametrize(
    ('data', 'error', 'match'),
    [
        (
            with_changes(ONNX_0_2, steps=['LoadImageFromFile', 'Resize', 'RandomCenterCropPad']),
            ValueError,
            r'det.onnx: its test pipeline has steps mmlight.runtime does not repeat '
            r'\(RandomCenterCropPad; it repeats LoadImageFromFile',
        ),
        (
            with_changes(ONNX_0_2, decode={'color_type': 'grayscale', 'backend': 'cv2'}),
            ValueError,
            r"color_type='grayscale'; mmlight.runtime runs models of 3-channel BGR",
        ),
        (
            with_changes(ONNX_0_2, pad=None),
            MissingMetadataError,
            r'det.onnx: its test pipeline pads the image, and the file does not say how',
        ),
        (
            dict(ONNX_0_2, input=dict(ONNX_0_2['input'], shape=[0, 192])),
            ValueError,
            r'its input size is \[0, 192\] with the dynamic range None; expected a fixed',
        ),
        (
            dict(ONNX_0_2, input=dict(ONNX_0_2['input'], shape=None, dynamic_range=[64, 32])),
            ValueError,
            r'its dynamic range \[64, 32\] is empty',
        ),
    ],
    ids=['step', 'color_type', 'pad', 'size', 'range'],
)
def test_check_runnable_names_what_the_runtime_cannot_repeat(data, error, match):
    metadata = DeployMetadata.from_dict(data, 'det.onnx')
    with pytest.raises(error, match=match):
        metadata.check_runnable('det.onnx')


def test_a_file_without_metadata_or_of_another_format_or_incomplete_is_refused():
    with pytest.raises(MissingMetadataError, match=r'det.onnx holds no mmlight metadata'):
        DeployMetadata.from_json(None, 'det.onnx')
    with pytest.raises(
        ValueError, match=r'det.onnx: metadata format 2, this mmlight reads format 1'
    ):
        DeployMetadata.from_json(json.dumps(dict(ONNX_0_2, format=2)), 'det.onnx')
    incomplete = {k: v for k, v in ONNX_0_2.items() if k != 'preprocess'}
    with pytest.raises(ValueError, match=r"det.onnx: its mmlight metadata is incomplete \('pre"):
        DeployMetadata.from_dict(incomplete, 'det.onnx')


def test_a_fixed_graph_refuses_a_larger_resized_image_naming_both_sizes():
    metadata = DeployMetadata.from_dict(ONNX_0_2)
    metadata.check_input_size(192, 160, 'an image of 60x50', 'det.onnx')
    with pytest.raises(
        ValueError,
        match=r'an image of 96x96 resizes to 256x256, larger than the 192x192 the model '
        r'det.onnx was exported for',
    ):
        metadata.check_input_size(256, 256, 'an image of 96x96', 'det.onnx')
