# Sourced by mim_dist_train.sh / mim_slurm_train.sh.
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
