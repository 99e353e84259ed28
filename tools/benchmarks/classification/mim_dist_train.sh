#!/usr/bin/env bash
# Classification benchmark (linear probe / fine-tune) of a pretrained checkpoint:
#   GPUS=8 bash tools/benchmarks/classification/mim_dist_train.sh CONFIG PRETRAIN [train args]
# PRETRAIN is a raw mmmim pretraining checkpoint (or an mmpretrain-style one); it
# is loaded into model.backbone by model.init_cfg type MIMPretrained
# (submodule=backbone), which converts it and writes the load report to the log. Environment: GPUS (8), NNODES (1),
# NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (else tools/find_python.sh picks one).
# On a machine without CUDA, tools/train.py runs the processes with gloo on CPU.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: GPUS=8 $0 CONFIG PRETRAIN [train args]" >&2
  exit 2
fi
CONFIG=$1
PRETRAIN=$2
shift 2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
source "$HERE/pretrain_args.sh"
source "$ROOT/tools/find_python.sh"
[[ -f "$PRETRAIN" || "$PRETRAIN" == *://* ]] || { echo "no checkpoint at $PRETRAIN" >&2; exit 2; }

mapfile -d '' ARGS < <(with_pretrain "$PRETRAIN" "$@")
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="${GPUS:-8}" \
  "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${ARGS[@]}"
