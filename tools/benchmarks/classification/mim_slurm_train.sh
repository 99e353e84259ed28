#!/usr/bin/env bash
# Classification benchmark of a pretrained checkpoint on Slurm:
#   bash tools/benchmarks/classification/mim_slurm_train.sh PARTITION CONFIG PRETRAIN [train args]
# Environment: GPUS (8), GPUS_PER_NODE (min(GPUS, 8)), CPUS_PER_TASK (5),
# SRUN_ARGS, JOB_NAME (the config name), PYTHON (else tools/find_python.sh picks one).
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 PARTITION CONFIG PRETRAIN [train args]" >&2
  exit 2
fi
PARTITION=$1
CONFIG=$2
PRETRAIN=$3
shift 3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
source "$HERE/pretrain_args.sh"
source "$ROOT/tools/find_python.sh"
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
JOB_NAME=${JOB_NAME:-$(basename "$CONFIG" .py)}

mapfile -d '' ARGS < <(with_pretrain "$PRETRAIN" "$@")
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec srun -p "$PARTITION" --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
  "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --launcher=slurm "${ARGS[@]}"
