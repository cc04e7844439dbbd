"""RL comparisons over training seeds (ead_ext.apps.results_train) on hand-made run records: runs whose
specs differ in more than method and seed are not pooled; the two-level interval covers
run-to-run spread; the verdict rule (interval excludes 0 and all of >= 3 seeds agree in sign)."""
from __future__ import annotations

import json

import pytest

from ead_ext import metrics as M
from ead_ext.apps.results_train import load_records, train_seeds_tables, train_seeds_verdicts

PROMPTS = [f"p{i}" for i in range(32)]


def _record(method, seed, last, first=None, **spec_change):
    """A record with held-out pass@1 per prompt at steps 0 (``first``) and 20 (``last``)."""
    first = [0.1] * len(PROMPTS) if first is None else first
    spec = {"out": f"/x/{method}-seed{seed}", "method": {"name": method}, "seed": seed, "timeout_s": 2100.0,
            "task": "countdown", "steps": 20, "lr": 2e-4, "loss": "grpo", **spec_change}
    held = [{"step": st, "n": 16, "prompts": PROMPTS, "columns": ["pass@1", "pass@16"],
             "values": [[v, min(1.0, 2 * v)] for v in vals]} for st, vals in ((0, first), (20, last))]
    steps = [{"step": s, "reward": 0.1, "tis_mean": 1.0, "tis_max": 1.5, "tis_truncated": 0.0} for s in (1, 2)]
    return {"spec": spec, "method": method, "provenance": {"command": "ead-ext train --compare"}, "seconds": 420.0,
            "step_seconds_median": 9.0, "steps": steps, "heldout": held}


def _files(tmp_path, records):
    out = []
    for r in records:
        p = tmp_path / f"{r['method']}-{r['spec']['seed']}.json"
        p.write_text(json.dumps(r))
        out.append(p)
    return out


def test_runs_that_differ_in_more_than_method_and_seed_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"differ in \['lr'\]"):
        load_records(_files(tmp_path, [_record("ead", 0, [0.5] * 32), _record("tau=1", 0, [0.5] * 32, lr=1e-3)]))
    with pytest.raises(ValueError, match="appears twice"):
        load_records(_files(tmp_path, [_record("ead", 0, [0.5] * 32)]) * 2)
    assert len(load_records(_files(tmp_path, [_record("ead", 0, [0.5] * 32), _record("tau=1", 1, [0.2] * 32)]))) == 2


def test_two_level_interval_covers_the_spread_between_runs():
    groups = [[m] * 64 for m in (0.2, 0.5, 0.8)]  # no spread within a run, a lot between runs
    flat, runs = M.aggregate([v for g in groups for v in g]), M.aggregate_runs(groups)
    assert flat.mean == pytest.approx(0.5) and runs.mean == pytest.approx(0.5)
    # a one-level bootstrap over the 192 values sees 192 draws; the two-level one sees 3 runs
    assert runs.hi - runs.lo > 0.3 > 4 * (flat.hi - flat.lo)
    single = M.aggregate_runs([[0.0, 1.0] * 16])
    assert (single.lo, single.hi) == (M.aggregate([0.0, 1.0] * 16).lo, M.aggregate([0.0, 1.0] * 16).hi)


def _comparison(ead_gain_per_seed):
    recs = []
    for seed, gain in enumerate(ead_gain_per_seed):
        base = [0.2 + 0.01 * (i % 5) for i in range(32)]
        recs.append(_record("tau=1", seed, base))
        recs.append(_record("ead", seed, [b + gain for b in base]))
    return recs


def test_verdict_needs_every_seed_to_agree_and_three_seeds():
    recs = _comparison([0.2, 0.15, 0.25])
    lines = train_seeds_verdicts(recs)
    assert any(l.startswith("pass@1 at step 20: ead - tau=1") and l.endswith("holds: EAD ahead") for l in lines)
    assert any(l.startswith("ead, step 0 to 20: changes that hold: pass@1 +0.") for l in lines)
    table = train_seeds_tables(recs)
    assert "+0.200 [" in table and "holds (+0.20 / +0.15 / +0.25)" in table
    mixed = train_seeds_verdicts(_comparison([0.2, 0.15, -0.05]))
    assert any(l.startswith("pass@1 at step 20") and l.endswith("not separated") for l in mixed)
    two = train_seeds_verdicts(_comparison([0.2, 0.15]))
    assert not any(l.startswith("pass@1 at step 20") for l in two)
    assert "ead: 2 seed(s): no verdict" in two
    assert "] holds (" not in train_seeds_tables(_comparison([0.2, 0.15]))
