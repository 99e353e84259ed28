#!/usr/bin/env bash
# Train with several processes per node (torchrun), one node or several.
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py arguments]
#
# GPUS: processes on this node (one per GPU; on a CPU-only machine, CPU processes
# talking over gloo). Environment:
#   NNODES (1)  NODE_RANK (0)  MASTER_ADDR (127.0.0.1)  PORT (29500)
#   PYTHON: the interpreter that has mmmim installed (else tools/find_python.sh picks one)
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: bash $0 CONFIG GPUS [train.py arguments]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/tools/find_python.sh"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
  --nnodes="$NNODES" \
  --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" \
  --master_port="$PORT" \
  --nproc_per_node="$GPUS" \
  "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
