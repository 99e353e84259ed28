#!/usr/bin/env bash
# Train on a Slurm cluster (srun starts one process per GPU).
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [--requeue] [train.py arguments]
#
# --requeue: the job saves a checkpoint and requeues itself on SIGUSR1 (sent 180 s
# before the time limit) and resumes when it runs again (train.py --resume); submit
# it with sbatch --requeue (docs/get_started.md, GPU clusters). Environment:
#   GPUS (8): processes in total        GPUS_PER_NODE (min(GPUS, 8))
#   CPUS_PER_TASK (10: 8 DataLoader workers + the trainer)
#   SRUN_ARGS: extra srun options, e.g. "--qos=high"
#   MASTER_PORT (10000 + SLURM_JOB_ID % 20000)
#   PYTORCH_CUDA_ALLOC_CONF (expandable_segments:True unless set)
#   PYTHON: the interpreter that has mmmim installed (else tools/find_python.sh picks one)
# Details: tools/launch_common.sh.
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: bash $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [--requeue] [train.py arguments]" >&2
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
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/tools/find_python.sh"
source "$ROOT/tools/launch_common.sh"

exec_srun "$PARTITION" "$JOB_NAME" "$ROOT/tools/train.py" "$CONFIG" --launcher slurm \
  ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"} "$@"
