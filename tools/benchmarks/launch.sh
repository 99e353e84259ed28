# Sourced by the benchmark launchers (tools/benchmarks/{classification,mmdetection,
# mmsegmentation}/*.sh). They run our own tools/train.py / tools/test.py, so that
# mmmim's modules and shims (MIMPretrained, the layer-decay constructor, ...) are
# loaded whatever the config's default_scope (mmpretrain, mmdet, mmseg).
#
#   mim_dist_train CONFIG PRETRAIN [train args]              torchrun, GPUS per node
#   mim_slurm_train PARTITION CONFIG PRETRAIN [train args]   srun
#   mim_dist_test CONFIG CHECKPOINT [test args]              torchrun, evaluate
#
# Environment: GPUS (8), NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1; node 0's
# address, required when NNODES > 1), MASTER_PORT (or PORT; 29500); Slurm:
# GPUS_PER_NODE (min(GPUS, 8)), CPUS_PER_TASK (10), SRUN_ARGS, JOB_NAME (the config
# name), MASTER_PORT (from the job id), --requeue among the train args; PYTHON (else
# tools/find_python.sh picks one). Details: tools/launch_common.sh. On a machine
# without CUDA, the processes run with gloo on the CPU.
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$BENCH_ROOT/tools/find_python.sh"
source "$BENCH_ROOT/tools/launch_common.sh"

# with_pretrain PRETRAIN [train args...]: prints the train args (NUL-separated) with
# the options that load PRETRAIN into model.backbone through the MIMPretrained
# initializer (converter + load report), set on the whole model with
# submodule=backbone so it also works for backbones that read their own init_cfg
# checkpoint (mmdet / mmseg Swin, mmdet PVT). They are merged into the caller's own
# --cfg-options, if any (a second --cfg-options flag would replace the first).
with_pretrain() {
  local pretrain=$1; shift
  local opts=("model.init_cfg.type=MIMPretrained"
              "model.init_cfg.checkpoint=${pretrain}"
              "model.init_cfg.submodule=backbone")
  local merged=0 arg
  for arg in "$@"; do
    printf '%s\0' "$arg"
    if [[ "$arg" == "--cfg-options" && $merged == 0 ]]; then
      printf '%s\0' "${opts[@]}"
      merged=1
    fi
  done
  if [[ $merged == 0 ]]; then
    printf '%s\0' "--cfg-options" "${opts[@]}"
  fi
}

require_checkpoint() {
  [[ -f "$1" || "$1" == *://* ]] || { echo "no checkpoint at $1" >&2; exit 2; }
}

# dist_python SCRIPT [args...]: torchrun SCRIPT on GPUS processes per node.
dist_python() {
  exec_torchrun "${GPUS:-8}" "$@"
}

mim_dist_train() {
  local config=$1 pretrain=$2; shift 2
  require_checkpoint "$pretrain"
  local args
  mapfile -d '' args < <(with_pretrain "$pretrain" "$@")
  dist_python "$BENCH_ROOT/tools/train.py" "$config" --launcher pytorch "${args[@]}"
}

mim_slurm_train() {
  local partition=$1 config=$2 pretrain=$3; shift 3
  require_checkpoint "$pretrain"
  local args
  mapfile -d '' args < <(with_pretrain "$pretrain" "$@")
  exec_srun "$partition" "${JOB_NAME:-$(basename "$config" .py)}" \
    "$BENCH_ROOT/tools/train.py" "$config" --launcher=slurm "${args[@]}"
}

mim_dist_test() {
  local config=$1 checkpoint=$2; shift 2
  require_checkpoint "$checkpoint"
  dist_python "$BENCH_ROOT/tools/test.py" "$config" "$checkpoint" --launcher pytorch "$@"
}

# usage_unless MIN_ARGS USAGE "$@": exit 2 with the usage when too few arguments.
usage_unless() {
  local min=$1 usage=$2; shift 2
  if [[ $# -lt $min ]]; then
    echo "usage: $usage" >&2
    exit 2
  fi
}
