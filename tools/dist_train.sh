#!/usr/bin/env bash
# Train with several processes per node (torchrun), one node or several.
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py arguments]
#
# GPUS: processes on this node (one per GPU; on a CPU-only machine, CPU processes
# talking over gloo). Several nodes: run it on every node with the same NNODES,
# MASTER_ADDR and MASTER_PORT and that node's NODE_RANK. Environment:
#   NNODES (1)  NODE_RANK (0)  MASTER_ADDR (127.0.0.1; required, node 0's address,
#   when NNODES > 1)  MASTER_PORT (29500; PORT is accepted too)
#   PYTORCH_CUDA_ALLOC_CONF (expandable_segments:True unless set)
#   PYTHON: the interpreter that has mmmim installed (else tools/find_python.sh picks one)
# Details: tools/launch_common.sh.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: bash $0 CONFIG GPUS [train.py arguments]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/tools/find_python.sh"
source "$ROOT/tools/launch_common.sh"

exec_torchrun "$GPUS" "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
