# Sourced by the launchers (dist_train.sh, slurm_train.sh, tools/benchmarks/**):
# sets PYTHON to the interpreter that has mmmim installed and says which it is.
#
# Order: $PYTHON; the interpreter of an active virtualenv ($VIRTUAL_ENV) or conda env
# ($CONDA_PREFIX); the project environment made by tools/install.sh
# ($MMMIM_VENV, default ${MMMIM_CACHE:-~/.cache/mmmim}/venv); then `python` on PATH.
find_mmmim_python() {
  local cache venv how
  cache=${MMMIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmmim}
  venv=${MMMIM_VENV:-$cache/venv}
  if [ -n "${PYTHON:-}" ]; then
    how='$PYTHON'
  elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    PYTHON=$VIRTUAL_ENV/bin/python; how='the active virtualenv'
  elif [ -n "${CONDA_PREFIX:-}" ] && [ -x "$CONDA_PREFIX/bin/python" ]; then
    PYTHON=$CONDA_PREFIX/bin/python; how='the active conda env'
  elif [ -x "$venv/bin/python" ]; then
    PYTHON=$venv/bin/python; how='the project environment of tools/install.sh'
  else
    PYTHON=python; how='python on PATH (no project environment: run bash tools/install.sh)'
  fi
  echo "[mmmim] python: $PYTHON ($how)" >&2
  export PYTHON
}
find_mmmim_python
