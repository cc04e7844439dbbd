"""bench_cpu.py's vLLM contender (bench/vllm_cpu_sampler.py) is vLLM's own V1 Sampler doing the
op's job: tokens with their processed log-probs, log_softmax(x / tau) at the drawn token, greedy
rows at tau = 0, and it divides the logits in place (why the benchmark hands it a fresh copy each
call). Runs with bench/ as the working directory, as the benchmark does. Times nothing."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytest.importorskip("vllm")

_SCRIPT = r"""
import torch
import vllm_cpu_sampler
B, V = 6, 3000
x = torch.randn(B, V, generator=torch.Generator().manual_seed(0)) * 3
for tau in (0.7, 1.2):
    fn, info = vllm_cpu_sampler.make(B, tau)
    assert fn is not None and "V1 Sampler" in info, info
    logits = x.clone()
    out = fn(logits)
    tok = out.sampled_token_ids[:, 0].long()
    assert ((tok >= 0) & (tok < V)).all()
    want = torch.log_softmax(x / tau, dim=-1).gather(1, tok[:, None])[:, 0]
    got = out.logprobs_tensors.logprobs[:, 0]
    assert torch.allclose(got, want, atol=1e-5), (got, want)
    assert not torch.equal(logits, x), "expected vLLM to divide the logits in place"
fn, _ = vllm_cpu_sampler.make(B, 0.0)
assert torch.equal(fn(x.clone()).sampled_token_ids[:, 0].long(), x.argmax(-1))
print("OK")
"""


def test_vllm_cpu_sampler_contender_samples_with_processed_logprobs():
    r = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=BENCH, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == "OK"
