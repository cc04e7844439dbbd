#!/usr/bin/env bash
# Re-measures docs/RESULTS.md's RL tables on countdown: `ead-ext train --compare` with EAD, tau = 0.6
# and tau = 1.0 over training seeds 0, 1, 2 (each seed: its own data order, initial shuffle, rollout
# seeds, held-out prompts and seeded held-out sampling; within a seed every method shares them),
# stores each run's record (spec, provenance, per-step training numbers, per-prompt held-out
# metrics) under docs/results/train-countdown-<method>-seed<k>.json and re-renders the doc's
# generated blocks from them. Resumable: finished runs are kept (by --compare itself, and a stored
# record is not overwritten). ~8 min a run on 2 cores (9 runs: ~75 min).
# Usage: bash scripts/measure_training.sh [methods...]   (default: ead tau=0.6 tau=1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
methods=("${@:-ead tau=0.6 tau=1.0}")
out=out/train/compare-countdown-seeds
.venv/bin/ead-ext train --compare --task countdown --methods ${methods[@]} --seeds 0 1 2 \
  --out out/train --name compare-countdown-seeds --no-plot
for run in "$out"/*/; do
  name=$(basename "$run")
  dest=docs/results/train-countdown-$name.json
  if [ -s "$dest" ]; then echo "kept $dest"; continue; fi
  cp "$run/record.json" "$dest"
  echo "stored $dest ($(du -h "$dest" | cut -f1))"
done
.venv/bin/python -m ead_ext.results render docs/RESULTS.md
