"""docs/RESULTS.md cannot drift from its data: its generated blocks re-rendered from the result files
in docs/results/ equal the doc; runs whose specs differ in more than the seed are not pooled; the
seed-pooled verdict rule (pooled interval excludes 0 and every seed agrees in sign) on known data."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ead_ext.apps.results_doc import BLOCK, render
from ead_ext.apps.results_seeds import load_runs, seeds_tables, seeds_verdicts

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "RESULTS.md"


def test_results_doc_is_rendered_from_the_stored_files():
    text = DOC.read_text()
    blocks = list(BLOCK.finditer(text))
    assert [m.group("kind") for m in blocks].count("seeds") >= 2  # both tasks' inference tables
    assert [m.group("kind") for m in blocks].count("train") >= 1  # RL over training seeds
    for m in blocks:
        files = sorted(REPO.glob(m.group("glob")))
        for f in files:
            r = json.loads(f.read_text())
            command = {"seeds": "ead-ext eval", "train": "ead-ext train"}[m.group("kind")]
            assert r["provenance"]["commit"] and r["provenance"]["command"].startswith(command)
        if m.group("kind") == "seeds":
            assert len(files) >= 3, (m.group("glob"), files)  # at least 3 eval seeds
        else:
            records = [json.loads(f.read_text()) for f in files]
            assert records, m.group("glob")
            if "countdown" in m.group("glob"):  # EAD, tau = 0.6 and tau = 1.0, each over >= 3 training seeds
                for method in ("ead", "tau=0.6", "tau=1"):
                    assert len({r["spec"]["seed"] for r in records if r["method"] == method}) >= 3, method
            # a method of fewer seeds is rendered, with "no verdict" (train_seeds_verdicts), never a verdict
            few = {r["method"] for r in records} - {r["method"] for r in records
                                                     if len({q["spec"]["seed"] for q in records
                                                             if q["method"] == r["method"]}) >= 3}
            for method in few:
                assert f"- {method}: " in m.group(0) and "seed(s): no verdict" in m.group(0), method
    assert render(text, REPO) == text, "docs/RESULTS.md differs from docs/results/: python -m ead_ext.apps.results render docs/RESULTS.md"


def test_stored_training_runs_of_one_seed_start_from_the_same_heldout_numbers():
    """Seeded validation: before training (step 0) every method of one seed is the same model on
    the same prompts with the same per-request seeds, so every prompt's metrics are identical."""
    from ead_ext.apps.training.record import per_prompt

    records = [json.loads(f.read_text()) for f in sorted((REPO / "docs" / "results").glob("train-*.json"))]
    assert records
    by_seed = {}
    for r in records:
        step0 = next(h for h in r["heldout"] if h["step"] == 0)
        by_seed.setdefault((r["spec"]["task"], r["spec"]["seed"]), []).append((r["method"], per_prompt(step0)))
    for key, runs in by_seed.items():
        assert len(runs) >= 2, key
        for method, values in runs[1:]:
            assert values == runs[0][1], (key, method, runs[0][0])


def _run(seed, ead, other, prompts=40, field_change=None):
    """A hand-made results.json: per prompt pass@1 values for EAD and one other method."""
    cfg = {"model": "m", "task": "t", "prompts": prompts, "n": 4, "ks": [1], "majority": [1], "seed": seed,
           "engine_seconds": 1.0}
    if field_change:
        cfg.update(field_change)
    def method(vals, temp):
        pp = [{"pass@1": v, "malformed": 0.0} for v in vals]
        mean = sum(vals) / len(vals)
        return {"temperature": temp, "ead": None if temp else {}, "per_prompt": pp,
                "summary": {"pass@1": {"mean": mean, "lo": mean, "hi": mean}, "malformed": {"mean": 0, "lo": 0, "hi": 0}}}
    return {"config": cfg, "methods": {"EAD": method(ead, None), "tau=1": method(other, 1.0)}}


def _write(tmp_path, runs):
    paths = []
    for r in runs:
        p = tmp_path / f"seed{r['config']['seed']}.json"
        p.write_text(json.dumps(r))
        paths.append(p)
    return paths


def test_runs_that_differ_in_more_than_the_seed_are_refused(tmp_path):
    a = _run(0, [1.0] * 40, [0.0] * 40)
    b = _run(1, [1.0] * 40, [0.0] * 40, field_change={"n": 8})
    with pytest.raises(ValueError, match=r"differ in \['n'\]"):
        load_runs(_write(tmp_path, [a, b]))
    c = copy.deepcopy(a)
    c["config"]["seed"] = 1
    c["methods"]["tau=1"]["temperature"] = 0.6
    with pytest.raises(ValueError, match="methods"):
        load_runs(_write(tmp_path, [a, c]))
    with pytest.raises(ValueError, match="share a seed"):
        load_runs([_write(tmp_path, [a])[0], _write(tmp_path, [a])[0]])


def test_a_verdict_holds_only_when_every_seed_agrees(tmp_path):
    ahead = [_run(s, [0.6] * 20 + [0.5] * 20, [0.5] * 20 + [0.45] * 20) for s in range(3)]
    assert "holds: EAD ahead" in seeds_verdicts(load_runs(_write(tmp_path, ahead)))[0]
    # one seed reverses the sign: the pooled interval still excludes 0, but the verdict does not hold
    mixed = ahead[:2] + [_run(2, [0.45] * 40, [0.5] * 40)]
    lines = seeds_verdicts(load_runs(_write(tmp_path, mixed)))
    assert "not separated" in lines[0], lines
    def row(runs):
        table = seeds_tables(load_runs(_write(tmp_path, runs)))
        assert "1 comparisons in this table" in table
        return next(ln for ln in table.splitlines() if ln.startswith("| EAD - tau=1"))

    assert " holds (" in row(ahead) and " holds (" not in row(mixed)
