import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

if os.environ.get('PYTEST_XDIST_WORKER'):
    # tools/run_tests.sh starts one pytest-xdist worker per core: one thread each, for this
    # process and for the tools and torchrun jobs it starts (they inherit the environment),
    # instead of every worker contending for every core
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = '1'
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """A small copy of the demo set (same generator as the README demo)."""
    from mmlight.demo_data import generate

    root = str(tmp_path_factory.mktemp('demo'))
    generate(root, num_train=16, num_val=8, size=96, seed=0)
    return root + '/'


@pytest.fixture(scope='session')
def trained_demo(tmp_path_factory):
    """(config, checkpoint, data root) of the demo Faster R-CNN trained on 64 demo images,
    shared by every worker of the run (tests/deployment_helpers.py)."""
    from tests.deployment_helpers import trained_demo_checkpoint
    from tests.helpers import run_folder

    return trained_demo_checkpoint(str(run_folder(tmp_path_factory) / 'trained_demo'))


@pytest.fixture(scope='session')
def trained_demo_openvino(tmp_path_factory, trained_demo):
    """The trained demo detector as ``export_onnx.py CONFIG CHECKPOINT --backend openvino``
    writes it (fp32): the .xml, with its .bin and the .onnx beside it; exported once per test
    run and shared by every worker (the tests read it, none writes beside it)."""
    import filelock

    from tests.deployment_helpers import export_openvino
    from tests.helpers import run_folder

    folder = run_folder(tmp_path_factory) / 'trained_demo_openvino'
    folder.mkdir(exist_ok=True)
    xml_file = folder / 'det.xml'
    config, checkpoint, _data = trained_demo
    with filelock.FileLock(str(folder) + '.lock'):
        if not (folder / 'done').exists():
            export_openvino(config, checkpoint, xml_file)
            (folder / 'done').touch()
    return str(xml_file)


# The tests that take from about 15 s to a minute and a half on 2 cores (the 15 slowest of a
# run are printed at its end): each worker starts with its share of them and ends with short
# tests, which pytest-xdist's work stealing then balances, instead of one worker running a
# long test alone at the end. A test missing here still runs; the run only ends later.
LONG_TESTS = (
    'tests/test_export_parity.py::test_onnxruntime_gives_mmdets_detections',
    'tests/test_deployment_tools.py::test_openvino_precisions_keep',
    'tests/test_deployment_tools.py::test_tools_export_and_evaluate',
    'tests/test_analysis_tools.py::test_inference_benchmark_',
    'tests/test_analysis_tools.py::test_without_openvino_the_benchmark_runs',
    'tests/test_analysis_tools.py::test_get_flops_tool',
    'tests/test_evaluation.py::test_fast_coco_metric_matches_coco_metric_on_5000',
    'tests/test_configs_and_tools.py::test_two_process_',
    'tests/test_configs_and_tools.py::test_train_tool_runs',
    'tests/test_toy_family.py::test_a_toy_family_',
    'tests/test_gates.py::test_the_typed_packages_pass_mypy',
    'tests/test_model_index.py::test_the_metafiles_and_the_latency_tables',
    'tests/test_docs.py::test_the_manual_builds_strictly',
    'tests/test_docs.py::test_the_custom_dataset_tutorial',
    'tests/test_runtime.py::test_a_model_whose_pipeline_pads',
    'tests/test_runtime.py::test_the_end_to_end_benchmark',
    'tests/test_runtime.py::test_mmlight_runtime_alone_in_a_clean_environment',
    'tests/test_entry_points.py::test_a_checkout_that_was_not_installed',
    'tests/test_packaging.py::test_a_wheel_installed_in_a_fresh_environment',
)


def pytest_collection_modifyitems(config, items):
    """With N pytest-xdist workers, the order in which work stealing splits the tests (N runs
    of consecutive tests, as many tests each): the LONG_TESTS dealt in turn to the head of each
    run, the other tests after them, in their files' order."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers < 2:
        return
    long_tests = [item for item in items if item.nodeid.startswith(LONG_TESTS)]
    chosen = set(map(id, long_tests))
    others = [item for item in items if id(item) not in chosen]
    runs = [long_tests[i::workers] for i in range(workers)]
    # work stealing gives the first worker len // workers tests, the next of the rest likewise
    left = len(items)
    for i, run in enumerate(runs):
        size = left // (workers - i)
        take = max(size - len(run), 0)
        run.extend(others[:take])
        del others[:take]
        left -= len(run)
    runs[-1].extend(others)
    items[:] = [item for run in runs for item in run]
