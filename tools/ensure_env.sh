#!/usr/bin/env bash
# Installs what mmlight needs into the current Python, skipping every step that is already done.
#   bash tools/ensure_env.sh          # runtime: torch, mmcv 2.1.0 (compiled ops), mmengine, mmdet, mmlight
#   bash tools/ensure_env.sh --test   # and the test/reference dependencies (pytest, pytest-xdist, ruff, mypy, timm, mmpretrain)
#                                     # and the manual's (mkdocs, mkdocs-material, mkdocstrings)
# Environment: PYTHON (default python3), MMLIGHT_CACHE (default ~/.cache/mmlight; holds the built
# mmcv wheel so that a second set-up with the same torch skips the one-time build, about 9
# minutes on 2 CPU cores),
# MAX_JOBS (compile jobs, default nproc).
set -uo pipefail

PY=${PYTHON:-python3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MMLIGHT_CACHE:-$HOME/.cache/mmlight}
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMDET_VERSION=3.3.0
TIMM_VERSION=1.0.31
RUFF_VERSION=0.17.6
MYPY_VERSION=2.4.1
MMPRETRAIN_VERSION=1.2.0
FASTER_COCO_EVAL_VERSION=1.8.0
ONNX_VERSION=1.23.2
ONNXRUNTIME_VERSION=1.32.0
ONNXSCRIPT_VERSION=0.7.2
OPENVINO_VERSION=2026.4.1
NNCF_VERSION=3.4.0
MKDOCS_VERSION=1.6.1
MKDOCS_MATERIAL_VERSION=9.8.2
MKDOCSTRINGS_VERSION=1.0.8
MKDOCSTRINGS_PYTHON_VERSION=2.0.11

say() { echo "[mmlight setup] $*"; }
die() { echo "[mmlight setup] FAILED at step '$1': $2" >&2; exit 1; }
# checks run outside the checkout, so that ./mmlight does not pass for an installed mmlight
has() { (cd / && "$PY" -c "$1") >/dev/null 2>&1; }
pip_quiet() {
  # pip's warnings about index locations and running as root say nothing about mmlight: hide them
  "$PY" -m pip "$@" 2> >(grep -v "^WARNING: Location\|^WARNING: Running pip as" >&2)
}
pip_install() {
  pip_quiet install -q --disable-pip-version-check "$@"
}

# 0. The fast path: one process checks what every step below checks (versions from the installed
#    packages' metadata, the editable mmlight, the compiled ops running); where all is in place
#    that is the whole set-up. The step-by-step checks each start Python and import torch.
fast_check() {
  (cd / && "$PY" - "$WITH_TEST" "$ROOT" 2>/dev/null) <<PYEOF
import importlib.util, os, sys
from importlib.metadata import PackageNotFoundError, version

with_test, root = sys.argv[1] == '1', sys.argv[2]
pinned = {
    'mmcv': '$MMCV_VERSION', 'mmengine': '$MMENGINE_VERSION', 'mmdet': '$MMDET_VERSION',
    'faster-coco-eval': '$FASTER_COCO_EVAL_VERSION', 'onnx': '$ONNX_VERSION',
    'onnxruntime': '$ONNXRUNTIME_VERSION', 'onnxscript': '$ONNXSCRIPT_VERSION',
    'nncf': '$NNCF_VERSION',
}
present = ['torch', 'torchvision', 'pkg_resources', 'wheel', 'ninja']
if with_test:
    pinned.update({
        'ruff': '$RUFF_VERSION', 'mypy': '$MYPY_VERSION', 'timm': '$TIMM_VERSION',
        'mmpretrain': '$MMPRETRAIN_VERSION', 'mkdocs': '$MKDOCS_VERSION',
        'mkdocs-material': '$MKDOCS_MATERIAL_VERSION', 'mkdocstrings': '$MKDOCSTRINGS_VERSION',
        'mkdocstrings-python': '$MKDOCSTRINGS_PYTHON_VERSION',
    })
    present += ['pytest', 'xdist']
try:
    assert all(version(name) == want for name, want in pinned.items())
    assert version('openvino').startswith('$OPENVINO_VERSION')
    assert int(version('setuptools').split('.')[0]) >= 64
    if with_test:
        try:
            assert int(version('transformers').split('.')[0]) < 5
        except PackageNotFoundError:
            pass
except (PackageNotFoundError, AssertionError):
    sys.exit(1)
if any(importlib.util.find_spec(name) is None for name in present):
    sys.exit(1)
spec = importlib.util.find_spec('mmlight')
package = os.path.dirname(spec.origin) if spec and spec.origin else ''
if not package or not os.path.samefile(package, os.path.join(root, 'mmlight')):
    sys.exit(3)  # all in place but this checkout's editable mmlight (a fresh clone)
if not os.path.isdir(os.path.join(package, '.mim', 'configs')):
    sys.exit(3)
import torch, mmcv.ops
mmcv.ops.nms(torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]]), torch.tensor([0.9, 0.8]), 0.5)
print(f"[mmlight setup] ok: torch {torch.__version__}, mmcv {version('mmcv')} (ops), "
      f"mmengine {version('mmengine')}, mmdet {version('mmdet')}, mmlight {version('mmlight')}")
PYEOF
}
# mmlight itself, editable, so tools/ and configs/ in this checkout are what runs; the install
# links configs/ into the package as mmlight/.mim/configs
install_mmlight() {
  say "installing mmlight (editable)"
  pip_install --no-deps --no-build-isolation -e "$ROOT" || die "mmlight" "pip install -e . failed"
}
fast_check
status=$?
[ $status = 0 ] && exit 0
if [ $status = 3 ]; then
  # everything else is in place (a fresh clone of a set-up machine): this checkout's mmlight only
  install_mmlight
  fast_check && exit 0
fi

# 1. torch: keep whatever torch is installed (CUDA builds included); install the default otherwise.
if ! has "import torch, torchvision"; then
  say "installing torch + torchvision"
  pip_install torch torchvision || die "torch" "pip install torch torchvision failed"
fi
TORCH_TAG=$("$PY" -c "import torch; print(torch.__version__.replace('+', '_'))")

# 2. build tools: mmcv's setup.py imports pkg_resources (removed in setuptools 82); mmengine
#    resolves 'mmdet::' config bases through pkg_resources at run time too; mmlight's editable
#    install needs setuptools >= 64 (PEP 660).
if ! has "import pkg_resources, wheel, ninja, setuptools; assert int(setuptools.__version__.split('.')[0]) >= 64"; then
  say "installing setuptools>=64,<82, wheel, ninja"
  pip_install 'setuptools>=64,<82' wheel ninja || die "build tools" "pip install 'setuptools>=64,<82' wheel ninja failed"
fi

# 3. mmcv 2.1.0 with compiled ops, built against the installed torch (PyPI has no wheel for it).
mmcv_ok() { has "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'"; }
if ! mmcv_ok; then
  CUDA_BUILD=0
  if has "import torch; assert torch.cuda.is_available()" && command -v nvcc >/dev/null 2>&1; then
    CUDA_BUILD=1
  fi
  WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_TAG-cuda$CUDA_BUILD"
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    SRC=$(mktemp -d)
    say "downloading the mmcv $MMCV_VERSION sdist"
    pip_quiet download -q --disable-pip-version-check --no-deps --no-binary :all: --no-build-isolation -d "$SRC" "mmcv==$MMCV_VERSION" \
      || die "mmcv download" "pip download mmcv==$MMCV_VERSION failed"
    tar xzf "$SRC/mmcv-$MMCV_VERSION.tar.gz" -C "$SRC" || die "mmcv unpack" "could not unpack the sdist"
    # torch >= 2.14 headers use C++20 features; the sdist hard-codes -std=c++17.
    if has "import torch; from packaging.version import parse; assert parse(torch.__version__).release >= (2, 14)"; then
      sed -i 's/-std=c++17/-std=c++20/g' "$SRC/mmcv-$MMCV_VERSION/setup.py"
    fi
    say "building mmcv $MMCV_VERSION with ops (CUDA ops: $CUDA_BUILD), once per torch version; about 9 minutes on 2 CPU cores"
    mkdir -p "$WHEEL_DIR"
    # CFLAGS=-g0: no debug info (the default -g makes each of the 77 files slower to compile)
    (cd "$SRC/mmcv-$MMCV_VERSION" && CFLAGS="${CFLAGS:-} -g0" MMCV_WITH_OPS=1 FORCE_CUDA=$CUDA_BUILD MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WHEEL_DIR" . > "$SRC/build.log" 2>&1) \
      || { tail -40 "$SRC/build.log" >&2; rm -rf "$WHEEL_DIR"; die "mmcv build" "compiling mmcv ops failed (log above, full log in $SRC/build.log)"; }
    rm -rf "$SRC"
  fi
  say "installing the mmcv wheel from $WHEEL_DIR"
  pip_install --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl || die "mmcv install" "pip install of the built wheel failed"
  # mmcv's own runtime requirements (--no-deps above keeps pip from touching torch)
  pip_install addict packaging Pillow pyyaml yapf "mmengine==$MMENGINE_VERSION" || die "mmcv requirements" "pip install failed"
fi

# 4. mmengine, mmdet and their pure-Python requirements.
if ! has "import mmengine, mmdet; assert mmengine.__version__ == '$MMENGINE_VERSION' and mmdet.__version__ == '$MMDET_VERSION'"; then
  say "installing mmengine $MMENGINE_VERSION, mmdet $MMDET_VERSION"
  pip_install "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" || die "mmdet" "pip install mmdet==$MMDET_VERSION failed"
fi

# 4b. faster-coco-eval, for FastCocoMetric (a one-line switch in a config).
if ! has "import faster_coco_eval; assert faster_coco_eval.__version__ == '$FASTER_COCO_EVAL_VERSION'"; then
  say "installing faster-coco-eval $FASTER_COCO_EVAL_VERSION"
  pip_install "faster-coco-eval==$FASTER_COCO_EVAL_VERSION" || die "faster-coco-eval" "pip install faster-coco-eval==$FASTER_COCO_EVAL_VERSION failed"
fi

# 4c. ONNX export (torch's exporter needs onnx + onnxscript) and onnxruntime, for
#     tools/deployment/. onnxruntime needs protobuf >= 4.25.8, which pip resolves.
if ! has "import onnx, onnxruntime, onnxscript; assert (onnx.__version__, onnxruntime.__version__, onnxscript.__version__) == ('$ONNX_VERSION', '$ONNXRUNTIME_VERSION', '$ONNXSCRIPT_VERSION')"; then
  say "installing onnx $ONNX_VERSION, onnxruntime $ONNXRUNTIME_VERSION, onnxscript $ONNXSCRIPT_VERSION"
  pip_install "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" "onnxscript==$ONNXSCRIPT_VERSION" \
    || die "onnx" "pip install onnx onnxruntime onnxscript failed"
fi

# 4d. OpenVINO (the second deployment backend: FP32, BF16) and NNCF (its INT8 quantization).
if ! has "import openvino, nncf; assert openvino.__version__.startswith('$OPENVINO_VERSION') and nncf.__version__ == '$NNCF_VERSION'"; then
  say "installing openvino $OPENVINO_VERSION, nncf $NNCF_VERSION"
  pip_install "openvino==$OPENVINO_VERSION" "nncf==$NNCF_VERSION" \
    || die "openvino" "pip install openvino nncf failed"
fi

# 5. mmlight itself (install_mmlight above).
if ! has "import mmlight, os; d = os.path.dirname(mmlight.__file__); assert os.path.samefile(d, '$ROOT/mmlight') and os.path.isdir(os.path.join(d, '.mim', 'configs'))"; then
  install_mmlight
fi

# 6. test and reference implementations.
if [ $WITH_TEST = 1 ]; then
  if ! has "import pytest, xdist, ruff, mypy.version, timm; assert timm.__version__ == '$TIMM_VERSION' and mypy.version.__version__ == '$MYPY_VERSION'" \
      || [ "$("$PY" -m ruff --version 2>/dev/null)" != "ruff $RUFF_VERSION" ]; then
    say "installing pytest, pytest-xdist, ruff $RUFF_VERSION, mypy $MYPY_VERSION, timm $TIMM_VERSION"
    pip_install pytest pytest-xdist "ruff==$RUFF_VERSION" "mypy==$MYPY_VERSION" "timm==$TIMM_VERSION" \
      || die "test deps" "pip install pytest pytest-xdist ruff mypy timm failed"
  fi
  if ! has "import mmpretrain; assert mmpretrain.__version__ == '$MMPRETRAIN_VERSION'"; then
    # --no-deps: its requirements would pull in packages we do not need (and may not build);
    # the backbones used as references need only these.
    say "installing mmpretrain $MMPRETRAIN_VERSION (reference implementation)"
    pip_install --no-deps "mmpretrain==$MMPRETRAIN_VERSION" && pip_install einops modelindex rich importlib-metadata mat4py \
      || die "mmpretrain" "pip install mmpretrain==$MMPRETRAIN_VERSION failed"
  fi
  if ! has "import mkdocs, material, mkdocstrings_handlers.python; from importlib.metadata import version as v; assert (v('mkdocs'), v('mkdocs-material'), v('mkdocstrings'), v('mkdocstrings-python')) == ('$MKDOCS_VERSION', '$MKDOCS_MATERIAL_VERSION', '$MKDOCSTRINGS_VERSION', '$MKDOCSTRINGS_PYTHON_VERSION')"; then
    say "installing mkdocs $MKDOCS_VERSION, mkdocs-material $MKDOCS_MATERIAL_VERSION, mkdocstrings $MKDOCSTRINGS_VERSION (the manual)"
    pip_install "mkdocs==$MKDOCS_VERSION" "mkdocs-material==$MKDOCS_MATERIAL_VERSION" "mkdocstrings==$MKDOCSTRINGS_VERSION" "mkdocstrings-python==$MKDOCSTRINGS_PYTHON_VERSION" \
      || die "docs" "pip install mkdocs mkdocs-material mkdocstrings mkdocstrings-python failed"
  fi
  if has "import transformers; assert int(transformers.__version__.split('.')[0]) >= 5"; then
    die "transformers" "transformers >= 5 is installed: mmpretrain 1.2.0 then breaks mmdet's register_all_modules. pip uninstall transformers, or use another environment"
  fi
fi

# 7. the checks that matter: compiled ops load, and mmdet accepts this mmcv.
(cd / && "$PY" -) <<'PYEOF' || die "final check" "the stack does not import (see the traceback above)"
import torch, mmcv, mmcv.ops, mmengine, mmdet, mmlight
from mmcv.ops import nms, RoIAlign
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
print(f"[mmlight setup] ok: torch {torch.__version__}, mmcv {mmcv.__version__} (ops), "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmlight {mmlight.__version__}")
PYEOF
