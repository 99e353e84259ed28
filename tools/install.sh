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
# ops and the wheel is cached under $MMMIM_CACHE/wheels/<key>/, so a later install (CI
# included) only reinstalls it. tools/install_key.py decides the build and names it:
#   CUDA ops when a GPU is usable and nvcc is found (CUDA_HOME, PATH), or FORCE_CUDA=1;
#     key mmcv-2.1.0-torch<version>-cu<XYZ>-arch<TORCH_CUDA_ARCH_LIST>-py<XY>; the arch
#     list is $TORCH_CUDA_ARCH_LIST, else the visible GPUs', else 8.0;9.0+PTX;
#     nvcc's CUDA major must equal torch's
#   CPU ops otherwise, key ...-cpu-py<XY>. A GPU node without nvcc stops with a fix
#     (`module load cuda`) unless MMMIM_ALLOW_CPU_OPS=1 (pretraining needs no mmcv ops)
#   MAX_JOBS: yours, else min(nproc, 16, free memory / 3 GB per nvcc job)
# With a usable GPU, mmcv counts as installed only when its nms runs on CUDA (with
# FORCE_CUDA=1: only with CUDA ops).
# torch >= 2.10 headers need C++20, so the archive's hard-coded -std=c++17 is raised
# when the headers demand it (nvcc >= 12 accepts -std=c++20).
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
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh" "$ROOT/tools/install_key.py" |
    sha1sum | cut -c1-16
  echo "tests=$WITH_TESTS root=$ROOT"
}
STAMP_FILE=$("$PY" -c 'import sys; print(sys.prefix)')/.mmmim-install-stamp

# mmcv $MMCV_VERSION with the compiled ops this machine needs (with a usable GPU: CUDA ops
# whose nms runs on it; FORCE_CUDA=1: CUDA ops); says why not unless --quiet;
# --import MODULE... imports them too
mmcv_ok() { "$PY" "$ROOT/tools/install_key.py" check --mmcv "$MMCV_VERSION" "$@"; }

if [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$(stamp_value)" ] &&
    mmcv_ok --quiet --import mmengine mmpretrain mmdet mmseg timm skimage mmmim; then
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
build_mmcv_wheel() {  # $1: destination folder; builds what the plan says (CUDA_OPS, ...)
  local work src torch_inc ops_env
  work=$(mktemp -d)
  # mmcv's setup.py needs a setuptools with the old pkg_resources API (< 70)
  pip_install -r "$ROOT/requirements/build.txt"
  log "building mmcv $MMCV_VERSION with ops, $BUILD_JOBS jobs (CPU ops: about 11 minutes on 2 cores; once per key)"
  "$PY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work" >&2
  tar -xzf "$work"/mmcv-*.tar.gz -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name "mmcv-$MMCV_VERSION" | head -n 1)
  torch_inc=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
  if grep -rqs "C++20 or later" "$torch_inc/c10/macros" "$torch_inc/ATen/ATen.h"; then
    log "torch headers need C++20: raising mmcv's -std=c++17"
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  fi
  if [ "$CUDA_OPS" = 1 ]; then
    log "compiling CUDA ops for TORCH_CUDA_ARCH_LIST=$ARCH_LIST"
    ops_env=(FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$ARCH_LIST")
  else  # mmcv's setup.py compiles CUDA ops whenever torch sees a GPU: hide it
    ops_env=(FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
  fi
  (cd "$src" && env "${ops_env[@]}" MMCV_WITH_OPS=1 MAX_JOBS="$BUILD_JOBS" \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$1" . >&2)
  rm -rf "$work"
}

if ! mmcv_ok --quiet; then
  PLAN=$("$PY" "$ROOT/tools/install_key.py" plan --mmcv "$MMCV_VERSION")
  eval "$PLAN"  # KEY CUDA_OPS ARCH_LIST BUILD_JOBS BUILD_ERROR
  WHEELS=$CACHE/wheels/$KEY
  if ! ls "$WHEELS"/mmcv-*.whl >/dev/null 2>&1; then
    [ -z "$BUILD_ERROR" ] || { log "ERROR: not building mmcv: $BUILD_ERROR"; exit 1; }
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
mmcv_ok || { log "ERROR: mmcv $MMCV_VERSION does not serve this machine (see above)"; exit 1; }
[ "$WITH_TESTS" = 1 ] && pip_install -r "$ROOT/requirements/tests.txt"
pip_install --no-deps --no-build-isolation -e "$ROOT"

"$PY" - <<'EOF' >&2
import mmcv, mmengine, mmpretrain, mmdet, mmseg, timm, torch, mmmim
from mmcv.ops import get_compiling_cuda_version, nms, roi_align  # compiled ops
ops = get_compiling_cuda_version()
ops = 'CPU-only' if ops == 'not available' else f'CUDA {ops}'
print('[mmmim install] ok: torch', torch.__version__, '| mmcv', mmcv.__version__, f'({ops} ops)',
      '| mmengine', mmengine.__version__,
      '| mmpretrain', mmpretrain.__version__, '| mmdet', mmdet.__version__, '| mmseg', mmseg.__version__,
      '| timm', timm.__version__, '| mmmim', mmmim.__version__)
EOF
stamp_value > "$STAMP_FILE"
echo "$PY"
