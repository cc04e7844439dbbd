"""A training run's stored result: what ``docs/RESULTS.md``'s RL tables are made of.

``ead-ext train`` writes ``record.json`` beside each run's logs: the full run spec, where it came from
(command, commit, versions: :mod:`ead_ext.apps.provenance`), its wall-clock, a few per-step training
numbers (reward, TIS weights, policy entropy, the schedule's decay and mean tau) and, per held-out
evaluation, every prompt's metrics (Pass@k, Worst@k, Majority@N), so that tables pooled over
training seeds and paired over prompts can be re-computed from the file alone. Compact JSON, ~40 kB.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence

from .heldout import per_prompt_metrics

__all__ = ["STEP_KEYS", "make_record", "per_prompt", "write_record"]

#: per-step training numbers kept (verl's metric names -> short names)
STEP_KEYS = {"critic/score/mean": "reward", "actor/ead/tis_weight_mean": "tis_mean",
             "actor/ead/tis_weight_max": "tis_max", "actor/ead/tis_truncated_frac": "tis_truncated",
             "actor/entropy": "entropy", "ead/temperature/decay": "decay", "ead/temperature/mean": "tau_mean",
             "timing_s/step": "seconds"}


def _round(v):
    return round(float(v), 6) if isinstance(v, float) else v


def _heldout(run_dir: Path, spec: dict, ks: Sequence[int], majority: Sequence[int]) -> List[dict]:
    out = []
    files = sorted((p for p in (run_dir / "heldout").glob("*.jsonl") if p.stem.isdigit()), key=lambda p: int(p.stem))
    for f in files:
        n, per = per_prompt_metrics(f, ks, majority, spec["seed"], spec["task"])
        cols = sorted(next(iter(per.values())))
        out.append({"step": int(f.stem), "n": n, "prompts": list(per), "columns": cols,
                    "values": [[_round(pm[c]) for c in cols] for pm in per.values()]})
    return out


def make_record(run_dir: Path, summary: dict, steps: List[dict], provenance: dict,
                ks: Sequence[int], majority: Sequence[int]) -> dict:
    spec = summary["spec"]
    return {"spec": spec, "method": summary["method"], "provenance": provenance,
            "seconds": summary["seconds"], "step_seconds_median": summary["step_seconds_median"],
            "steps": [{"step": r["step"], **{short: _round(r[k]) for k, short in STEP_KEYS.items() if k in r}}
                      for r in steps],
            "heldout": _heldout(run_dir, spec, ks, majority)}


def per_prompt(heldout_entry: dict) -> Dict[str, Dict[str, float]]:
    """``{prompt: {metric: value}}`` of one stored held-out evaluation."""
    cols = heldout_entry["columns"]
    return {p: dict(zip(cols, v)) for p, v in zip(heldout_entry["prompts"], heldout_entry["values"])}


def write_record(path: Path, record: dict) -> Path:
    path.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    return path
