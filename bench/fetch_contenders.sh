#!/usr/bin/env bash
# Unmodified copies of the competitors bench_cuda.py times, in the ignored folder .prebuilt/contenders
# (never committed; small enough to carry to a GPU machine, which has no network):
#   vllm-0.33.0/{gumbel,logprob}.py   vLLM's model-runner-V2 sampling kernels, from the released wheel
#                                     (vllm/v1/worker/gpu/sample/), with the wheel's LICENSE (44 KB)
# FlashInfer is not fetched: its wheel unpacks to 715 MB (451 MB of CUDA sources and headers for
# its JIT build, which also needs apache-tvm-ffi), far over what travels to the GPU machine, and a
# trimmed copy cannot be checked without a GPU; bench_cuda.py times it where it is installed.
# Usage: bash bench/fetch_contenders.sh   (~10 s here: a 336 MB download)
set -euo pipefail
cd "$(dirname "$0")/.."
VLLM_VERSION=${VLLM_VERSION:-0.33.0}
DEST=.prebuilt/contenders
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PY=${PYTHON:-python3}

"$PY" -m pip download -q --no-deps "vllm==$VLLM_VERSION" -d "$tmp/vllm" 2>&1 | grep -v "^WARNING: Location" || true
whl=$(ls "$tmp"/vllm/vllm-*.whl)
mkdir -p "$DEST/vllm-$VLLM_VERSION"
unzip -q -o -j "$whl" vllm/v1/worker/gpu/sample/gumbel.py vllm/v1/worker/gpu/sample/logprob.py \
  -d "$DEST/vllm-$VLLM_VERSION"
unzip -q -o -j "$whl" "vllm-$VLLM_VERSION.dist-info/licenses/LICENSE" -d "$DEST/vllm-$VLLM_VERSION" 2>/dev/null || true

du -sh "$DEST"/* | sed 's/^/  /'
echo "contenders in $DEST (carry this folder to the GPU machine)"
