#!/usr/bin/env bash
# Re-measures docs/RESULTS.md's inference tables: `ead-ext eval` on both embedded tasks at eval seeds
# 0, 1, 2 (the same held-out prompts, every draw changed by the seed), stores each run's results
# (config, provenance: command, commit, versions; per-method summaries and per-prompt metrics) under
# docs/results/, and re-renders the doc's generated blocks from them. Resumable: a stored run is kept.
# ~3 min a run on 2 cores (~18 min in all).   Usage: bash scripts/measure_inference.sh [seeds...]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("${@:-0 1 2}")
for task in arithmetic countdown; do
  for seed in ${seeds[@]}; do
    dest=docs/results/eval-$task-seed$seed.json
    if [ -s "$dest" ]; then echo "kept $dest"; continue; fi
    out=out/eval-$task-seed$seed
    .venv/bin/ead-ext eval --task "$task" --seed "$seed" --out "$out" --no-plot
    # the stored copy: what the tables are made of (the examples and per-position curves stay in out/)
    .venv/bin/python - "$out/results.json" "$dest" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for m in r["methods"].values():
    m.pop("examples", None)
    m.pop("positions", None)
    m["per_prompt"] = [{k: round(v, 6) if isinstance(v, float) else v for k, v in p.items()} for p in m["per_prompt"]]
json.dump(r, open(sys.argv[2], "w"), separators=(",", ":"))
PY
    echo "stored $dest ($(du -h "$dest" | cut -f1))"
  done
done
.venv/bin/python -m ead_ext.apps.results render docs/RESULTS.md
