#!/usr/bin/env bash
# Train on a Slurm cluster (srun starts one process per GPU).
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py arguments]
#
# Environment:
#   GPUS (8): processes in total        GPUS_PER_NODE (min(GPUS, 8))
#   CPUS_PER_TASK (5)                   SRUN_ARGS: extra srun options, e.g. "--qos=high"
#   PYTHON: the interpreter that has mmmim installed (else tools/find_python.sh picks one)
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: bash $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py arguments]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
TRAIN_ARGS=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then  # optional WORK_DIR
  TRAIN_ARGS+=(--work-dir "$1")
  shift
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/tools/find_python.sh"

# SRUN_ARGS is split into words on purpose (several options)
# shellcheck disable=SC2086
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec srun -p "$PARTITION" \
  --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  $SRUN_ARGS \
  "$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --launcher slurm ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"} "$@"
