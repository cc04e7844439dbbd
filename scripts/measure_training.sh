#!/usr/bin/env bash
# Re-measures docs/RESULTS.md's RL tables: `ead-ext train --compare` on one task over training seeds
# (each seed: its own data order, initial shuffle, rollout seeds, held-out prompts and seeded held-out
# sampling; within a seed every method shares them), stores each run's record (spec, provenance,
# per-step training numbers, per-prompt held-out metrics) under
# docs/results/train-<task>-<method>-seed<k>.json and re-renders the doc's generated blocks from them.
# Resumable: finished runs are kept (by --compare itself, and a stored record is not overwritten).
# The runs share one Ray cluster. ~3.7 min a countdown run, ~5 min an arithmetic run on 2 cores.
# Usage: [TASK=countdown] [SEEDS="0 1 2"] bash scripts/measure_training.sh [methods...]
#   (default methods: ead tau=0.6 tau=1.0). What RESULTS.md holds:
#   bash scripts/measure_training.sh                                        # countdown, 3 seeds
#   SEEDS=0 bash scripts/measure_training.sh ead-notis tau=1.2              # countdown, one seed
#   TASK=arithmetic SEEDS=0 bash scripts/measure_training.sh ead ead-notis tau=0.6 tau=1.0 tau=1.2
set -euo pipefail
cd "$(dirname "$0")/.."
task=${TASK:-countdown}
seeds=(${SEEDS:-0 1 2})
methods=("${@:-ead tau=0.6 tau=1.0}")
out=out/train/compare-$task-seeds
.venv/bin/ead-ext train --compare --task "$task" --methods ${methods[@]} --seeds "${seeds[@]}" \
  --out out/train --name "compare-$task-seeds" --no-plot
for run in "$out"/*/; do
  name=$(basename "$run")
  dest=docs/results/train-$task-$name.json
  if [ -s "$dest" ]; then echo "kept $dest"; continue; fi
  [ -s "$run/record.json" ] || { echo "no record in $run (failed run?)"; continue; }
  cp "$run/record.json" "$dest"
  echo "stored $dest ($(du -h "$dest" | cut -f1))"
done
.venv/bin/python -m ead_ext.apps.results render docs/RESULTS.md
