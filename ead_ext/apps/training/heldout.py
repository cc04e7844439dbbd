"""Held-out evaluation of a training run, from the samples verl's own validation drew.

verl validates through the rollout engine (``trainer.test_freq``, ``val_before_train``) with
``val_kwargs.n`` samples per held-out prompt and dumps them per step
(``trainer.validation_data_dir``: ``<step>.jsonl``, one line per sample with the decoded prompt
``input``, the response ``output`` and the ground truth ``gts``). Each response is re-scored by the
run's task verifier here (for the extracted answers Majority@N votes on) and summarised per prompt with :mod:`ead_ext.metrics`: Pass@k, Worst@k
(k in ``ks``), Majority@N (N in ``majority``), mean and 95 % bootstrap interval over prompts.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ead_ext import metrics as M
from ..tasks import get_task

__all__ = ["per_prompt_metrics", "summarize_dump", "summarize_dumps"]


def per_prompt_metrics(path: Path, ks: Sequence[int], majority: Sequence[int], seed: int = 0,
                       task: str = "arithmetic") -> Tuple[int, "OrderedDict[str, Dict[str, float]]"]:
    """``(n, {prompt: metrics})`` of one ``<step>.jsonl`` dump: :func:`ead_ext.metrics.prompt_metrics`
    of each held-out prompt's first n samples (n = the fewest any prompt has), plus ``malformed``."""
    score = get_task(task).score
    groups: "OrderedDict[str, List[tuple]]" = OrderedDict()
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
    out: "OrderedDict[str, Dict[str, float]]" = OrderedDict()
    for prompt, scored in groups.items():
        scored = scored[:n]
        pm = M.prompt_metrics([r for _, r in scored], [a for a, _ in scored], ks=ks_, ns=maj_, seed=seed)
        pm["malformed"] = sum(a is None for a, _ in scored) / n
        out[prompt] = pm
    return n, out


def summarize_dump(path: Path, ks: Sequence[int], majority: Sequence[int], seed: int = 0,
                   task: str = "arithmetic") -> dict:
    """``{"step", "prompts", "n", "summary": {metric: {mean, lo, hi}}}`` of one ``<step>.jsonl`` dump."""
    n, per_prompt = per_prompt_metrics(path, ks, majority, seed, task)
    summary = M.summarize(list(per_prompt.values()), seed=seed)
    return {"step": int(path.stem), "prompts": len(per_prompt), "n": n,
            "summary": {k: v.to_dict() for k, v in summary.items()}}


def summarize_dumps(directory: Path, ks: Sequence[int], majority: Sequence[int], seed: int = 0,
                    task: str = "arithmetic") -> List[dict]:
    """:func:`summarize_dump` of every ``<step>.jsonl`` in ``directory``, by step."""
    if not directory.is_dir():
        return []
    files = sorted((p for p in directory.glob("*.jsonl") if p.stem.isdigit()), key=lambda p: int(p.stem))
    return [summarize_dump(p, ks, majority, seed, task) for p in files]
