#!/usr/bin/env bash
# The main job: install what is missing, generate the synthetic demo set, train a GhostNet
# Faster R-CNN + FPN on it on CPU, evaluate it and print the COCO AP table.
#   CONFIG=configs/demo/yolov4_ghostnet_demo.py bash tools/run_demo.sh    # the YOLOv4 demo
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash tools/ensure_env.sh
"$PY" tools/misc/make_demo_data.py --out data/demo
CONFIG=${CONFIG:-configs/demo/faster_rcnn_ghostnet_fpn_demo.py}
WORK_DIR=${WORK_DIR:-work_dirs/demo_$(basename "$CONFIG" .py)}
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
"$PY" tools/test.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR"
echo "demo: train + test took $(( $(date +%s) - start )) s"
# the picture: ground truth beside the predictions on the first validation images
"$PY" tools/analysis/show_predictions.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" \
  --out "$WORK_DIR/predictions.png"
