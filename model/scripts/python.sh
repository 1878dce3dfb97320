#!/usr/bin/env bash
# Runs Debian's python3 (torch 1.13 + onnx) with the toolkit on PYTHONPATH.
# Not the pyenv python3 that may be first on PATH: it has no torch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
model_dir="$(cd "$here/.." && pwd)"
PY="${BD3LM_PYTHON:-/usr/bin/python3}"
if [ ! -x "$PY" ]; then
  echo "bd3lm_toolkit: $PY not found; install Debian's python3-torch python3-onnx libopenblas0-pthread" >&2
  exit 127
fi
export PYTHONPATH="$model_dir${PYTHONPATH:+:$PYTHONPATH}"
# Thread count: respect an explicit setting, otherwise use the cores this process may run on.
if [ -z "${OMP_NUM_THREADS:-}" ]; then
  OMP_NUM_THREADS="$("$PY" -c 'import os; print(max(1, len(os.sched_getaffinity(0))))' 2>/dev/null || echo 2)"
  export OMP_NUM_THREADS
fi
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$OMP_NUM_THREADS}"
export PYTHONDONTWRITEBYTECODE=1
exec "$PY" "$@"
