#!/usr/bin/env bash
# compute-sanitizer over the CUDA op: memcheck (out-of-bounds / misaligned global and shared
# accesses), racecheck (shared-memory hazards: the block reductions and broadcasts),
# synccheck (barrier misuse) and initcheck (reads of uninitialised global memory, e.g. the
# chunk-state workspace), each over the shapes of scripts/cuda_sanitizer_driver.py
# (racecheck and initcheck on its --small set: they are slow). Needs a GPU and ead_ext built
# with the CUDA op; exits non-zero on any error report. Without a GPU it says SKIPPED and
# exits 0 (or 1 with --require-gpu).
#
#   scripts/cuda_sanitizer_check.sh [--require-gpu]
# Environment: EAD_PYTHON (default .venv/bin/python, else python3), COMPUTE_SANITIZER
# (default: on PATH, else $CUDA_HOME/bin/compute-sanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIRE=0
[ "${1:-}" = "--require-gpu" ] && REQUIRE=1
PY=${EAD_PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
skip() {
  echo "cuda_sanitizer_check: SKIPPED: $*"
  exit "$REQUIRE"
}
"$PY" - <<'PY' || skip "no CUDA device, or ead_ext has no CUDA op (see the line above)"
import sys, torch, ead_ext
ok = torch.cuda.is_available() and ead_ext.has_compiled_op("cuda")
print("CUDA available:", torch.cuda.is_available(), "| CUDA op:", ead_ext.has_compiled_op("cuda"))
sys.exit(0 if ok else 1)
PY
CS=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")}
[ -x "$CS" ] || skip "compute-sanitizer not found (set COMPUTE_SANITIZER or CUDA_HOME)"

FILTER=()
if "$CS" --help 2>/dev/null | grep -q -- "--kernel-name"; then
  FILTER=(--kernel-name kns=sample_kernel)  # check only the op's kernel (torch's own copies are not ours)
fi
t0=$(date +%s)
for tool in memcheck racecheck synccheck initcheck; do
  args=()
  extra=()
  case "$tool" in
    memcheck) extra=(--leak-check no) ;;
    racecheck) extra=(--racecheck-report all); args=(--small) ;;
    initcheck) args=(--small) ;;
  esac
  echo "== compute-sanitizer --tool $tool"
  "$CS" --tool "$tool" --error-exitcode 99 "${FILTER[@]}" "${extra[@]}" \
    "$PY" scripts/cuda_sanitizer_driver.py "${args[@]}"
done
echo "== compute-sanitizer: memcheck, racecheck, synccheck, initcheck clean ($(( $(date +%s) - t0 )) s)"
