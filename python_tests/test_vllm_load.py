"""`ead-ext serve` under load (bench/serve_load.py's mixed phase and checks, no timing): 64 concurrent
clients, mixed EAD / plain / n > 1 / top-k / bad requests, a KV cache of 12 x 32 tokens so that
running requests are preempted and resumed. Every valid request answered, every bad one a 400
naming its field, the server healthy afterwards, at least one preemption, and each seeded EAD
request returning, sent alone, the tokens it returned under load (log-probs within
serve_load.LOGPROB_TOL: the model's float sums depend on the batch, the draw does not)."""
from __future__ import annotations

import os
import sys

import pytest

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON

try:
    import vllm  # noqa: F401
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

from random_llama import make_random_llama
from serve_helpers import ServerFailed, ead_serve

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import serve_load  # noqa: E402


def test_mixed_load_with_preemption(tmp_path):
    model = make_random_llama(tmp_path / "model")
    try:
        with ead_serve(model, tmp_path / "server.log", *serve_load.server_args(kv_blocks=12)) as srv:
            failures = serve_load.mixed_phase(srv["url"], n=176, clients=64)
    except ServerFailed as e:
        pytest.fail(str(e))
    assert not failures, "\n".join(failures[:20])
