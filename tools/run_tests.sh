#!/usr/bin/env bash
# The test suite: install what is missing (test dependencies included), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash tools/ensure_env.sh --test
"$PY" -m pytest tests -p no:cacheprovider -q "$@"
