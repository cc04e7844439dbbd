"""`ead-ext train --compare`: the same training once per method, and a held-out table over steps.

Every method gets the same seed (data order, initial model, rollout seeds), data, steps, prompts
per step, rollouts per prompt and held-out evaluation (same prompts, same N, same temperature, the
same per-request validation seeds); only the rollout sampling (and, for EAD, the loss's importance
weight) differs. With several training seeds each method runs once per seed.

Resumable: a run whose directory already holds a ``summary.json`` and ``record.json`` made from the
same spec is kept, not trained again (an interrupted comparison re-run trains only what is missing;
a changed setting trains again).

One Ray cluster for all of it (:mod:`.ray_cluster`): where two or more runs are left to train, they
join one Ray head started here instead of each starting and stopping its own (``shared_ray=False``,
``--no-shared-ray``: each run its own, as a lone run does).
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
import time
from typing import List, Optional

from .run import RunSpec, TrainingFailed, run_env

__all__ = ["compare", "finished", "format_table", "TABLE_METRICS"]

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
    from ..tables import cell, md_table

    steps = _chosen_steps(summaries)
    metrics = [m for m in TABLE_METRICS
               if all(m in h["summary"] for s in summaries for h in s["heldout"] if h["step"] in steps)]
    several = len({s.get("spec", {}).get("seed") for s in summaries}) > 1
    rows = [[s["method"] + (f" (seed {s['spec']['seed']})" if several else ""), str(h["step"])]
            + [cell(h["summary"][m]) for m in metrics]
            for s in summaries for h in s["heldout"] if h["step"] in steps]
    return md_table(["method", "step"] + metrics, rows)


def finished(spec: RunSpec) -> Optional[dict]:
    """The summary of ``spec``'s run when it already finished with this very spec, else None."""
    summary_file, record_file = spec.out / "summary.json", spec.out / "record.json"
    if not (summary_file.exists() and record_file.exists()):
        return None
    try:
        summary = json.loads(summary_file.read_text())
    except json.JSONDecodeError:
        return None
    return summary if summary.get("spec") == json.loads(json.dumps(spec.to_json())) else None


def _cluster(specs: List[RunSpec]):
    """A shared Ray head sized as a lone run sizes its own (CPU mode: 16 logical CPUs, a logical GPU
    per rank; with accelerators Ray counts them)."""
    from ead_ext.integrations.verl import cpu_mode
    from .ray_cluster import SharedRay

    cpu = cpu_mode.wanted()
    return SharedRay(run_env(specs[0], ""), num_cpus=16 if cpu else None,
                     num_gpus=max(s.ranks for s in specs) if cpu else None)


def compare(specs: List[RunSpec], out: Path, verbose: bool = False, plot: bool = True,
            shared_ray: bool = True) -> List[dict]:
    from .train_one import run_one

    out.mkdir(parents=True, exist_ok=True)
    summaries, failed = [], []
    t0 = time.monotonic()
    kept = [finished(spec) for spec in specs]
    todo = [spec for spec, k in zip(specs, kept) if k is None]
    with _cluster(todo) if shared_ray and len(todo) > 1 else contextlib.nullcontext() as cluster:
        if cluster is not None:
            print(f"== one Ray cluster for the {len(todo)} runs to train: {cluster.address}", flush=True)
        for spec, done in zip(specs, kept):
            if done is not None:
                print(f"== {spec.out.name}: kept (finished earlier with the same spec, {done['seconds']:.0f} s)",
                      flush=True)
                summaries.append(done)
                continue
            try:
                summaries.append(run_one(spec, verbose=verbose, plot=plot, cluster=cluster))
            except TrainingFailed as e:  # keep comparing the others; report at the end
                print(f"   {spec.method.name} failed: {e}", flush=True)
                failed.append(spec.method.name)
    if not summaries:
        raise TrainingFailed("every run failed")
    table = format_table(summaries)
    cfg = summaries[0]["spec"]
    seeds = sorted({s["spec"]["seed"] for s in summaries})
    head = (f"task {cfg['task']}; held-out: {cfg['heldout_prompts']} prompts x N = {cfg['heldout_n']} at tau = {cfg['heldout_temperature']}; "
            f"{cfg['steps']} steps x {cfg['prompts_per_step']} prompts x n = {cfg['rollout_n']}, loss {cfg['loss']}, "
            f"verl {cfg['trainer']} trainer, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}; "
            "95 % bootstrap intervals over prompts, one row per run")
    print(f"\n{head}\n\n{table}\n", flush=True)
    times = ", ".join(f"{s['name']} {s['seconds']:.0f} s" for s in summaries)
    print(f"run times: {times}; this invocation {time.monotonic() - t0:.0f} s", flush=True)
    (out / "table.md").write_text(f"{head}\n\n{table}\n")
    (out / "compare.json").write_text(json.dumps({"runs": summaries, "failed": failed}, indent=1) + "\n")
    if plot:
        from .curves import plot_compare

        print(f"wrote {out / 'table.md'}, {out / 'compare.json'}, {plot_compare(summaries, out, out / 'compare.png')}")
    if failed:
        raise TrainingFailed(f"runs failed: {failed}")
    return summaries
