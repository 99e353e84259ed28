#!/usr/bin/env bash
# Install what is missing for mmmim, then print the python to use.
#
#   bash tools/install.sh [--tests]      # last line of stdout: path of the python
#
# Which python:
#   MMMIM_PYTHON=/path/to/python   use that interpreter (e.g. a conda env holding a
#                                  cluster's CUDA build of torch); nothing is replaced
#   an active virtualenv ($VIRTUAL_ENV)  used as it is
#   otherwise                      a project venv at $MMMIM_VENV
#                                  (default ~/.cache/mmmim/venv), created on first use
#
# torch: installed from requirements/torch.txt only when the interpreter has none;
# an existing torch is kept and mmcv is built against it.
# mmcv 2.1.0: PyPI ships only the source archive. It is built once with its compiled
# ops (CUDA ops too when nvcc and a GPU are present, or FORCE_CUDA=1) and the wheel is
# cached under $MMMIM_CACHE/wheels/<mmcv>-torch<version>-<cpu|cuXYZ>-<python>/, so a
# later install (CI included) only reinstalls it. torch >= 2.10 headers need C++20,
# so the archive's hard-coded -std=c++17 is raised when the headers demand it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MMMIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmmim}
MMCV_VERSION=2.1.0
WITH_TESTS=0
[ "${1:-}" = "--tests" ] && WITH_TESTS=1

log() { echo "[mmmim install] $*" >&2; }

pick_python() {
  if [ -n "${MMMIM_PYTHON:-}" ]; then
    echo "$MMMIM_PYTHON"
  elif [ -n "${VIRTUAL_ENV:-}" ]; then
    echo "$VIRTUAL_ENV/bin/python"
  else
    local venv=${MMMIM_VENV:-$CACHE/venv}
    if [ ! -x "$venv/bin/python" ]; then
      log "creating virtual environment $venv"
      "${PYTHON:-python3}" -m venv "$venv" >&2
    fi
    echo "$venv/bin/python"
  fi
}

PY=$(pick_python)
pip_install() { "$PY" -m pip install --disable-pip-version-check -q "$@" >&2; }

stamp_value() {
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh" | sha1sum | cut -c1-16
  echo "tests=$WITH_TESTS root=$ROOT"
}
STAMP_FILE=$("$PY" -c 'import sys; print(sys.prefix)')/.mmmim-install-stamp

stack_ok() {
  "$PY" - <<'EOF' >/dev/null 2>&1
import mmcv, mmcv.ops, mmengine, mmpretrain, mmdet, mmseg, timm, skimage, mmmim
assert mmcv.__version__ == '2.1.0'
EOF
}

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$(stamp_value)" ] && stack_ok; then
  log "environment up to date: $PY"
  echo "$PY"
  exit 0
fi

# 1. torch, only when missing
if ! "$PY" -c 'import torch, torchvision' >/dev/null 2>&1; then
  log "installing torch (requirements/torch.txt)"
  pip_install -r "$ROOT/requirements/torch.txt"
fi

# 2. build tools, after torch (torch's install pulls the newest setuptools, which has no
# pkg_resources: mmengine and mmcv's build need it)
pip_install -r "$ROOT/requirements/build.txt"
"$PY" -c 'import torch; print("[mmmim install] torch", torch.__version__, "cuda", torch.version.cuda)' >&2

# 2. mmcv with compiled ops, from the wheel cache or built once
mmcv_ok() {
  "$PY" -c "import mmcv, mmcv.ops; from mmcv.ops import nms; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1
}

want_cuda_ops() {
  [ "${FORCE_CUDA:-0}" = "1" ] && return 0
  command -v nvcc >/dev/null 2>&1 && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'
}

build_mmcv_wheel() {  # $1: destination folder
  local work src torch_inc
  work=$(mktemp -d)
  # mmcv's setup.py needs a setuptools with the old pkg_resources API (< 70)
  pip_install -r "$ROOT/requirements/build.txt"
  log "building mmcv $MMCV_VERSION with ops (about 11 minutes on 2 cores; once per torch version)"
  "$PY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work" >&2
  tar -xzf "$work"/mmcv-*.tar.gz -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name "mmcv-$MMCV_VERSION" | head -n 1)
  torch_inc=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
  if grep -rqs "C++20 or later" "$torch_inc/c10/macros" "$torch_inc/ATen/ATen.h"; then
    log "torch headers need C++20: raising mmcv's -std=c++17"
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  fi
  if want_cuda_ops; then export FORCE_CUDA=1; log "compiling CUDA ops"; fi
  (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$1" . >&2)
  rm -rf "$work"
}

if ! mmcv_ok; then
  KEY=$("$PY" - <<EOF
import sys, torch
ops = ('cu' + torch.version.cuda.replace('.', '')) if ('${FORCE_CUDA:-0}' == '1' or torch.cuda.is_available()) and torch.version.cuda else 'cpu'
print(f"mmcv-$MMCV_VERSION-torch{torch.__version__.replace('+', '_')}-{ops}-py{sys.version_info[0]}{sys.version_info[1]}")
EOF
)
  WHEELS=$CACHE/wheels/$KEY
  if ! ls "$WHEELS"/mmcv-*.whl >/dev/null 2>&1; then
    mkdir -p "$CACHE/wheels"
    TMP_WHEELS=$(mktemp -d "$CACHE/wheels/.building-XXXXXX")
    build_mmcv_wheel "$TMP_WHEELS"
    rm -rf "$WHEELS" && mv "$TMP_WHEELS" "$WHEELS"
  else
    log "using cached mmcv wheel $WHEELS"
  fi
  pip_install --no-deps --force-reinstall "$WHEELS"/mmcv-*.whl
fi

# 3. the OpenMMLab stack (mmcv's own dependencies come with it), tools for the
# tests, and mmmim itself (editable)
pip_install -r "$ROOT/requirements/runtime.txt"
mmcv_ok || { log "mmcv $MMCV_VERSION with ops does not import after install"; exit 1; }
[ "$WITH_TESTS" = 1 ] && pip_install -r "$ROOT/requirements/tests.txt"
pip_install --no-deps --no-build-isolation -e "$ROOT"

"$PY" - <<'EOF' >&2
import mmcv, mmengine, mmpretrain, mmdet, mmseg, timm, torch, mmmim
from mmcv.ops import nms, roi_align  # compiled ops
print('[mmmim install] ok: torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmengine', mmengine.__version__,
      '| mmpretrain', mmpretrain.__version__, '| mmdet', mmdet.__version__, '| mmseg', mmseg.__version__,
      '| timm', timm.__version__, '| mmmim', mmmim.__version__)
EOF
stamp_value > "$STAMP_FILE"
echo "$PY"
