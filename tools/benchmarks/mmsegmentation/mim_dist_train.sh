#!/usr/bin/env bash
# MMSegmentation benchmark (ADE20K UperNet, ...) of a pretrained checkpoint:
#   GPUS=8 bash tools/benchmarks/mmsegmentation/mim_dist_train.sh CONFIG PRETRAIN [train args]
# PRETRAIN is a raw mmmim pretraining checkpoint or an mmpretrain classifier
# (backbone.*); the segmentor's init_cfg MIMPretrained (submodule=backbone) converts it
# and writes the load report to the log, and the run stops when the backbone did not
# load. Environment and details: tools/benchmarks/launch.sh.
# GPUS (per node; x NNODES) x images per GPU must be the batch in the config's
# name (8xb2: 8 processes); the log's train-setup report warns when it is not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
usage_unless 2 "GPUS=8 $0 CONFIG PRETRAIN [train args]" "$@"
mim_dist_train "$@"
