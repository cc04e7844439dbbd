"""`ead-ext serve` under load (bench/serve_load.py's mixed phase and checks, no timing): 64 concurrent
clients, mixed EAD / plain / n > 1 / top-k / bad requests, a KV cache of 12 x 32 tokens so that
running requests are preempted and resumed. Every valid request answered, every bad one a 400
naming its field, the server healthy afterwards, at least one preemption, and each seeded EAD
request returning, sent alone, the tokens it returned under load (log-probs within
serve_load.LOGPROB_TOL: the model's float sums depend on the batch, the draw does not)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON

try:
    import vllm  # noqa: F401
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

SERVE_LOAD = Path(__file__).resolve().parent.parent / "bench" / "serve_load.py"


def test_mixed_load_with_preemption():
    """The benchmark's own command line (no throughput phase): its exit code is its checks' verdict."""
    cmd = [sys.executable, str(SERVE_LOAD), "--requests", "0", "--mixed", "176", "--clients", "64", "--kv-blocks", "12"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "mixed: 176 requests" in r.stdout and "checks: all passed" in r.stdout, r.stdout[-2000:]
