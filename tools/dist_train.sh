#!/usr/bin/env bash
# bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args...]   (torchrun; CPU: gloo)
CONFIG=$1
NPROC=$2
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
${PYTHON:-python3} -m torch.distributed.run --nnodes=${NNODES:-1} --node_rank=${NODE_RANK:-0} --master_addr=$MASTER_ADDR \
    --master_port=$PORT --nproc_per_node=$NPROC \
    "$(dirname "$0")/train.py" $CONFIG --launcher pytorch "${@:3}"
