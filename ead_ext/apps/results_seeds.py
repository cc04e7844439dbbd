"""One comparison over several eval seeds: ``ead-ext eval`` runs that differ only in ``--seed`` (every
draw changes with it; the held-out prompts stay), pooled.

* :func:`load_runs` reads the runs and refuses to pool runs whose specs differ in anything but the
  seed (model, task, prompts, N, k, schedule, methods, ...), naming the fields.
* :func:`seeds_tables`: per method, each metric averaged over seeds per prompt, then its mean and
  95 % bootstrap interval over prompts; the paired differences EAD minus each other method, pooled
  the same way, with each seed's own mean difference beside them.
* A **verdict** holds only where the pooled paired interval excludes 0 *and* every seed's mean
  difference has the same sign. With m comparisons per table (methods x metrics) about m / 20 pooled
  intervals exclude 0 by chance when nothing differs; the sign rule over 3 seeds cuts that further
  (if the seeds were independent, by 4), and the table says how many comparisons there were.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

from ead_ext import metrics as M
from .tables import cell, compact_columns, md_table, paired_columns, read_runs, spec_differences

__all__ = ["load_runs", "pooled_per_prompt", "seeds_tables", "seeds_verdicts", "SPEC_IGNORED"]

#: config fields that may differ between the runs of one comparison (the seed, and timings)
SPEC_IGNORED = ("seed", "engine_seconds", "sampling_seconds", "total_seconds")


def _spec(results: dict) -> dict:
    cfg = {k: v for k, v in results["config"].items() if k not in SPEC_IGNORED}
    cfg["methods"] = {n: {"temperature": r.get("temperature"), "ead": r.get("ead")}
                      for n, r in results["methods"].items()}
    return cfg


def load_runs(paths: Sequence[Path]) -> List[dict]:
    """The results of ``paths`` (``results.json`` files, or directories holding one), sorted by seed.
    ValueError where two runs differ in more than the seed, or share a seed."""
    runs = read_runs(paths, "results.json")
    if not runs:
        raise ValueError("no runs given")
    runs.sort(key=lambda r: r["config"]["seed"])
    base = _spec(runs[0])
    for r in runs[1:]:
        diff = spec_differences(base, _spec(r))
        if diff:
            raise ValueError(f"runs seed {runs[0]['config']['seed']} and seed {r['config']['seed']} differ in "
                             f"{diff}: only the seed may differ between the runs of one comparison")
    seeds = [r["config"]["seed"] for r in runs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"two runs share a seed: {seeds}")
    return runs


def pooled_per_prompt(runs: List[dict], method: str, col: str) -> List[float]:
    """Per prompt, ``col`` of ``method`` averaged over the runs (seeds)."""
    per = [[p[col] for p in r["methods"][method]["per_prompt"]] for r in runs]
    return [sum(v) / len(v) for v in zip(*per)]


def _seed_mean_diffs(runs, ref, other, col) -> List[float]:
    out = []
    for r in runs:
        a = [p[col] for p in r["methods"][ref]["per_prompt"]]
        b = [p[col] for p in r["methods"][other]["per_prompt"]]
        out.append(sum(x - y for x, y in zip(a, b)) / len(a))
    return out


def _pooled_diff(runs, ref, other, col, seed=0) -> M.Estimate:
    a, b = pooled_per_prompt(runs, ref, col), pooled_per_prompt(runs, other, col)
    return M.aggregate([x - y for x, y in zip(a, b)], seed=seed)


def _holds(est: M.Estimate, per_seed: List[float]) -> bool:
    excludes = est.lo > 0 or est.hi < 0
    same_sign = all(d > 0 for d in per_seed) or all(d < 0 for d in per_seed)
    return excludes and same_sign and (est.mean > 0) == (per_seed[0] > 0)


def seeds_tables(runs: List[dict], reference: str = "EAD") -> str:
    """The per-method table and the paired differences, pooled over the runs' seeds (Markdown)."""
    cols = compact_columns(runs[0])
    methods = list(runs[0]["methods"])
    seeds = [r["config"]["seed"] for r in runs]
    rows = [[m] + [cell(M.aggregate(pooled_per_prompt(runs, m, c))) for c in cols] for m in methods]
    out = [md_table(["method"] + cols, rows)]
    if reference in methods:
        pcols = paired_columns(cols)
        prow = []
        for m in methods:
            if m == reference:
                continue
            cells = []
            for c in pcols:
                est = _pooled_diff(runs, reference, m, c)
                per_seed = _seed_mean_diffs(runs, reference, m, c)
                mark = " holds" if _holds(est, per_seed) else ""
                cells.append(f"{est.mean:+.3f} [{est.lo:+.3f}, {est.hi:+.3f}]{mark} ("
                             + " / ".join(f"{d:+.2f}" for d in per_seed) + ")")
            prow.append([f"{reference} - {m}"] + cells)
        n_cmp = len(prow) * len(pcols)
        out.append(md_table(["paired difference"] + pcols, prow))
        out.append(f"Pooled over eval seeds {', '.join(map(str, seeds))} x {runs[0]['config']['prompts']} prompts "
                   f"(per prompt the mean over seeds, then a 95 % bootstrap interval over prompts); in brackets "
                   f"after it each seed's mean difference. `holds`: the pooled interval excludes 0 and every seed "
                   f"agrees in sign. {n_cmp} comparisons in this table: about {n_cmp / 20:.1f} pooled intervals "
                   f"exclude 0 by chance when nothing differs.")
    return "\n\n".join(out)


def seeds_verdicts(runs: List[dict], reference: str = "EAD") -> List[str]:
    """One line per paired metric: EAD against the best other method, and whether the difference holds."""
    cols = paired_columns(compact_columns(runs[0]))
    others = [m for m in runs[0]["methods"] if m != reference]
    lines = []
    for c in cols:
        best = max(others, key=lambda m: sum(pooled_per_prompt(runs, m, c)))
        est = _pooled_diff(runs, reference, best, c)
        per_seed = _seed_mean_diffs(runs, reference, best, c)
        verdict = ("holds: EAD " + ("ahead" if est.mean > 0 else "behind")) if _holds(est, per_seed) else "not separated"
        lines.append(f"{c}: EAD - {best} (best fixed) {est.mean:+.3f} [{est.lo:+.3f}, {est.hi:+.3f}], per seed "
                     + " / ".join(f"{d:+.3f}" for d in per_seed) + f": {verdict}")
    return lines


def per_seed_summary(runs: List[dict], col: str) -> Dict[str, List[float]]:
    """Each method's ``col`` mean per seed (the run-to-run spread)."""
    return {m: [r["methods"][m]["summary"][col]["mean"] for r in runs] for m in runs[0]["methods"]}
