"""ead_ext.apps.results: the RESULTS.md tables (compact table, paired differences) from eval / compare files."""
import importlib.util
import json

import pytest

from ead_ext import metrics as M
from ead_ext.apps import results as R
from ead_ext.apps.training.heldout import summarize_dump


def test_paired_difference_is_the_mean_of_per_prompt_differences():
    a, b = [1.0, 0.5, 0.0, 1.0], [0.5, 0.5, 0.0, 0.0]
    e = R.paired(a, b)
    assert e.mean == pytest.approx(0.375) and e.lo <= e.mean <= e.hi and e.n == 4
    # the same shift on every prompt: no spread, a zero-width interval, however spread the prompts are
    e = R.paired([0.9, 0.1, 0.6], [0.8, 0.0, 0.5])
    assert (e.mean, e.lo, e.hi) == pytest.approx((0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="same prompts"):
        R.paired([1.0], [1.0, 0.0])


def _eval_results():
    per = {"EAD": [1.0, 1.0, 0.0, 0.5] * 4, "tau=1": [0.5, 1.0, 0.0, 0.0] * 4}
    methods = {}
    for name, vals in per.items():
        pp = [{"pass@1": v, "pass@16": min(1.0, 2 * v), "worst@4": v / 2, "maj@32": v, "malformed": 0.0}
              for v in vals]
        methods[name] = {"per_prompt": pp, "summary": {k: v.to_dict() for k, v in M.summarize(pp).items()}}
    return {"methods": methods}


def test_eval_tables():
    text = R.eval_tables(_eval_results())
    compact, paired = text.split("\n\n")
    assert compact.splitlines()[0] == "| method | pass@1 | pass@16 | worst@4 | maj@32 | malformed |"
    assert compact.splitlines()[2].startswith("| EAD | 0.625 [")
    row = paired.splitlines()[2]
    assert row.startswith("| EAD - tau=1 | +0.250 [") and row.count("*") == 4  # every prompt-pair >= 0, some > 0


def _dump(path, step, outputs_per_prompt):
    lines = []
    for prompt, outs in outputs_per_prompt.items():
        lines += [json.dumps({"input": prompt, "output": o, "gts": prompt.strip(), "score": 0, "step": step})
                  for o in outs]
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{step}.jsonl").write_text("\n".join(lines) + "\n")


def test_train_tables_from_a_compare_directory(tmp_path):
    spec = "3 5 7 2 -> 24\n"
    good, bad = "5*3=15\n15+7=22\n22+2=24\n#### 24\n", "#### 24\n"
    prompts = {spec: None, "2 3 4 6 -> 24\n": None}
    sol = {spec: good, "2 3 4 6 -> 24\n": "6*4=24\n3-2=1\n24*1=24\n#### 24\n"}
    plan = {"ead": {0: 0, 4: 3}, "tau=1": {0: 0, 4: 1}}  # correct samples of 4 per prompt, per step
    runs = []
    for method, by_step in plan.items():
        d = tmp_path / method.replace("=", "")
        for step, k in by_step.items():
            _dump(d / "heldout", step, {p: [sol[p]] * k + [bad] * (4 - k) for p in prompts})
        held = [summarize_dump(d / "heldout" / f"{s}.jsonl", ks=[1, 4, 16], majority=[4, 16], task="countdown")
                for s in by_step]
        runs.append({"method": method, "name": d.name, "heldout": held,
                     "spec": {"out": f"elsewhere/{d.name}", "seed": 0, "task": "countdown"}})
    (tmp_path / "compare.json").write_text(json.dumps({"runs": runs, "failed": []}))
    text = R.train_tables([tmp_path], ks=(1, 4, 16), majority=(4, 16))
    assert "| ead | 4 | 0.750 [" in text and "| tau=1 | 0 | 0.000 [" in text
    assert "paired differences at step 4" in text and "| ead - tau=1 | +0.500 [+0.500, +0.500] * |" in text
    assert "change from step 0 to step 4" in text and "| ead | +0.750 [+0.750, +0.750] * |" in text
    # two directories read as one comparison: the method met again is named after its directory
    other = tmp_path / "again"
    other.mkdir()
    (other / "compare.json").write_text(json.dumps({"runs": runs[1:], "failed": []}))
    for f in (tmp_path / "tau1" / "heldout").iterdir():
        (other / "tau1" / "heldout").mkdir(parents=True, exist_ok=True)
        (other / "tau1" / "heldout" / f.name).write_text(f.read_text())
    both = R.train_tables([tmp_path, other], ks=(1, 4, 16), majority=(4, 16))
    assert "| ead - tau=1 (again) | +0.500 [+0.500, +0.500] * |" in both
    if importlib.util.find_spec("matplotlib") is not None:  # the curves of both directories in one figure
        for run in ("ead", "tau1"):
            for d in (tmp_path, other):
                if (d / run).is_dir():
                    (d / run / "metrics.jsonl").write_text(json.dumps({"step": 1, "critic/score/mean": 0.5}) + "\n")
        assert R.plot_train([tmp_path, other], tmp_path / "c.png").stat().st_size > 10_000
    runs[1]["spec"]["seed"] = 1
    (other / "compare.json").write_text(json.dumps({"runs": runs[1:], "failed": []}))
    with pytest.raises(ValueError, match="seed or task"):
        R.train_tables([tmp_path, other])


def test_cli(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps(_eval_results()))
    assert R.main(["eval", str(tmp_path)]) == 0
    assert "| EAD - tau=1 |" in capsys.readouterr().out
