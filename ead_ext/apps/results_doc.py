"""``docs/RESULTS.md``'s generated blocks, rendered from the result files in the repository.

A block is written in the doc as::

    <!-- results: seeds docs/results/eval-countdown-seed*.json -->
    ... (generated: do not edit) ...
    <!-- /results -->

:func:`render` replaces each block's body with the tables and verdict lines of the files its glob
names (``seeds``: ``ead-ext eval`` results, :mod:`.results_seeds`; ``train``: training run records,
:mod:`.results_train`) (relative to the repository root), so the doc cannot drift from its
data: ``python -m ead_ext.apps.results render docs/RESULTS.md`` rewrites it, ``--check`` only compares (and
a test does the same).
"""
from __future__ import annotations

import re
from pathlib import Path

from .results_seeds import load_runs, seeds_tables, seeds_verdicts
from .results_train import load_records, train_seeds_tables, train_seeds_verdicts

__all__ = ["render", "BLOCK"]

BLOCK = re.compile(r"(<!-- results: (?P<kind>\w+) (?P<glob>\S+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)


def _body(kind: str, pattern: str, root: Path) -> str:
    files = sorted(root.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no result files match {pattern} under {root}")
    if kind == "seeds":
        runs = load_runs(files)
        lines = [seeds_tables(runs), "", "Verdicts (EAD against the best fixed temperature of each metric):", ""]
        lines += [f"- {v}" for v in seeds_verdicts(runs)]
    elif kind == "train":
        records = load_records(files)
        lines = [train_seeds_tables(records), "", "Verdicts:", ""]
        lines += [f"- {v}" for v in train_seeds_verdicts(records)]
    else:
        raise ValueError(f"unknown results block kind {kind!r}: seeds (ead-ext eval runs) or train (run records)")
    return "\n".join(lines) + "\n"


def render(text: str, root: Path) -> str:
    """``text`` with every generated block re-rendered from the files under ``root``."""
    return BLOCK.sub(lambda m: m.group(1) + _body(m.group("kind"), m.group("glob"), root) + m.group(5), text)
