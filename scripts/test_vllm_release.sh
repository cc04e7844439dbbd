#!/usr/bin/env bash
# The vLLM integration tests (python_tests/test_vllm_*.py, the V1 runner) on a second vLLM release,
# in the venv of scripts/setup_vllm_release.sh:   bash scripts/test_vllm_release.sh 0.24
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:?usage: test_vllm_release.sh RELEASE (e.g. 0.24)}
shift
exec ".venv-vllm$R/bin/python" -m pytest -q python_tests/test_vllm_*.py "$@"
