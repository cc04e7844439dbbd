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

__all__ = ["paired", "cell", "short_cell", "md_table", "text_table", "compact_columns", "compact_table", "verdicts", "eval_tables", "train_tables",
           "plot_train", "main"]

EVAL_METRICS = ("pass@1", "pass@4", "pass@16", "worst@4", "maj@32", "malformed")
TRAIN_PAIRED = ("pass@1", "pass@16", "worst@16")


def paired(a: Sequence[float], b: Sequence[float], seed: int = 0) -> M.Estimate:
    """Mean of ``a_i - b_i`` over prompts with its 95 % bootstrap interval."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same prompts ({len(a)} vs {len(b)})")
    return M.aggregate([x - y for x, y in zip(a, b)], seed=seed)


def _estimate(e) -> M.Estimate:
    """An Estimate, or one from its ``to_dict`` (of which only mean, lo and hi are needed)."""
    if isinstance(e, M.Estimate):
        return e
    return M.Estimate(**{"stderr": float("nan"), "n": 0, "level": 0.95, "method": "", **e})


def cell(e, signed: bool = False) -> str:
    """An :class:`~ead_ext.metrics.Estimate` (or its ``to_dict``) as a table cell: ``str(e)`` ("mean
    [lo, hi]"); ``signed``: with signs, marked ``*`` when the interval excludes 0."""
    e = _estimate(e)
    if not signed:
        return str(e)
    mark = " *" if e.lo > 0 or e.hi < 0 else ""
    return f"{e.mean:+.3f} [{e.lo:+.3f}, {e.hi:+.3f}]{mark}"


def md_table(head: List[str], rows: List[List[str]]) -> str:
    """A Markdown table (every table of ``ead-ext eval``, ``train --compare`` and RESULTS.md)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def short_cell(e) -> str:
    """A cell for the terminal: ``mean (lo-hi)`` with two decimals (``cell`` has three and brackets)."""
    e = _estimate(e)
    return f"{e.mean:.2f} ({e.lo:.2f}-{e.hi:.2f})"


def text_table(head: List[str], rows: List[List[str]]) -> str:
    """A plain table with aligned columns, for the terminal (the files keep the Markdown ones)."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def compact_columns(results: dict) -> List[str]:
    """The metrics that differ for 0/1 rewards (Best@k equals Pass@k, Worst@1 and Majority@1 equal
    Pass@1): Pass@k for every k, Worst@ the smallest k > 1, Majority@ the largest N > 1, malformed.
    Results without a config (hand-made) use :data:`EVAL_METRICS`."""
    cfg = results.get("config") or {}
    if "ks" in cfg and "majority" in cfg:
        cols = [f"pass@{k}" for k in cfg["ks"]] + [f"worst@{k}" for k in cfg["ks"] if k > 1][:1]
        cols += [f"maj@{m}" for m in cfg["majority"] if m > 1][-1:] + ["malformed"]
    else:
        cols = list(EVAL_METRICS)
    return [c for c in cols if all(c in r["summary"] for r in results["methods"].values())]


def paired_columns(cols: Sequence[str]) -> List[str]:
    """The columns of the paired differences: Pass@1, Pass@ the largest k, the Worst and Majority ones."""
    passes = [c for c in cols if c.startswith("pass@")]
    return [c for c in cols if c != "malformed" and (not c.startswith("pass@") or c in (passes[0], passes[-1]))]


def compact_table(results: dict, terminal: bool = False) -> str:
    """The per-method table of :func:`compact_columns`: Markdown, or (``terminal``) plain text with
    two-decimal cells, which fits 120 columns with the six metrics of a full ``ead-ext eval``."""
    cols = compact_columns(results)
    fmt, table = (short_cell, text_table) if terminal else (cell, md_table)
    rows = [[name] + [fmt(r["summary"][c]) for c in cols] for name, r in results["methods"].items()]
    return table(["method"] + cols, rows)


def verdicts(results: dict) -> List[str]:
    """One line per compact metric: which method leads (lowest for ``malformed``) and whether its
    interval overlaps the runner-up's (overlapping intervals: the data do not separate them)."""
    methods = results["methods"]
    if len(methods) < 2:
        return []
    lines = []
    for c in compact_columns(results):
        est = {name: _estimate(r["summary"][c]) for name, r in methods.items()}
        sign = 1.0 if c == "malformed" else -1.0
        ranked = sorted(est, key=lambda n: sign * est[n].mean)
        best = est[ranked[0]].mean
        leaders = [n for n in ranked if abs(est[n].mean - best) < 1e-12]
        if len(leaders) > 1:
            lines.append(f"{c}: tie, {', '.join(leaders)} at {best:.3f}")
            continue
        a, b = est[ranked[0]], est[ranked[1]]
        overlap = a.lo <= b.hi and b.lo <= a.hi
        word = "lowest" if c == "malformed" else "leads"
        lines.append(f"{c}: {ranked[0]} {word} {a}; runner-up {ranked[1]} {b}; "
                     + ("intervals overlap: not separated" if overlap else "intervals do not overlap"))
    return lines


def eval_tables(results: dict, reference: str = "EAD", seed: int = 0) -> str:
    """The compact per-method table and the paired differences of ``reference`` against the others."""
    methods = results["methods"]
    out = [compact_table(results)]
    if reference in methods:
        pcols = paired_columns(compact_columns(results))
        ref = methods[reference]["per_prompt"]
        prow = []
        for name, r in methods.items():
            if name == reference:
                continue
            prow.append([f"{reference} - {name}"] + [cell(paired([p[c] for p in ref], [p[c] for p in r["per_prompt"]],
                                                               seed), signed=True) for c in pcols])
        out.append(md_table(["paired difference"] + pcols, prow))
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
                cell(paired([at_last[reference][p][c] for p in prompts], [pm[p][c] for p in prompts], seed), True)
                for c in cols])
        out.append(f"paired differences at step {last}:\n\n" + md_table(["paired difference"] + cols, rows))
    rows = []
    for m in dirs:
        start = load(m, first)
        ps = [p for p in at_last[m] if p in start]
        rows.append([m] + [cell(paired([at_last[m][p][c] for p in ps], [start[p][c] for p in ps], seed), True)
                           for c in cols])
    out.append(f"change from step {first} to step {last} (paired over prompts):\n\n"
               + md_table(["method"] + cols, rows))
    return "\n\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ead_ext.results", description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["eval", "seeds", "train", "train-seeds", "render"],
                    help="eval: one table per run; seeds: the runs as one comparison pooled over their seeds; "
                         "train: --compare directories; train-seeds: training run records (record.json, "
                         "docs/results/train-*.json) pooled over training seeds; "
                         "render: rewrite a doc's generated blocks (RESULTS.md)")
    ap.add_argument("dirs", nargs="+", help="ead-ext eval --out directories or results.json files, ead-ext train "
                                            "--compare directories (read as one comparison), or the doc to render")
    ap.add_argument("--check", action="store_true", help="render: only compare; exit 1 where the doc differs")
    ap.add_argument("--plot", default=None, metavar="PNG", help="train: also draw the runs' curves into this file")
    args = ap.parse_args(argv)
    if args.kind == "seeds":
        from .results_seeds import load_runs, seeds_tables, seeds_verdicts

        runs = load_runs(args.dirs)
        print(seeds_tables(runs) + "\n\n" + "\n".join(seeds_verdicts(runs)))
        return 0
    if args.kind == "train-seeds":
        from .results_train import load_records, train_seeds_tables, train_seeds_verdicts

        records = load_records(args.dirs)
        print(train_seeds_tables(records) + "\n\n" + "\n".join(train_seeds_verdicts(records)))
        return 0
    if args.kind == "render":
        from .results_doc import render

        doc = Path(args.dirs[0])
        root = Path.cwd()
        new = render(doc.read_text(), root)
        if args.check:
            same = new == doc.read_text()
            print(f"{doc}: " + ("its generated blocks match the result files" if same else
                                "differs from its result files: run python -m ead_ext.results render " + str(doc)))
            return 0 if same else 1
        doc.write_text(new)
        print(f"rendered {doc} from the result files")
        return 0
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
