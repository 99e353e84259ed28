#!/usr/bin/env bash
# Install what is missing for mmmim, then print the python to use.
#
#   bash tools/install.sh [--ops|--tests]   # last line of stdout: path of the python
#
# What for:
#   (nothing)   pretraining (`make demo`): mmcv may lack its compiled ops, which
#               pretraining never imports; without a cached wheel with ops, mmcv is
#               built without them (seconds)
#   --ops       also detection, segmentation, PVT and tools/test.py: mmcv with the
#               compiled ops this machine needs (a cached wheel, else built once),
#               replacing an mmcv without them in the same environment
#   --tests     --ops plus the test tools (`make test`)
# Each level includes the ones before it; a later plain run keeps what is there.
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
# mmcv 2.1.0: PyPI ships only the source archive. It is built once and the wheel is
# cached under $MMMIM_CACHE/wheels/<key>/, so a later install (CI included) only
# reinstalls it. Without ops: key mmcv-2.1.0-noops (MMCV_WITH_OPS=0, its distribution
# kept named mmcv so that mmdet's and mmseg's requirement on mmcv is met). With ops,
# tools/install_key.py decides the build and names it:
#   CUDA ops when a GPU is usable and nvcc is found (CUDA_HOME, PATH), or FORCE_CUDA=1;
#     key mmcv-2.1.0-torch<version>-cu<XYZ>-arch<TORCH_CUDA_ARCH_LIST>-py<XY>; the arch
#     list is $TORCH_CUDA_ARCH_LIST, else the visible GPUs', else 8.0;9.0+PTX;
#     nvcc's CUDA major must equal torch's
#   CPU ops otherwise, key ...-cpu-py<XY>. A GPU node without nvcc stops with a fix
#     (`module load cuda`) unless MMMIM_ALLOW_CPU_OPS=1 (a plain install, for
#     pretraining, builds no ops there)
#   MAX_JOBS: yours, else min(nproc, 16, free memory / 3 GB per nvcc job)
# With --ops/--tests and a usable GPU, mmcv counts as installed only when its nms runs
# on CUDA (with FORCE_CUDA=1: only with CUDA ops).
# torch >= 2.10 headers need C++20, so the archive's hard-coded -std=c++17 is raised
# when the headers demand it (nvcc >= 12 accepts -std=c++20).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MMMIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmmim}
MMCV_VERSION=2.1.0
case "${1:-}" in
  '') LEVEL=0 ;;        # pretraining
  --ops) LEVEL=1 ;;     # + mmcv's compiled ops
  --tests) LEVEL=2 ;;   # + ops + test tools
  *) echo "usage: bash tools/install.sh [--ops|--tests]" >&2; exit 2 ;;
esac
OPS=optional
[ "$LEVEL" -ge 1 ] && OPS=required

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

stamp_value() {  # what was installed from; the stamp's second line is the level
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh" "$ROOT/tools/install_key.py" |
    sha1sum | cut -c1-16
  echo "root=$ROOT"
}
STAMP_FILE=$("$PY" -c 'import sys; print(sys.prefix)')/.mmmim-install-stamp
stamp_level() {  # the level installed from the current files, else -1
  if [ -f "$STAMP_FILE" ] && [ "$(head -n 2 "$STAMP_FILE")" = "$(stamp_value)" ]; then
    sed -n 's/^level=//p' "$STAMP_FILE" | grep -x '[0-9]' || echo -1
  else
    echo -1
  fi
}

# mmcv $MMCV_VERSION; with --ops/--tests, with the compiled ops this machine needs (with a
# usable GPU: CUDA ops whose nms runs on it; FORCE_CUDA=1: CUDA ops); says why not
# unless --quiet; --import MODULE... imports them too
mmcv_ok() { "$PY" "$ROOT/tools/install_key.py" check --mmcv "$MMCV_VERSION" --ops "$OPS" "$@"; }

if [ "$(stamp_level)" -ge "$LEVEL" ] &&
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

# 3. mmcv, from the wheel cache or built once
build_mmcv_wheel() {  # $1: destination folder; $2: 1 = with the ops the plan says (CUDA_OPS, ...), 0 = none
  local work src torch_inc ops_env
  work=$(mktemp -d)
  # mmcv's setup.py needs a setuptools with the old pkg_resources API (< 70)
  pip_install -r "$ROOT/requirements/build.txt"
  if [ "$2" = 1 ]; then
    log "building mmcv $MMCV_VERSION with ops, $BUILD_JOBS jobs (CPU ops: about 11 minutes on 2 cores; once per key)"
  else
    log "building mmcv $MMCV_VERSION without compiled ops (seconds; pretraining needs none, --ops adds them)"
  fi
  "$PY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$work" >&2
  tar -xzf "$work"/mmcv-*.tar.gz -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name "mmcv-$MMCV_VERSION" | head -n 1)
  torch_inc=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
  if [ "$2" = 1 ] && grep -rqs "C++20 or later" "$torch_inc/c10/macros" "$torch_inc/ATen/ATen.h"; then
    log "torch headers need C++20: raising mmcv's -std=c++17"
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  fi
  if [ "$2" = 0 ]; then  # named mmcv, not mmcv-lite: mmdet and mmseg require mmcv
    sed -i "s/name='mmcv' if .* else 'mmcv-lite'/name='mmcv'/" "$src/setup.py"
    ops_env=(MMCV_WITH_OPS=0)
  elif [ "$CUDA_OPS" = 1 ]; then
    log "compiling CUDA ops for TORCH_CUDA_ARCH_LIST=$ARCH_LIST"
    ops_env=(MMCV_WITH_OPS=1 FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$ARCH_LIST")
  else  # mmcv's setup.py compiles CUDA ops whenever torch sees a GPU: hide it
    ops_env=(MMCV_WITH_OPS=1 FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
  fi
  (cd "$src" && env "${ops_env[@]}" MAX_JOBS="$BUILD_JOBS" \
    "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$1" . >&2)
  rm -rf "$work"
}

cached() { ls "$1"/mmcv-*.whl >/dev/null 2>&1; }

if ! mmcv_ok --quiet; then
  QUIET=  # the plan's warnings are about building ops
  [ "$OPS" = optional ] && QUIET=--quiet
  PLAN=$("$PY" "$ROOT/tools/install_key.py" plan --mmcv "$MMCV_VERSION" $QUIET)
  eval "$PLAN"  # KEY CUDA_OPS ARCH_LIST BUILD_JOBS BUILD_ERROR LITE_KEY
  WHEELS=$CACHE/wheels/$KEY
  WITH_OPS=1  # pretraining takes the ops wheel when it is cached, else builds without
  if [ "$OPS" = optional ] && ! cached "$WHEELS"; then
    WHEELS=$CACHE/wheels/$LITE_KEY
    WITH_OPS=0
  fi
  if ! cached "$WHEELS"; then
    [ "$WITH_OPS" = 0 ] || [ -z "$BUILD_ERROR" ] || { log "ERROR: not building mmcv: $BUILD_ERROR"; exit 1; }
    mkdir -p "$CACHE/wheels"
    TMP_WHEELS=$(mktemp -d "$CACHE/wheels/.building-XXXXXX")
    build_mmcv_wheel "$TMP_WHEELS" "$WITH_OPS"
    rm -rf "$WHEELS" && mv "$TMP_WHEELS" "$WHEELS"
  else
    log "using cached mmcv wheel $WHEELS"
  fi
  pip_install --no-deps --force-reinstall "$WHEELS"/mmcv-*.whl
fi

# 4. the OpenMMLab stack (mmcv's own dependencies come with it), tools for the
# tests, and mmmim itself (editable)
pip_install -r "$ROOT/requirements/runtime.txt"
mmcv_ok || { log "ERROR: mmcv $MMCV_VERSION does not serve this machine (see above)"; exit 1; }
[ "$LEVEL" -ge 2 ] && pip_install -r "$ROOT/requirements/tests.txt"
pip_install --no-deps --no-build-isolation -e "$ROOT"

"$PY" - <<'EOF' >&2
import warnings  # mmcv's own warning when its ops are missing: said below instead
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
import mmcv, mmengine, mmpretrain, mmdet, mmseg, timm, torch, mmmim
from mmmim.mmcv_ops import INSTALL_OPS, has_mmcv_ops
if has_mmcv_ops():
    from mmcv.ops import get_compiling_cuda_version, nms, roi_align  # compiled ops
    ops = get_compiling_cuda_version()
    ops = 'CPU-only ops' if ops == 'not available' else f'CUDA {ops} ops'
else:
    ops = f'no compiled ops: pretraining only; `{INSTALL_OPS}` adds them'
print('[mmmim install] ok: torch', torch.__version__, '| mmcv', mmcv.__version__, f'({ops})',
      '| mmengine', mmengine.__version__,
      '| mmpretrain', mmpretrain.__version__, '| mmdet', mmdet.__version__, '| mmseg', mmseg.__version__,
      '| timm', timm.__version__, '| mmmim', mmmim.__version__)
EOF
{ stamp_value; echo "level=$LEVEL"; } > "$STAMP_FILE"
echo "$PY"
