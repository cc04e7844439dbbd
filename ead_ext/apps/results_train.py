"""RL comparisons over training seeds: the stored run records of ``ead-ext train --compare``
(``record.json``, :mod:`ead_ext.apps.training.record`; copies in ``docs/results/train-*.json``), pooled.

* :func:`load_records` refuses to pool runs whose specs differ in anything but the method, the
  seed and where they were written (task, model, steps, batch, loss, lr, cap, schedule, held-out
  setting, trainer, overrides, ...), naming the fields; one record per (method, seed).
* Every estimate is over training seeds x held-out prompts, each seed weighing the same, with a
  two-level bootstrap interval (seeds, then prompts: :func:`ead_ext.metrics.aggregate_runs`), so
  it covers run-to-run variance; each seed's own mean is printed beside it (the spread).
* Paired differences (EAD minus another method at the last step, a method's change from its first
  to its last evaluation) are taken per prompt within each seed (the same held-out prompts and
  validation random numbers), then pooled the same way. A **verdict** holds only where the pooled
  interval excludes 0 *and* every seed's mean difference has the same sign; a pair with fewer
  than three common seeds gets no verdict.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ead_ext import metrics as M
from .tables import md_table, read_runs, spec_differences
from .training.record import per_prompt

__all__ = ["load_records", "train_seeds_tables", "train_seeds_verdicts", "SPEC_IGNORED", "MIN_SEEDS"]

#: run spec fields that may differ between the runs of one comparison
SPEC_IGNORED = ("out", "method", "seed", "timeout_s")
#: the fewest common training seeds a verdict needs
MIN_SEEDS = 3
METRICS = ("pass@1", "pass@16", "worst@16", "maj@16")


def _spec(record: dict) -> dict:
    return {k: v for k, v in record["spec"].items() if k not in SPEC_IGNORED}


def load_records(paths: Sequence[Path]) -> List[dict]:
    """The records of ``paths`` (``record.json`` files, or run directories holding one), by method
    and seed. ValueError where two differ in more than method and seed, or repeat a (method, seed)."""
    records = read_runs(paths, "record.json")
    if not records:
        raise ValueError("no training records given")
    base = _spec(records[0])
    for r in records[1:]:
        diff = spec_differences(base, _spec(r))
        if diff:
            raise ValueError(f"runs {records[0]['spec']['out']} and {r['spec']['out']} differ in {diff}: only the "
                             "method and the seed may differ between the runs of one comparison")
    keys = [(r["method"], r["spec"]["seed"]) for r in records]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a (method, seed) appears twice: {sorted(keys)}")
    return sorted(records, key=lambda r: (r["method"], r["spec"]["seed"]))


def _by_method(records: List[dict]) -> Dict[str, Dict[int, dict]]:
    out: Dict[str, Dict[int, dict]] = {}
    for r in records:
        out.setdefault(r["method"], {})[r["spec"]["seed"]] = r
    return out


def _at(record: dict, step: int) -> Dict[str, Dict[str, float]]:
    for h in record["heldout"]:
        if h["step"] == step:
            return per_prompt(h)
    raise ValueError(f"{record['spec']['out']}: no held-out evaluation at step {step}")


def _steps(records: List[dict]) -> List[int]:
    common = set.intersection(*({h["step"] for h in r["heldout"]} for r in records))
    ordered = sorted(common)
    return ordered if len(ordered) <= 3 else [ordered[0], ordered[len(ordered) // 2], ordered[-1]]


def _diffs(a: dict, b: dict, col: str) -> List[float]:
    prompts = [p for p in a if p in b]
    if not prompts:
        raise ValueError("no common held-out prompts to pair")
    return [a[p][col] - b[p][col] for p in prompts]


def _pooled(groups: List[List[float]]) -> Tuple[M.Estimate, List[float]]:
    return M.aggregate_runs(groups), [sum(g) / len(g) for g in groups]


def _holds(est: M.Estimate, per_seed: List[float]) -> bool:
    if len(per_seed) < MIN_SEEDS:
        return False
    excludes = est.lo > 0 or est.hi < 0
    same_sign = all(d > 0 for d in per_seed) or all(d < 0 for d in per_seed)
    return excludes and same_sign


def _cell(est: M.Estimate, per_seed: List[float], signed: bool) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    spread = " / ".join(("{:+.2f}" if signed else "{:.2f}").format(d) for d in per_seed)
    mark = " holds" if signed and _holds(est, per_seed) else ""
    return f"{f.format(est.mean)} [{f.format(est.lo)}, {f.format(est.hi)}]{mark} ({spread})"


def _columns(records: List[dict]) -> List[str]:
    return [c for c in METRICS if all(c in h["columns"] for r in records for h in r["heldout"])]


def _paired(by: dict, ref: str, other: str, step_a: int, step_b: int, col: str):
    """Per seed, the per-prompt differences ``ref@step_a - other@step_b``."""
    seeds = sorted(set(by[ref]) & set(by[other]))
    groups = [_diffs(_at(by[ref][s], step_a), _at(by[other][s], step_b), col) for s in seeds]
    return seeds, groups


def train_seeds_tables(records: List[dict], reference: str = "ead") -> str:
    """Held-out table per method and step, paired differences at the last step, change over training,
    the training-side numbers (Markdown)."""
    by = _by_method(records)
    steps, cols = _steps(records), _columns(records)
    first, last = steps[0], steps[-1]
    rows = []
    for m, runs in by.items():
        for st in steps:
            cells = []
            for c in cols:
                groups = [[pm[c] for pm in _at(runs[s], st).values()] for s in sorted(runs)]
                cells.append(_cell(*_pooled(groups), signed=False))
            rows.append([m, ", ".join(map(str, sorted(runs))), str(st)] + cells)
    out = [md_table(["method", "seeds", "step"] + cols, rows)]
    n_cmp = 0
    if reference in by:
        prow = []
        for m in by:
            if m == reference:
                continue
            cells = []
            for c in cols:
                _, groups = _paired(by, reference, m, last, last, c)
                cells.append(_cell(*_pooled(groups), signed=True))
            prow.append([f"{reference} - {m}"] + cells)
        n_cmp += len(prow) * len(cols)
        out.append(f"Paired differences at step {last} (per prompt within each seed):\n\n"
                   + md_table(["paired difference"] + cols, prow))
    crow = []
    for m in by:
        cells = []
        for c in cols:
            _, groups = _paired(by, m, m, last, first, c)
            cells.append(_cell(*_pooled(groups), signed=True))
        crow.append([m] + cells)
    n_cmp += len(crow) * len(cols)
    out.append(f"Change from step {first} to step {last} (per prompt within each seed):\n\n"
               + md_table(["method"] + cols, crow))
    trow = []
    for m, runs in by.items():
        def series(key):
            return [v for s in sorted(runs) for r in runs[s]["steps"] if (v := r.get(key)) is not None]
        reward, tis, tmax, trunc = series("reward"), series("tis_mean"), series("tis_max"), series("tis_truncated")
        minutes = [runs[s]["seconds"] / 60 for s in sorted(runs)]
        trow.append([m, f"{sum(reward) / len(reward):.3f}" if reward else "-",
                     f"{min(tis):.3f}-{max(tis):.3f}" if tis else "-", f"{max(tmax):.3f}" if tmax else "-",
                     f"{max(trunc):.4f}" if trunc else "-", " / ".join(f"{x:.1f}" for x in minutes)])
    out.append("Training side (every step of every seed): mean training reward, per-step TIS weight mean "
               "(range), largest weight, largest truncated fraction; minutes per run:\n\n"
               + md_table(["method", "reward", "TIS mean", "TIS max", "truncated", "minutes"], trow))
    seeds = sorted({r["spec"]["seed"] for r in records})
    out.append(f"Training seeds {', '.join(map(str, seeds))}; per cell the mean over seeds x held-out prompts (each "
               "seed weighing the same), a 95 % two-level bootstrap interval (seeds, then prompts) and, in "
               f"brackets, each seed's mean. `holds`: the interval excludes 0 and all of at least {MIN_SEEDS} "
               f"seeds agree in sign. {n_cmp} paired comparisons here: about {n_cmp / 20:.1f} intervals "
               "exclude 0 by chance when nothing differs.")
    return "\n\n".join(out)


def train_seeds_verdicts(records: List[dict], reference: str = "ead") -> List[str]:
    """Per metric: EAD against the best other method at the last step (among those with as many
    seeds), and each method's change over training, with whether it holds."""
    by = _by_method(records)
    steps, cols = _steps(records), _columns(records)
    first, last = steps[0], steps[-1]
    lines = []
    if reference in by:
        others = [m for m in by if m != reference and len(set(by[m]) & set(by[reference])) >= MIN_SEEDS]
        for c in cols:
            if not others:
                break
            best = max(others, key=lambda m: M.aggregate_runs(
                [[pm[c] for pm in _at(by[m][s], last).values()] for s in sorted(by[m])]).mean)
            est, per_seed = _pooled(_paired(by, reference, best, last, last, c)[1])
            verdict = ("holds: EAD " + ("ahead" if est.mean > 0 else "behind")) if _holds(est, per_seed) \
                else "not separated"
            lines.append(f"{c} at step {last}: {reference} - {best} (best other) {est.mean:+.3f} "
                         f"[{est.lo:+.3f}, {est.hi:+.3f}], per seed " + " / ".join(f"{d:+.3f}" for d in per_seed)
                         + f": {verdict}")
    for m in by:
        if len(by[m]) < MIN_SEEDS:
            lines.append(f"{m}: {len(by[m])} seed(s): no verdict")
            continue
        held = []
        for c in cols:
            est, per_seed = _pooled(_paired(by, m, m, last, first, c)[1])
            if _holds(est, per_seed):
                held.append(f"{c} {'+' if est.mean > 0 else ''}{est.mean:.3f}")
        lines.append(f"{m}, step {first} to {last}: " + (("changes that hold: " + ", ".join(held)) if held
                                                          else "no change holds"))
    return lines
