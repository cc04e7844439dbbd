#!/usr/bin/env bash
# The Python code of a released vLLM GPU wheel, unpacked into the ignored .prebuilt/vllm-<version>/,
# for running its V2 sampler on CPU tensors (scripts/test_vllm_034.sh). The wheel itself cannot be
# installed here (it pins torch 2.14 and ships CUDA extensions); its unmodified .py files import over
# the venv's dependencies (torch 2.13, transformers 5.19, ...). One stand-in is added, and only that:
# a metadata folder naming the copy "vllm <version>+cpu", so that vLLM's platform detection
# (vllm_version_matches_substr("cpu")) picks its CPU platform, as a CPU build of that release would.
# No vllm._C: its compiled CPU kernels (attention, ...) are absent, so no engine runs from this copy.
# Usage: bash scripts/fetch_vllm_code.sh [version]   (default 0.34.0; ~30 s, a 239 MB download)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:-0.34.0}
DEST=.prebuilt/vllm-$VERSION
PY=${PYTHON:-python3}
if [ -f "$DEST/.complete" ]; then
  echo "fetch_vllm_code.sh: $DEST is there"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps "vllm==$VERSION" -d "$tmp" 2>&1 | grep -v "^WARNING: Location" || true
whl=$(ls "$tmp"/vllm-"$VERSION"-*.whl)
rm -rf "$DEST"
mkdir -p "$DEST"
unzip -q -o "$whl" 'vllm/*.py' "vllm-$VERSION.dist-info/licenses/LICENSE" -d "$DEST" 2>/dev/null \
  || unzip -q -o "$whl" 'vllm/*.py' -d "$DEST"
meta="$DEST/vllm-$VERSION+cpu.dist-info"
mkdir -p "$meta"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: ead-ext stand-in metadata for the unpacked Python code of the vllm %s wheel\n' \
  "$VERSION" "$VERSION" > "$meta/METADATA"
# the wheel's own dist-info would claim the GPU build; keep only its licence
if [ -d "$DEST/vllm-$VERSION.dist-info" ]; then mv "$DEST/vllm-$VERSION.dist-info/licenses/LICENSE" "$DEST/LICENSE"; rm -rf "$DEST/vllm-$VERSION.dist-info"; fi
touch "$DEST/.complete"
echo "fetch_vllm_code.sh: vLLM $VERSION's Python code in $DEST ($(du -sh "$DEST" | cut -f1))"
