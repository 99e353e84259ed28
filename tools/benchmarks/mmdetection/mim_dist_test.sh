#!/usr/bin/env bash
# Evaluate a trained detector (COCO bbox / segm AP) with the config's test loop:
#   GPUS=8 bash tools/benchmarks/mmdetection/mim_dist_test.sh CONFIG CHECKPOINT [test args]
# CHECKPOINT is a checkpoint that tools/train.py wrote (the whole detector). Test args:
# tools/test.py (--work-dir, --cfg-options, --out). Environment: tools/benchmarks/launch.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../launch.sh"
usage_unless 2 "GPUS=8 $0 CONFIG CHECKPOINT [test args]" "$@"
mim_dist_test "$@"
