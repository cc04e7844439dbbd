"""The tables of ``docs/RESULTS.md``, from the files ``ead-ext eval`` and ``ead-ext train --compare`` write.

``python -m ead_ext.results eval out/eval-countdown`` prints, for one ``results.json``, a compact table
(the metrics that differ for 0/1 rewards: Best@k equals Pass@k and Worst@1 / Majority@1 equal Pass@1)
and the **paired** differences EAD minus each other method: per held-out prompt, then the mean with a
95 % bootstrap interval over prompts (the same prompts for every method, so the prompt-to-prompt
spread cancels and the interval is narrower than the per-method ones).

``python -m ead_ext.results train out/train/compare-countdown [more compare dirs]`` prints the
comparison's table (the one ``--compare`` printed) and, from verl's per-step held-out dumps, the paired differences at the last
evaluated step (EAD minus each other method) and each method's change from step 0 to that step.

An interval that excludes 0 is marked ``*``; with several comparisons per table, about one in twenty
such marks is expected by chance when nothing differs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Sequence

from . import metrics as M

__all__ = ["paired", "eval_tables", "train_tables", "plot_train", "main"]

EVAL_METRICS = ("pass@1", "pass@4", "pass@16", "worst@4", "maj@32", "malformed")
EVAL_PAIRED = ("pass@1", "pass@16", "worst@4", "maj@32")
TRAIN_PAIRED = ("pass@1", "pass@16", "worst@16")


def paired(a: Sequence[float], b: Sequence[float], seed: int = 0) -> M.Estimate:
    """Mean of ``a_i - b_i`` over prompts with its 95 % bootstrap interval."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same prompts ({len(a)} vs {len(b)})")
    return M.aggregate([x - y for x, y in zip(a, b)], seed=seed)


def _cell(e: M.Estimate, signed: bool = False) -> str:
    """``str(e)`` ("mean [lo, hi]"); ``signed``: with signs, marked ``*`` when the interval excludes 0."""
    if not signed:
        return str(e)
    mark = " *" if e.lo > 0 or e.hi < 0 else ""
    return f"{e.mean:+.3f} [{e.lo:+.3f}, {e.hi:+.3f}]{mark}"


def _table(head: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def eval_tables(results: dict, reference: str = "EAD", seed: int = 0) -> str:
    """The compact per-method table and the paired differences of ``reference`` against the others."""
    methods = results["methods"]
    cols = [c for c in EVAL_METRICS if all(c in r["summary"] for r in methods.values())]
    rows = [[name] + [_cell(M.Estimate(**r["summary"][c])) for c in cols] for name, r in methods.items()]
    out = [_table(["method"] + cols, rows)]
    if reference in methods:
        pcols = [c for c in EVAL_PAIRED if c in cols]
        ref = methods[reference]["per_prompt"]
        prow = []
        for name, r in methods.items():
            if name == reference:
                continue
            prow.append([f"{reference} - {name}"] + [_cell(paired([p[c] for p in ref], [p[c] for p in r["per_prompt"]],
                                                                seed), signed=True) for c in pcols])
        out.append(_table(["paired difference"] + pcols, prow))
    return "\n\n".join(out)


def _runs(compare_dirs: Sequence[Path]) -> tuple:
    """The runs of one or more ``--compare`` directories and each run's directory, by method name; a
    method met again in a later directory is named ``<method> (<directory name>)``."""
    runs, dirs = [], {}
    for d in compare_dirs:
        for s in json.loads((d / "compare.json").read_text())["runs"]:
            name = s["method"] if s["method"] not in dirs else f"{s['method']} ({d.name})"
            dirs[name] = d / Path(s["spec"]["out"]).name
            runs.append(dict(s, method=name))
    return runs, dirs


def plot_train(compare_dirs: Sequence[Path], path: Path) -> Path:
    """The ``--compare`` curves (``compare.png``) of the runs of one or more directories."""
    from .training.plots import plot_compare

    runs, dirs = _runs([Path(d) for d in compare_dirs])
    return plot_compare(runs, Path(compare_dirs[0]), Path(path), run_dirs=dirs)


def train_tables(compare_dirs: Sequence[Path], reference: str = "ead", ks=(1, 4, 16), majority=(4, 16)) -> str:
    """The ``--compare`` table, the paired differences at the last common step, and each method's change.

    Several directories are read as one comparison (for runs of the same setting made apart: the
    same task, seed, data and held-out prompts)."""
    from .training.compare import format_table
    from .training.heldout import per_prompt_metrics

    runs, dirs = _runs([Path(d) for d in compare_dirs])
    specs = [s["spec"] for s in runs]
    seed, task = specs[0]["seed"], specs[0].get("task", "arithmetic")
    if any((sp["seed"], sp.get("task", "arithmetic")) != (seed, task) for sp in specs):
        raise ValueError("the runs differ in seed or task: they cannot be paired")
    steps = set.intersection(*({h["step"] for h in s["heldout"]} for s in runs))
    first, last = min(steps), max(steps)

    def load(method: str, step: int) -> Dict[str, Dict[str, float]]:
        return per_prompt_metrics(dirs[method] / "heldout" / f"{step}.jsonl", ks, majority, seed, task)[1]

    at_last = {m: load(m, last) for m in dirs}
    cols = [c for c in TRAIN_PAIRED if all(c in pm for run in at_last.values() for pm in run.values())]
    out = [format_table(runs)]
    prompts = list(at_last[reference]) if reference in at_last else []
    if prompts:
        rows = []
        for m, pm in at_last.items():
            if m == reference:
                continue
            rows.append([f"{reference} - {m}"] + [
                _cell(paired([at_last[reference][p][c] for p in prompts], [pm[p][c] for p in prompts], seed), True)
                for c in cols])
        out.append(f"paired differences at step {last}:\n\n" + _table(["paired difference"] + cols, rows))
    rows = []
    for m in dirs:
        start = load(m, first)
        ps = [p for p in at_last[m] if p in start]
        rows.append([m] + [_cell(paired([at_last[m][p][c] for p in ps], [start[p][c] for p in ps], seed), True)
                           for c in cols])
    out.append(f"change from step {first} to step {last} (paired over prompts):\n\n"
               + _table(["method"] + cols, rows))
    return "\n\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ead_ext.results", description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["eval", "train"])
    ap.add_argument("dirs", nargs="+", help="ead-ext eval --out directories (one table each), or ead-ext train "
                                            "--compare directories (read as one comparison)")
    ap.add_argument("--plot", default=None, metavar="PNG", help="train: also draw the runs' curves into this file")
    args = ap.parse_args(argv)
    if args.kind == "train":
        print(train_tables([Path(d) for d in args.dirs]))
        if args.plot:
            print(f"\nwrote {plot_train([Path(d) for d in args.dirs], Path(args.plot))}")
        return 0
    for d in map(Path, args.dirs):
        print(f"## {d}\n\n" + eval_tables(json.loads((d / "results.json").read_text())) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
