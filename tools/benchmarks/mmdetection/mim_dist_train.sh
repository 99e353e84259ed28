#!/usr/bin/env bash
# MMDetection benchmark (COCO Mask R-CNN, HTC++, ...) of a pretrained checkpoint:
#   GPUS=8 bash tools/benchmarks/mmdetection/mim_dist_train.sh CONFIG PRETRAIN [train args]
# PRETRAIN is a raw mmmim pretraining checkpoint or an mmpretrain classifier
# (backbone.*); the detector's init_cfg MIMPretrained (submodule=backbone) converts it
# and writes the load report to the log, and the run stops when the backbone did not
# load. Environment and details: tools/benchmarks/launch.sh.
# GPUS (per node; x NNODES) x images per GPU must be the batch the config states:
# NxbM in its name (HTC++ 16xb1), else auto_scale_lr.base_batch_size (Mask R-CNN
# 16 = 8 x 2; ViTDet 64 = 16 x 4, or its 8xb8 variant on 8 GPUs). The log's
# train-setup report warns when it is not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
usage_unless 2 "GPUS=8 $0 CONFIG PRETRAIN [train args]" "$@"
mim_dist_train "$@"
