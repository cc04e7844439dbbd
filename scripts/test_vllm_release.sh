#!/usr/bin/env bash
# The vLLM integration tests (python_tests/test_vllm_*.py: V1 runner, serve, load) and the verl tests
# that need no training run, on a second vLLM release, in the venv of scripts/setup_vllm_release.sh
# (for 0.24 it also holds verl 0.9.1 with its own dependencies):   bash scripts/test_vllm_release.sh 0.24
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:?usage: test_vllm_release.sh RELEASE (e.g. 0.24)}
shift
REPO=$PWD
PY="$REPO/.venv-vllm$R/bin/python"
tests=("$REPO"/python_tests/test_vllm_*.py)
if "$PY" -c "import verl" 2>/dev/null; then
  for t in verl_losses verl_config verl_rollout verl_tracking verl_cpu_mode train_config; do
    tests+=("$REPO/python_tests/test_$t.py")
  done
fi
# From a scratch directory: ead-ext is installed in that venv (not editable), and the tests' own
# subprocesses (python -c, python -m) put their working directory first on sys.path, where the
# checkout's ead_ext (without the integrations the install maps in) would shadow it.
cd "$(mktemp -d)"
exec "$PY" -m pytest -q -p no:cacheprovider --rootdir "$REPO" "${tests[@]}" "$@"
