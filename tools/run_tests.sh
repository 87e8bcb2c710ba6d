#!/usr/bin/env bash
# The test suite: install what is missing (test dependencies included), then pytest.
#   bash tools/run_tests.sh            # the whole suite (what CI runs)
#   bash tools/run_tests.sh --quick    # the edit-loop tier (tests marked 'quick'), under 2 minutes
#   bash tools/run_tests.sh -k onnx    # any other arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --quick) ARGS+=(-m 'quick and not slow') ;;
    *) ARGS+=("$arg") ;;
  esac
done
bash tools/ensure_env.sh --test
# one pytest-xdist worker per core (at most 8; MMLIGHT_TEST_WORKERS overrides), each with one
# thread (tests/conftest.py); work stealing keeps every worker busy to the end; the 15 slowest
# tests are printed at the end, so that the suite's budget shows in every log
WORKERS=${MMLIGHT_TEST_WORKERS:-$(( $(nproc) < 8 ? $(nproc) : 8 ))}
"$PY" -m pytest tests -p no:cacheprovider -q -n "$WORKERS" --dist worksteal --durations=15 "${ARGS[@]}"
