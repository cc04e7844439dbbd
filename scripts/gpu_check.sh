#!/usr/bin/env bash
# Everything that needs a GPU, in one command (the checks CI cannot run):
#   build    ead_ext._C in place with the CUDA op (EAD_BUILD_CUDA=1), for this GPU's arch
#   selftest the torch-free standalone launcher's self-test on the GPU (CMake build)
#   tests    the [cuda] variants of the op tests (the `device` fixture: tokens vs the CPU op, stats
#            vs float64, dtypes, invariance, bad input, opcheck, compile) and python_tests/test_cuda.py
#            (graphs, streams, no host sync, cross-device)
#   sanitize scripts/cuda_sanitizer_check.sh (memcheck, racecheck, synccheck, initcheck)
#   bench    bench/bench_cuda.py, with the logits in L2 and with the L2 flushed; rows as JSON in
#            $LOGDIR/bench_cuda_*.json (python bench/tables.py FILE prints docs/BENCHMARKS.md's tables).
#            Its vLLM column needs vLLM's sampler files: run bash bench/fetch_contenders.sh here
#            first and carry .prebuilt/contenders (44 KB) with the device call
#   ncu      Nsight Compute on the op's kernel for a few shapes (DRAM throughput, SM busy)
# Steps run in this order; name some to run only those (default: all). Each step's log goes
# to $LOGDIR (default ./gpu-logs, or $OUT where set); a summary table is printed last. Exits
# non-zero when a step fails.
#
#   scripts/gpu_check.sh [build] [selftest] [tests] [sanitize] [bench] [ncu]
# Environment: PYTHON (default python3), TORCH_CUDA_ARCH_LIST (default: the GPU's own),
# MAX_JOBS (default: nproc), EAD_PREBUILT (a built _C*.so to use instead of building).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
LOGDIR=${LOGDIR:-${OUT:-$ROOT/gpu-logs}}
mkdir -p "$LOGDIR"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 EAD_PYTHON="$PY"
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(build selftest tests sanitize bench ncu)
SUMMARY=()
FAILED=0

run_step() {  # name, command...
  local name=$1 t0 rc
  shift
  echo "===== $name: $*"
  t0=$(date +%s)
  "$@" >"$LOGDIR/$name.log" 2>&1
  rc=$?
  tail -n 40 "$LOGDIR/$name.log"
  SUMMARY+=("$(printf '%-10s rc=%-3s %5s s' "$name" "$rc" "$(( $(date +%s) - t0 ))")")
  [ "$rc" -eq 0 ] || FAILED=1
}

step_build() {
  # The op must be compiled by the compiler whose libstdc++ the process loads: built by a
  # newer toolchain (an image's CC=/opt/gcc/...) against the system's older libstdc++, the
  # first error message that formats a number (std::ostream << long) crashed in the
  # locale code (seen on the lent H100). The system compiler is used unless EAD_KEEP_CC=1.
  if [ "${EAD_KEEP_CC:-0}" != 1 ] && [ -x /usr/bin/gcc ] && [ -x /usr/bin/g++ ]; then
    export CC=/usr/bin/gcc CXX=/usr/bin/g++
  fi
  echo "compilers: CC=${CC:-default} ($(${CC:-gcc} -dumpfullversion 2>/dev/null)), CXX=${CXX:-default}"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  if [ -n "${EAD_PREBUILT:-}" ]; then
    cp "$EAD_PREBUILT" ead_ext/ || return 1
  else
    if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
      TORCH_CUDA_ARCH_LIST=$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')
      export TORCH_CUDA_ARCH_LIST
    fi
    EAD_BUILD_CUDA=1 "$PY" setup.py build_ext --inplace || return 1
  fi
  "$PY" -c 'import ead_ext; print(ead_ext.backend_info()); assert ead_ext.has_compiled_op("cuda")'
}

step_selftest() {
  local arch
  arch=$("$PY" -c 'import torch; print("%d%d" % torch.cuda.get_device_capability())')
  cmake -S . -B /tmp/ead-selftest -DCMAKE_CUDA_ARCHITECTURES="$arch" -DEAD_CUDA_EMULATION_CHECK=OFF >/dev/null &&
    cmake --build /tmp/ead-selftest -j "$MAX_JOBS" >/dev/null &&
    /tmp/ead-selftest/ead_cuda_standalone_check
}

OP_TESTS=(python_tests/test_cuda.py python_tests/test_op_vs_reference.py python_tests/test_distribution.py
          python_tests/test_bad_input.py python_tests/test_greedy.py python_tests/test_invariance.py
          python_tests/test_opcheck.py python_tests/test_compile.py)

step_tests() {
  # -k cuda: test_cuda.py and every test whose id names the CUDA device ([cuda-...], op-cuda)
  "$PY" -m pytest -q -p no:cacheprovider "${OP_TESTS[@]}" -k cuda -rs --durations=10 \
    --junitxml="$LOGDIR/test_cuda.xml"
}

step_bench() {
  "$PY" bench/bench_cuda.py --json "$LOGDIR/bench_cuda_warm.json" && echo && echo "---- L2 flushed" &&
    "$PY" bench/bench_cuda.py --flush-l2 --json "$LOGDIR/bench_cuda_flushed.json" &&
    echo && echo "---- flat N(0,1) logits (the filters pass the most entries: the worst case)" &&
    "$PY" bench/bench_cuda.py --kind flat --vocabs 151936 --json "$LOGDIR/bench_cuda_flat.json" && echo &&
    "$PY" bench/tables.py "$LOGDIR"/bench_cuda_flushed.json "$LOGDIR"/bench_cuda_warm.json "$LOGDIR"/bench_cuda_flat.json
}

step_ncu() {
  local ncu
  ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
  [ -n "$ncu" ] || { echo "ncu not found"; return 1; }
  "$ncu" --clock-control none --kernel-name regex:sample_kernel \
    --section SpeedOfLight --section LaunchStats --section Occupancy \
    "$PY" bench/bench_cuda.py --ncu-shapes
}

for s in "${STEPS[@]}"; do
  case "$s" in
    build|selftest|tests|bench|ncu) run_step "$s" "step_$s" ;;
    sanitize) run_step sanitize bash scripts/cuda_sanitizer_check.sh --require-gpu ;;
    *) echo "unknown step: $s" >&2; exit 2 ;;
  esac
  if [ "$s" = build ] && [ "$FAILED" = 1 ]; then break; fi
done
echo "===== summary (logs in $LOGDIR)"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
