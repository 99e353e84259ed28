#!/usr/bin/env bash
# Runs in every Slurm task that tools/launch_common.sh's exec_srun starts, before the
# trainer (srun ... bash tools/slurm_task.sh PYTHON -u SCRIPT [args]):
# - MASTER_PORT, unless set, from the job id (10000-29999, below Linux's ephemeral
#   ports), so that two jobs sharing a node do not both take 29500. It is computed
#   here because srun may create the job, and its id, only now. mmengine's Slurm
#   start-up (and mmmim's CPU one) read MASTER_PORT.
# - a job on several nodes with a loopback MASTER_ADDR (exported by hand, inherited
#   through srun) is refused; unset, the first node of the job is the master.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/launch_common.sh"

if [ -z "${MASTER_PORT:-}" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  export MASTER_PORT=$((10000 + SLURM_JOB_ID % 20000))
fi
if [ -n "${MASTER_ADDR:-}" ]; then
  refuse_loopback_master "${SLURM_STEP_NUM_NODES:-${SLURM_JOB_NUM_NODES:-1}}"
fi
exec "$@"
