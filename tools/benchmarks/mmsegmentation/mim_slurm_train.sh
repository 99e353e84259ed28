#!/usr/bin/env bash
# MMSegmentation benchmark (ADE20K UperNet, ...) of a pretrained checkpoint on Slurm:
#   bash tools/benchmarks/mmsegmentation/mim_slurm_train.sh PARTITION CONFIG PRETRAIN [train args]
# --requeue among the train args: checkpoint, requeue and resume (sbatch --requeue).
# Environment (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, JOB_NAME, MASTER_PORT, PYTHON):
# tools/benchmarks/launch.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
usage_unless 3 "$0 PARTITION CONFIG PRETRAIN [train args]" "$@"
mim_slurm_train "$@"
