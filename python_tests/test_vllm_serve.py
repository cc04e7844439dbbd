"""`ead-ext serve` (vLLM's OpenAI-compatible server with the EAD plugin), over real HTTP on 127.0.0.1.

The server runs with multiprocessing on (front end and engine core in separate processes), so this
also checks that the ``vllm.general_plugins`` entry point installs the sampler where the engine runs
and the admission check where requests arrive. The command is the one users run, with only the
model and the tiny model's sizes given: the logprobs mode and the CPU KV-cache space are its defaults.
"""
from __future__ import annotations

import json

import pytest

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON, hf_behaviour_logprobs

try:
    import vllm  # noqa: F401
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

import torch

from ead_ext.integrations.vllm.params import parse_ead_args
from ead_ext.testing.random_llama import make_random_llama
from ead_ext.testing.serve import PROMPT, ServerFailed, complete, ead_serve, ids_and_logprobs

SCHED = {"tau_max": 1.5, "tau_min": 0.3, "d0": 1.0, "growth": 0.0, "cutoff": 3, "token_scale": 20.0}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = make_random_llama(tmp_path_factory.mktemp("tiny_llama_serve"))
    log = tmp_path_factory.mktemp("serve_log") / "server.log"
    try:
        with ead_serve(model, log, "--max-model-len", "256") as srv:
            yield dict(srv, model_dir=model)
    except ServerFailed as e:
        pytest.fail(str(e))


def _complete(server, **body):
    return complete(server["url"], **body)


def _ids_and_logprobs(resp):
    return ids_and_logprobs(resp)[0]


def test_ead_requests_over_http(server):
    from transformers import AutoModelForCausalLM

    r1 = _complete(server, seed=7, vllm_xargs={"ead": json.dumps(SCHED)})
    assert r1.status_code == 200, r1.text
    # the same schedule as flat keys: same request, same tokens
    r2 = _complete(server, seed=7, vllm_xargs={f"ead.{k}": v for k, v in SCHED.items()})
    assert r2.status_code == 200, r2.text
    ids1, lp1 = _ids_and_logprobs(r1)
    ids2, lp2 = _ids_and_logprobs(r2)
    assert ids1 == ids2 and lp1 == pytest.approx(lp2, abs=1e-5)
    # behaviour log-probs at tau_t, recomputed with HF
    hf = AutoModelForCausalLM.from_pretrained(server["model_dir"], torch_dtype=torch.float32).eval()
    taus = parse_ead_args({"ead": SCHED}).temperature(torch.arange(len(ids1)))
    ref, _ = hf_behaviour_logprobs(hf, PROMPT, ids1, taus)
    assert torch.allclose(torch.tensor(lp1), ref, atol=2e-3, rtol=0)
    # a plain request with the same seed is sampled by vLLM's own code (different draws)
    plain = _complete(server, seed=7)
    assert plain.status_code == 200, plain.text
    assert _ids_and_logprobs(plain)[0] != ids1


@pytest.mark.parametrize("xargs,field", [
    ({"ead": json.dumps({"tau_mni": 0.1})}, "tau_mni"),
    ({"ead.cutoff": "ten"}, "cutoff"),
    ({"ead": json.dumps({"tau_min": 0.0})}, "tau_min"),
    ({"ead": "{not json"}, "JSON"),
])
def test_bad_ead_args_get_400_and_server_keeps_serving(server, xargs, field):
    bad = _complete(server, seed=1, vllm_xargs=xargs)
    assert bad.status_code == 400, bad.text
    assert field in bad.text
    ok = _complete(server, seed=1, vllm_xargs={"ead": "small"})
    assert ok.status_code == 200, ok.text


def test_ead_true_over_http_means_the_defaults(server):
    """JSON true arrives as the int 1 (vllm_xargs' value type): the default schedule, as "small"."""
    r_true = _complete(server, seed=5, vllm_xargs={"ead": True})
    assert r_true.status_code == 200, r_true.text
    r_small = _complete(server, seed=5, vllm_xargs={"ead": "small"})
    assert r_small.status_code == 200, r_small.text
    assert _ids_and_logprobs(r_true) == _ids_and_logprobs(r_small)
    r_false = _complete(server, seed=5, vllm_xargs={"ead": False})  # plain, as without the key
    assert r_false.status_code == 200, r_false.text
    assert _ids_and_logprobs(r_false)[0] == _ids_and_logprobs(_complete(server, seed=5))[0]


def test_startup_line_names_vllm_runner_and_op_device(server):
    """One line in the server log says the EAD sampler serves, on which vLLM, runner and op device."""
    import vllm

    from ead_ext.integrations.vllm.plugin import startup_line

    want = startup_line("V1", "cpu")
    assert f"vLLM {vllm.__version__}, model runner V1, fused op on cpu" in want
    lines = [ln for ln in server["log"].read_text().splitlines() if "EAD sampler active" in ln]
    assert len(lines) == 1 and lines[0].endswith(want), lines
