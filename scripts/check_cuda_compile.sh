#!/usr/bin/env bash
# CI compile check of the CUDA kernel, on machines without a GPU or a CUDA build
# of torch. Exits non-zero on any error; prints how long each step took.
#
#  1. CMake (CMakeLists.txt): the kernel header + the standalone launcher
#     (csrc/cuda/standalone_check.cu) with nvcc for sm_80 and sm_90, warnings as
#     errors (-Werror all-warnings, host -Wall -Wextra -Werror, ptxas spills);
#     and the same self-test built against the CPU emulation of CUDA.
#  2. The emulated self-test (--quick, ~30 s; EAD_EMULATION_FULL=1 runs the GPU
#     list): the kernel's own code run on the CPU and checked against an
#     unfiltered host evaluation of the two-level draw with the shared header
#     (ead/sampling_math.h): tokens exactly (up to counted chunk-score near-ties),
#     log-probs / entropy to a few ulps of the header's ChunkState + merge_states
#     + finalize_row and to float64, flagged rows; rows of many chunks and blocks
#     and their last-block merge, bitwise batch invariance over chunk groupings,
#     masked entries, greedy ties, schedule positions, unaligned rows,
#     fp32 / bf16 / fp16.
#  3. The torch op (csrc/cuda/sample_cuda.cu), compile only, for sm_90, against
#     the installed (CPU) torch's headers plus the one-line
#     c10/cuda/impl/cuda_cmake_macros.h the CPU wheel lacks.
# Everything is built in a temporary directory, never in the repository.
#
#   scripts/check_cuda_compile.sh [--no-emulation] [--no-torch]
# Environment: CUDA_HOME (default /usr/local/cuda), EAD_TORCH_PYTHON (a python
# with torch; default .venv/bin/python, else python3), CUDA_ARCHS (default "80;90"),
# MAX_JOBS (default 2), EAD_EMULATION_FULL (1: the full emulated self-test).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

EMULATION=1
TORCH_OP=1
for arg in "$@"; do
  case "$arg" in
    --no-emulation) EMULATION=0 ;;
    --no-torch) TORCH_OP=0 ;;
    *) echo "usage: $0 [--no-emulation] [--no-torch]" >&2; exit 2 ;;
  esac
done

export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
NVCC="$CUDA_HOME/bin/nvcc"
ARCHS=${CUDA_ARCHS:-80;90}
JOBS=${MAX_JOBS:-2}
[ -x "$NVCC" ] || { echo "check_cuda_compile: no nvcc at $NVCC (set CUDA_HOME)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ead-cuda-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
lap=$t0
step_done() {
  local now
  now=$(date +%s)
  echo "   ok: $1 ($((now - lap)) s)"
  lap=$now
}

echo "== nvcc: $("$NVCC" --version | tail -1); architectures: $ARCHS"
cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" \
  -DEAD_CUDA_EMULATION_CHECK=$([ "$EMULATION" = 1 ] && echo ON || echo OFF) >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; echo "check_cuda_compile: cmake configure failed" >&2; exit 1; }
step_done "cmake configure"
cmake --build "$WORK/build" -j "$JOBS" >"$WORK/build.log" 2>&1 ||
  { cat "$WORK/build.log"; echo "check_cuda_compile: build failed" >&2; exit 1; }
# Spill budget: ptxas -v reports each kernel's spills (the kernel is capped at 80 registers for
# 3 blocks per SM, sample_kernel.cuh kMinBlocksPerSM); anything above the budget fails the check.
SPILL_BUDGET=${EAD_SPILL_BUDGET:-16}
worst=$(grep -oE '[0-9]+ bytes spill stores' "$WORK/build.log" | awk '{ if ($1 > m) m = $1 } END { print m + 0 }')
echo "   ptxas: largest spill of any kernel: $worst bytes (budget $SPILL_BUDGET)"
[ "$worst" -le "$SPILL_BUDGET" ] || { echo "check_cuda_compile: register spills above the budget" >&2; exit 1; }
step_done "kernel + standalone launcher (sm_${ARCHS//;/, sm_}, -Werror)$([ "$EMULATION" = 1 ] && echo ' + emulation build')"

"$WORK/build/ead_cuda_standalone_check"  # self-test on a GPU; says "skipped" without one
if [ "$EMULATION" = 1 ]; then
  if [ "${EAD_EMULATION_FULL:-0}" = 1 ]; then
    "$WORK/build/ead_cuda_emulation_check"
  else
    "$WORK/build/ead_cuda_emulation_check" --quick
  fi
  step_done "emulated self-test"
fi

if [ "$TORCH_OP" = 1 ]; then
  PY=${EAD_TORCH_PYTHON:-}
  if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
  fi
  # include paths and C++ ABI of the installed torch (a CPU build is fine: headers only)
  read -r ABI TORCH_INCLUDES < <("$PY" -c '
import torch
from torch.utils.cpp_extension import include_paths
print(int(torch._C._GLIBCXX_USE_CXX11_ABI), " ".join(include_paths()))') ||
    { echo "check_cuda_compile: no torch in $PY (set EAD_TORCH_PYTHON)" >&2; exit 1; }
  mkdir -p "$WORK/shim/c10/cuda/impl"
  # The CPU wheel has no c10/cuda/impl/cuda_cmake_macros.h; a CUDA wheel's is this line.
  echo '#define C10_CUDA_BUILD_SHARED_LIBS' >"$WORK/shim/c10/cuda/impl/cuda_cmake_macros.h"
  INC=(-I "$ROOT/csrc/include" -I "$ROOT/csrc" -I "$WORK/shim")
  for d in $TORCH_INCLUDES; do INC+=(-isystem "$d"); done
  "$NVCC" -c -std=c++20 -O3 --expt-relaxed-constexpr -fmad=false -gencode=arch=compute_90,code=sm_90 \
    -Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror,-Wno-unknown-pragmas \
    -D_GLIBCXX_USE_CXX11_ABI="$ABI" -DTORCH_API_INCLUDE_EXTENSION_H -DTORCH_EXTENSION_NAME=_C \
    "${INC[@]}" "$ROOT/csrc/cuda/sample_cuda.cu" -o "$WORK/sample_cuda.o"
  step_done "torch op csrc/cuda/sample_cuda.cu (compile only, sm_90, torch $("$PY" -c 'import torch; print(torch.__version__)'))"
fi

echo "== CUDA compile check passed in $(($(date +%s) - t0)) s"
