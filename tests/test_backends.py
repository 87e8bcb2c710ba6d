"""The deployment backend table: every tool takes its backends, precisions and defaults from it,
and a backend added as one module and one line of the table reaches all of them."""

import contextlib
import io
import runpy
import sys

import numpy as np
import pytest

import mmlight.registration  # noqa: F401
from mmlight.deployment import backends
from mmlight.deployment.backends import (
    Runtime,
    all_precisions,
    backend_names,
    get_backend,
    load_runner,
    runtimes,
)
from tests.helpers import ROOT

pytestmark = pytest.mark.quick

TOOLS = (
    'tools/deployment/export_onnx.py',
    'tools/deployment/evaluate.py',
    'tools/analysis/image_demo.py',
    'tools/analysis/benchmark_inference.py',
)


@pytest.fixture
def fake_backend(monkeypatch):
    """tests/fake_backend.py in the table: the one line a new backend adds."""
    monkeypatch.setitem(backends.BACKENDS, 'fake', 'tests.fake_backend:BACKEND')


def tool_help(tool, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [tool, '--help'])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        runpy.run_path(f'{ROOT}/{tool}', run_name='__main__')
    assert exit_info.value.code == 0
    return ' '.join(out.getvalue().split())  # argparse wraps lines where it likes


def test_the_table_lists_each_backend_with_its_file_and_precisions():
    assert backend_names() == ['onnxruntime', 'openvino']
    onnxruntime, openvino = get_backend('onnxruntime'), get_backend('openvino')
    assert (onnxruntime.suffix, onnxruntime.precisions, onnxruntime.default_precision) == (
        '.onnx',
        ('fp32',),
        'fp32',
    )
    assert (openvino.suffix, openvino.precisions, openvino.calibrated) == (
        '.xml',
        ('fp32', 'bf16', 'int8'),
        ('int8',),
    )
    assert openvino.file_precision('bf16') == 'fp32'
    assert openvino.file_precision('int8') == 'int8'
    assert all_precisions() == ['fp32', 'bf16', 'int8']
    assert [r.label for r in runtimes()] == [
        'onnxruntime',
        'openvino_fp32',
        'openvino_bf16',
        'openvino_int8',
    ]
    assert Runtime('openvino', 'int8') in runtimes()


def test_an_unknown_backend_or_precision_is_refused_by_name():
    with pytest.raises(
        ValueError,
        match=r"unknown backend 'tensorrt'; valid choices: "
        r"\['onnxruntime', 'openvino'\]",
    ):
        get_backend('tensorrt')
    assert get_backend('openvino').check_precision(None) is None
    with pytest.raises(
        ValueError,
        match=r'the onnxruntime backend runs fp32, not precision '
        r"'bf16'",
    ):
        get_backend('onnxruntime').check_precision('bf16')


def test_a_table_entry_that_is_not_its_backend_is_refused(monkeypatch):
    monkeypatch.setitem(
        backends.BACKENDS, 'copy', 'mmlight.deployment.backends.onnxruntime:BACKEND'
    )
    with pytest.raises(TypeError, match=r"entry 'copy' .* is not a Backend named 'copy'"):
        get_backend('copy')


def test_a_backend_added_in_one_module_reaches_every_tool(fake_backend, monkeypatch, tmp_path):
    assert backend_names() == ['onnxruntime', 'openvino', 'fake']
    assert 'fp16' in all_precisions()
    assert Runtime('fake', 'fp16').label == 'fake_fp16'
    for tool in TOOLS[:3]:
        usage = tool_help(tool, monkeypatch)
        assert 'onnxruntime,openvino,fake' in usage, (tool, usage)
        assert 'fp16' in usage, (tool, usage)
    assert 'fake_fp16,fake_fp32' in tool_help(TOOLS[3], monkeypatch)
    # and its runner runs through the table, with the checks every runner has
    model = get_backend('fake').convert('unused.onnx', str(tmp_path / 'model.npz'))
    runner = load_runner('fake', model)
    assert runner.precision == 'fp16'
    outputs = runner(np.zeros((1, 3, 64, 64), np.float32))
    assert outputs['labels'].tolist() == [2]
    with pytest.raises(ValueError, match=r'exported for height 64 \(no --dynamic\)'):
        runner(np.zeros((1, 3, 128, 64), np.float32))
    with pytest.raises(
        ValueError,
        match=r"the fake backend runs fp16/fp32, not precision "
        r"'int8'",
    ):
        load_runner('fake', model, 'int8')


def test_the_benchmark_converts_and_runs_every_runtime_of_a_new_backend(fake_backend, tmp_path):
    from mmlight.analysis.inference import inference_fns, model_file, prepare_models

    onnx_file = str(tmp_path / 'detector.onnx')
    written = prepare_models(onnx_file, (64, 64), ['eager', 'fake_fp16', 'fake_fp32'])
    assert written == [
        model_file(onnx_file, Runtime('fake', 'fp16')),
        model_file(onnx_file, Runtime('fake', 'fp32')),
    ]
    assert written[0].endswith('detector.fake.fp16.npz')
    fns = inference_fns(None, (64, 64), ['fake_fp16', 'fake_fp32'], onnx_file)
    assert [fn()['labels'].tolist() for fn in fns.values()] == [[2], [2]]
