#!/usr/bin/env bash
# The main job: install what is missing, generate the synthetic demo set, train a GhostNet
# Faster R-CNN + FPN on it on CPU, evaluate it and print the COCO AP table.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash tools/ensure_env.sh
"$PY" tools/misc/make_demo_data.py --out data/demo
CONFIG=configs/demo/faster_rcnn_ghostnet_fpn_demo.py
WORK_DIR=${WORK_DIR:-work_dirs/demo_faster_rcnn_ghostnet}
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
"$PY" tools/test.py "$CONFIG" "$WORK_DIR/epoch_12.pth" --work-dir "$WORK_DIR"
echo "demo: train + test took $(( $(date +%s) - start )) s"
