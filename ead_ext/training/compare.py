"""`ead-ext train --compare`: the same training once per method, and a held-out table over steps.

Every method gets the same seed (data order, initial model, rollout seeds), data, steps, prompts
per step, rollouts per prompt and held-out evaluation (same prompts, same N, same temperature);
only the rollout sampling (and, for EAD, the loss's importance weight) differs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

from .run import RunSpec, TrainingFailed

__all__ = ["compare", "format_table", "TABLE_METRICS"]

TABLE_METRICS = ("pass@1", "pass@16", "worst@16", "maj@16")


def _chosen_steps(summaries: List[dict]) -> List[int]:
    """Steps every run evaluated: the first (before training), the middle one and the last."""
    common = None
    for s in summaries:
        steps = {h["step"] for h in s["heldout"]}
        common = steps if common is None else common & steps
    ordered = sorted(common or [])
    if len(ordered) <= 3:
        return ordered
    return [ordered[0], ordered[len(ordered) // 2], ordered[-1]]


def format_table(summaries: List[dict]) -> str:
    """Markdown: one row per (method, step), "mean [lo, hi]" per held-out metric."""
    from ..results import cell, md_table

    steps = _chosen_steps(summaries)
    metrics = [m for m in TABLE_METRICS
               if all(m in h["summary"] for s in summaries for h in s["heldout"] if h["step"] in steps)]
    rows = [[s["method"], str(h["step"])] + [cell(h["summary"][m]) for m in metrics]
            for s in summaries for h in s["heldout"] if h["step"] in steps]
    return md_table(["method", "step"] + metrics, rows)


def compare(specs: List[RunSpec], out: Path, verbose: bool = False, plot: bool = True) -> List[dict]:
    from .cli import run_one

    out.mkdir(parents=True, exist_ok=True)
    summaries, failed = [], []
    for spec in specs:
        try:
            summaries.append(run_one(spec, verbose=verbose, plot=plot))
        except TrainingFailed as e:  # keep comparing the others; report at the end
            print(f"   {spec.method.name} failed: {e}", flush=True)
            failed.append(spec.method.name)
    if not summaries:
        raise TrainingFailed("every run failed")
    table = format_table(summaries)
    cfg = summaries[0]["spec"]
    head = (f"task {cfg['task']}; held-out: {cfg['heldout_prompts']} prompts x N = {cfg['heldout_n']} at tau = {cfg['heldout_temperature']}; "
            f"{cfg['steps']} steps x {cfg['prompts_per_step']} prompts x n = {cfg['rollout_n']}, loss {cfg['loss']}, "
            f"verl {cfg['trainer']} trainer, seed {cfg['seed']}; 95 % bootstrap intervals over prompts")
    print(f"\n{head}\n\n{table}\n", flush=True)
    times = ", ".join(f"{s['method']} {s['seconds']:.0f} s" for s in summaries)
    print(f"wall time: {times}", flush=True)
    (out / "table.md").write_text(f"{head}\n\n{table}\n")
    (out / "compare.json").write_text(json.dumps({"runs": summaries, "failed": failed}, indent=1) + "\n")
    if plot:
        from .plots import plot_compare

        print(f"wrote {out / 'table.md'}, {out / 'compare.json'}, {plot_compare(summaries, out, out / 'compare.png')}")
    if failed:
        raise TrainingFailed(f"runs failed: {failed}")
    return summaries
