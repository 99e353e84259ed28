#!/usr/bin/env bash
# The GPU check (the review's 10-minute checklist as one run; see tools/gpu_check.py).
#
#   bash tools/gpu_check.sh --prepare DIR [--python-version 3.12] [--platform P]
#       on a machine with network: download the OpenMMLab wheels and mmcv's source
#       archive for the GPU machine's python into DIR (copy DIR with the checkout)
#   bash tools/gpu_check.sh [--wheels DIR] [--work-dir work_dirs/gpu_check] [--budget-s 480]
#       on the GPU machine: install from DIR (offline, next to the machine's torch),
#       run the check, print the table, write WORK_DIR/gpu_check.json
#
# Python: $PYTHON; else python3 for --prepare (it needs only pip) and when it has torch
# (a bare GPU machine); else the one tools/find_python.sh picks (the project environment).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PYTHON:-}" ] && [ "${1:-}" = "--prepare" ] && command -v python3 >/dev/null 2>&1; then
  PYTHON=python3
fi
if [ -z "${PYTHON:-}" ]; then
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch' >/dev/null 2>&1; then
    PYTHON=python3
    echo "[mmmim] python: $PYTHON (python3 on PATH has torch)" >&2
  else
    source "$ROOT/tools/find_python.sh"
  fi
fi
cd "$ROOT"
exec "$PYTHON" "$ROOT/tools/gpu_check.py" "$@"
