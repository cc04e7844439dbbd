"""Table helpers of ead-ext's result reports: a cell with its interval, Markdown and terminal tables,
paired differences over prompts, the compact columns of 0/1 rewards and the verdict lines of an
``ead-ext eval`` comparison. Used by ``ead-ext eval``, ``ead-ext train --compare`` and the RESULTS
renderers (:mod:`ead_ext.apps.results`, :mod:`ead_ext.apps.results_seeds`, :mod:`ead_ext.apps.results_train`);
it imports none of them. Also what the seeded reports share to read their inputs: the JSON files of
several runs, and the fields in which two runs' specs differ.

An interval that excludes 0 is marked ``*``; with several comparisons per table, about one in twenty
such marks is expected by chance when nothing differs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

from ead_ext import metrics as M

__all__ = ["EVAL_METRICS", "TRAIN_PAIRED", "paired", "cell", "short_cell", "md_table", "text_table",
           "compact_columns", "paired_columns", "compact_table", "verdicts", "eval_tables", "read_runs",
           "spec_differences"]

EVAL_METRICS = ("pass@1", "pass@4", "pass@16", "worst@4", "maj@32", "malformed")
TRAIN_PAIRED = ("pass@1", "pass@16", "worst@16")


def read_runs(paths: Sequence[Path], filename: str) -> List[dict]:
    """The JSON of each of ``paths``: a file, or a run directory holding ``filename``."""
    return [json.loads((p / filename if p.is_dir() else p).read_text()) for p in map(Path, paths)]


def spec_differences(a: dict, b: dict) -> List[str]:
    """The keys whose values differ between two runs' specs (a key missing from one counts)."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


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
