"""The tables of ``docs/RESULTS.md``, from the files ``ead-ext eval`` and ``ead-ext train --compare`` write.

``python -m ead_ext.apps.results eval out/eval-countdown`` prints, for one ``results.json``, a compact table
(the metrics that differ for 0/1 rewards: Best@k equals Pass@k and Worst@1 / Majority@1 equal Pass@1)
and the **paired** differences EAD minus each other method: per held-out prompt, then the mean with a
95 % bootstrap interval over prompts (the same prompts for every method, so the prompt-to-prompt
spread cancels and the interval is narrower than the per-method ones).

``python -m ead_ext.apps.results train out/train/compare-countdown [more compare dirs]`` prints the
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
from typing import Dict, Sequence

from .tables import (TRAIN_PAIRED, cell, compact_columns, compact_table, eval_tables, md_table, paired,  # noqa: F401
                     short_cell, text_table, verdicts)

# the table helpers live in ead_ext.apps.tables (which imports nothing of the reports); named here too
__all__ = ["paired", "cell", "short_cell", "md_table", "text_table", "compact_columns", "compact_table", "verdicts",
           "eval_tables", "train_tables", "plot_train", "main"]

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
    from .training.curves import plot_compare

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
    ap = argparse.ArgumentParser(prog="python -m ead_ext.apps.results", description=__doc__.split("\n")[0])
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
                                "differs from its result files: run python -m ead_ext.apps.results render " + str(doc)))
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
