#!/usr/bin/env bash
# bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py args...]
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
${PYTHON:-python3} -m torch.distributed.run --nnodes=${NNODES:-1} --node_rank=${NODE_RANK:-0} --master_addr=$MASTER_ADDR \
    --master_port=$PORT --nproc_per_node=$NPROC \
    "$(dirname "$0")/test.py" $CONFIG $CHECKPOINT --launcher pytorch "${@:4}"
