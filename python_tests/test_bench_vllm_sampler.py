"""bench_cuda.py's vLLM contender: vLLM 0.33.0's unmodified V2 sampling files (fetched by
bench/fetch_contenders.sh), loaded with the stand-in vllm package (bench/vllm_sampler.py) and run on
the CPU by Triton's interpreter: the loader works and the contender is called as vLLM's Sampler
calls it (tokens drawn from softmax(x / tau), their log-probs log_softmax(x / tau)). Times nothing.
Without a copy the test skips, and under EAD_EXPECT_ALL=1 (CI) that skip is a failure."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

pytest.importorskip("triton")

# run with bench/ as the working directory: `python -c` puts it on sys.path, as running a
# benchmark script there does
_SCRIPT = r"""
import sys, torch
import vllm_sampler
if vllm_sampler.find_copy() is None:
    print("NO COPY")
    sys.exit(0)
gumbel, logprob, info = vllm_sampler.load(stand_in=True)
assert "vllm" in sys.modules and not hasattr(sys.modules["vllm"], "__version__"), "stand-in not used"
import bench_cuda
run, desc = bench_cuda.make_vllm()
assert run is not None, desc
B, V = 6, 3000
g = torch.Generator().manual_seed(0)
x = torch.randn(B, V, generator=g) * 3
tau = torch.tensor([0.5, 0.8, 1.0, 1.2, 2.0, 0.7])
run.seed = torch.arange(B, dtype=torch.int64) + 11
run.pos = torch.zeros(B, dtype=torch.int64)
tokens, lp = run(x, tau)
assert tokens.shape == (B,) and ((tokens >= 0) & (tokens < V)).all()
want = torch.log_softmax(x / tau[:, None], dim=-1).gather(1, tokens.view(-1, 1).long())[:, 0]
assert torch.allclose(lp, want, atol=1e-5), (lp, want)
again, _ = run(x, tau)
assert torch.equal(tokens, again)  # keyed by (seed, position)
print("OK", desc)
"""


def test_vllm_contender_loads_and_samples_on_the_cpu():
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600,
                          cwd=str(BENCH))
    if proc.returncode == 0 and proc.stdout.strip() == "NO COPY":
        pytest.skip("no copy of vLLM's sampler files: run bash bench/fetch_contenders.sh")
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "0.33.0" in proc.stdout and "stand-in" in proc.stdout
