"""Held-out evaluation of a training run, from the samples verl's own validation drew.

verl validates through the rollout engine (``trainer.test_freq``, ``val_before_train``) with
``val_kwargs.n`` samples per held-out prompt and dumps them per step
(``trainer.validation_data_dir``: ``<step>.jsonl``, one line per sample with the decoded prompt
``input``, the response ``output`` and the ground truth ``gts``). Each response is re-scored by the
task's verifier here and summarised per prompt with :mod:`ead_ext.metrics`: Pass@k, Worst@k
(k in ``ks``), Majority@N (N in ``majority``), mean and 95 % bootstrap interval over prompts.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Sequence

from .. import metrics as M
from ..tasks.arithmetic import score

__all__ = ["summarize_dump", "summarize_dumps"]


def summarize_dump(path: Path, ks: Sequence[int], majority: Sequence[int], seed: int = 0) -> dict:
    """``{"step", "prompts", "n", "summary": {metric: {mean, lo, hi}}}`` of one ``<step>.jsonl`` dump."""
    groups: "OrderedDict[str, List[tuple]]" = OrderedDict()
    step = int(path.stem)
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        groups.setdefault(rec["input"], []).append(score(rec["output"], str(rec["gts"])))
    if not groups:
        raise ValueError(f"{path}: no samples")
    n = min(len(g) for g in groups.values())
    ks_ = [k for k in ks if k <= n]
    maj_ = [m for m in majority if m <= n]
    per_prompt: List[Dict[str, float]] = []
    for scored in groups.values():
        scored = scored[:n]
        pm = M.prompt_metrics([r for _, r in scored], [a for a, _ in scored], ks=ks_, ns=maj_, seed=seed)
        pm["malformed"] = sum(a is None for a, _ in scored) / n
        per_prompt.append(pm)
    summary = M.summarize(per_prompt, seed=seed)
    return {"step": step, "prompts": len(groups), "n": n,
            "summary": {k: v.to_dict() for k, v in summary.items()}}


def summarize_dumps(directory: Path, ks: Sequence[int], majority: Sequence[int], seed: int = 0) -> List[dict]:
    """:func:`summarize_dump` of every ``<step>.jsonl`` in ``directory``, by step."""
    if not directory.is_dir():
        return []
    files = sorted((p for p in directory.glob("*.jsonl") if p.stem.isdigit()), key=lambda p: int(p.stem))
    return [summarize_dump(p, ks, majority, seed) for p in files]
