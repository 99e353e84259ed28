# Sourced by the launchers (tools/dist_train.sh, tools/slurm_train.sh,
# tools/benchmarks/launch.sh): how the training processes are started, in one place.
# The caller has set PYTHON (tools/find_python.sh).
#
#   exec_torchrun NPROC SCRIPT [args]            torchrun: NPROC processes on this node
#   exec_srun PARTITION JOB_NAME SCRIPT [args]   srun: one process per GPU
#
# torchrun: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1; with NNODES > 1 the
#   address of node 0, required), MASTER_PORT (else PORT, its older name, else 29500).
# srun: GPUS (8), GPUS_PER_NODE (min(GPUS, 8)), CPUS_PER_TASK (10: 8 DataLoader
#   workers, the trainer and its pin-memory thread), SRUN_ARGS (more srun options);
#   MASTER_PORT (else 10000 + SLURM_JOB_ID % 20000, set in each task by
#   tools/slurm_task.sh). --requeue among SCRIPT's arguments: see exec_srun.
# Both: PYTORCH_CUDA_ALLOC_CONF (expandable_segments:True unless it or
#   PYTORCH_ALLOC_CONF is set: fewer out-of-memory errors from fragmentation).
LAUNCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "${PYTORCH_CUDA_ALLOC_CONF:-}" ] && [ -z "${PYTORCH_ALLOC_CONF:-}" ]; then
  export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
fi

# is_loopback ADDR: true for an address only this machine can reach (or none)
is_loopback() {
  case ${1:-} in
    ''|localhost|localhost.*|127.*|::1|0.0.0.0) return 0 ;;
  esac
  return 1
}

# refuse_loopback_master NNODES: exit 2 when several nodes would each rendezvous
# with themselves (MASTER_ADDR unset or loopback) and wait until a timeout
refuse_loopback_master() {
  local nnodes=$1
  if (( nnodes > 1 )) && is_loopback "${MASTER_ADDR:-}"; then
    local now=unset
    [ -z "${MASTER_ADDR:-}" ] || now="'$MASTER_ADDR', a loopback address"
    echo "error: $nnodes nodes need MASTER_ADDR, the address of node 0 that every node" \
      "can reach; it is $now, so each node would wait for itself until a timeout." \
      "Set it on every node (the same MASTER_ADDR, MASTER_PORT and NNODES; each node" \
      "its NODE_RANK)." >&2
    exit 2
  fi
}

# exec_torchrun NPROC SCRIPT [args]: torchrun SCRIPT with NPROC processes on this node.
# torchrun ignores SIGUSR1 (it would die of it when Slurm signals every process of
# a job step); the trainers handle it (PreemptionCheckpointHook). On SIGTERM torchrun
# passes it on to the trainers and waits TORCH_ELASTIC_SHUTDOWN_TIMEOUT seconds (120
# here) before killing them, time for their checkpoint.
exec_torchrun() {
  local nproc=$1; shift
  local nnodes=${NNODES:-1}
  if (( nnodes > 1 )); then
    refuse_loopback_master "$nnodes"
  fi
  trap '' USR1
  export TORCH_ELASTIC_SHUTDOWN_TIMEOUT=${TORCH_ELASTIC_SHUTDOWN_TIMEOUT:-120}
  PYTHONPATH="$LAUNCH_ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$nnodes" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${MASTER_PORT:-${PORT:-29500}}" \
    --nproc_per_node="$nproc" \
    "$@"
}

# exec_srun PARTITION JOB_NAME SCRIPT [args]: srun SCRIPT, one task per GPU.
# --requeue among the args (not passed to SCRIPT): SCRIPT gets --resume (unless the
# args have one), srun asks for SIGUSR1 REQUEUE_SIGNAL_S (180) seconds before the
# time limit, and MMMIM_REQUEUE=1 makes PreemptionCheckpointHook requeue the job
# (scontrol requeue) after its checkpoint. A job submitted with sbatch --requeue
# then runs again and resumes by itself.
exec_srun() {
  local partition=$1 job_name=$2 script=$3; shift 3
  local gpus=${GPUS:-8}
  local per_node=${GPUS_PER_NODE:-$(( gpus < 8 ? gpus : 8 ))}
  local args=() options=() arg requeue=0 resume=0
  for arg in "$@"; do
    case $arg in
      --requeue) requeue=1 ;;
      --resume|--resume=*) resume=1; args+=("$arg") ;;
      *) args+=("$arg") ;;
    esac
  done
  if (( requeue )); then
    export MMMIM_REQUEUE=1
    options+=(--signal="USR1@${REQUEUE_SIGNAL_S:-180}")
    (( resume )) || args+=(--resume)
  fi
  # SRUN_ARGS is split into words on purpose (several options)
  # shellcheck disable=SC2086
  PYTHONPATH="$LAUNCH_ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  exec srun -p "$partition" \
    --job-name="$job_name" \
    --gres=gpu:"$per_node" \
    --ntasks="$gpus" \
    --ntasks-per-node="$per_node" \
    --cpus-per-task="${CPUS_PER_TASK:-10}" \
    --kill-on-bad-exit=1 \
    ${options[@]+"${options[@]}"} \
    ${SRUN_ARGS:-} \
    bash "$LAUNCH_ROOT/tools/slurm_task.sh" "$PYTHON" -u "$script" \
    ${args[@]+"${args[@]}"}
}
