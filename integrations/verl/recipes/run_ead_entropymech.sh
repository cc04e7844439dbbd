#!/usr/bin/env bash
# EAD-EntropyMech on MATH: bash run_ead_entropymech.sh <clip_cov|kl_cov> [Hydra overrides...]
set -euo pipefail
VARIANT="${1:?usage: run_ead_entropymech.sh <clip_cov|kl_cov> [overrides...]}"
shift
case "$VARIANT" in
  clip_cov|kl_cov) ;;
  *) echo "unknown EntropyMech variant '$VARIANT' (clip_cov or kl_cov)" >&2; exit 2 ;;
esac
exec bash "$(dirname "${BASH_SOURCE[0]}")/run_ead.sh" "ead_$VARIANT" "$@"
