"""The EAD sampler on vLLM's real engine (CPU build, V1 model runner), through LLM.generate.

One tiny random Llama (made in the test) and one in-process engine serve every test here; a
subprocess runs the same batch with the plugin switched off (EAD_VLLM_DISABLE=1) for the
stock-identity check.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import vllm_helpers  # noqa: F401  (sets the vLLM environment before vLLM is imported)
from child_env import child_env
from vllm_helpers import ENGINE_KWARGS, SKIP_REASON, hf_behaviour_logprobs

try:
    import vllm  # noqa: F401
    from vllm import LLM, SamplingParams
    from vllm.exceptions import VLLMValidationError
    from vllm.inputs import TokensPrompt
except ImportError:  # only when vLLM is absent; CI installs it
    pytest.skip(SKIP_REASON, allow_module_level=True)

import torch

from ead_ext.integrations import vllm as ead_vllm
from ead_ext.integrations.vllm import features
from ead_ext.integrations.vllm.params import parse_ead_args
from engine_cases import (PROMPTS, SCHED_A, check_logprobs_are_behaviour_logprobs_at_scheduled_tau,  # noqa: E402
                          check_topk_ead_request_uses_vllm_path_with_ead_temperature, mixed_requests, run,
                          run_mixed, model_runner)

@pytest.fixture(scope="module")
def llm(model_dir):
    assert ead_vllm.install()  # idempotent; the entry point has usually done it already
    engine = LLM(model=model_dir, **ENGINE_KWARGS)
    yield engine
    del engine


@pytest.fixture(scope="module")
def mixed(llm):
    return run_mixed(llm)


def test_sampler_swapped_in_engine(llm):
    from ead_ext.integrations.vllm.v1 import EADLogitsProcessor, EADSampler

    runner = model_runner(llm)
    assert type(runner.sampler) is EADSampler
    assert any(isinstance(p, EADLogitsProcessor) for p in runner.input_batch.logitsprocs.all)
    assert ead_vllm.is_installed()
    from ead_ext.integrations.vllm import plugin

    if not features.v2_takes_processors():  # vLLM < 0.31: the V1 runner is pinned for EAD
        assert os.environ[plugin.ENV_V2_RUNNER] == "0"


def test_ead_requests_reproducible_by_seed(llm, mixed):
    # The seeded EAD requests again, alone, in another order and batch: same tokens, same log-probs.
    reqs = [r for r in mixed_requests() if r[0] in ("ead_topk", "ead_a", "ead_b_n3", "ead_nolp")]
    again = run(llm, reqs)
    for name in ("ead_a", "ead_b_n3", "ead_topk", "ead_nolp"):
        for c1, c2 in zip(mixed[name], again[name]):
            assert c1["tokens"] == c2["tokens"], name
            if c1["logprobs"] is not None:
                assert c1["logprobs"] == pytest.approx(c2["logprobs"], abs=1e-5), name
    # n=3: the children (seeds 12, 13, 14) differ from each other.
    toks = [tuple(c["tokens"]) for c in mixed["ead_b_n3"]]
    assert len(set(toks)) == 3


def test_plain_requests_unaffected_by_ead_neighbours(llm, mixed):
    reqs = [r for r in mixed_requests() if r[0].startswith("plain")]
    alone = run_mixed(llm, reqs)
    for name in ("plain_seeded", "plain_greedy", "plain_topk"):
        assert alone[name][0]["tokens"] == mixed[name][0]["tokens"], name
        assert alone[name][0]["logprobs"] == pytest.approx(mixed[name][0]["logprobs"], abs=1e-5), name


@pytest.mark.parametrize("name", ["ead_a", "ead_b_n3", "ead_unseeded", "ead_shape"])
def test_logprobs_are_behaviour_logprobs_at_scheduled_tau(mixed, hf_model, name):
    """Returned log-probs == log_softmax(logits / tau_t)[token], logits recomputed with HF, tau_t from
    the schedule at the 0-based output position."""
    check_logprobs_are_behaviour_logprobs_at_scheduled_tau(mixed, hf_model, name)


def test_topk_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model):
    check_topk_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model)


def test_top_n_logprobs_for_ead_request(llm, hf_model):
    sp = SamplingParams(max_tokens=10, seed=5, logprobs=3, ignore_eos=True, extra_args={"ead": SCHED_A})
    out = llm.generate([TokensPrompt(prompt_token_ids=PROMPTS["a"])], sp, use_tqdm=False)[0].outputs[0]
    taus = parse_ead_args({"ead": SCHED_A}).temperature(torch.arange(10))
    ref, rows = hf_behaviour_logprobs(hf_model, PROMPTS["a"], list(out.token_ids), taus)
    for i, (tok, d) in enumerate(zip(out.token_ids, out.logprobs)):
        assert abs(d[tok].logprob - float(ref[i])) < 2e-3
        top3 = set(rows[i].topk(3).indices.tolist())
        assert top3 <= set(d)


def test_ead_without_seed_differs_between_runs(llm):
    reqs = [("u", "a", dict(max_tokens=16, extra_args={"ead": SCHED_A}))] * 2
    r1, r2 = run(llm, reqs[:1]), run(llm, reqs[1:])
    assert r1["u"][0]["tokens"] != r2["u"][0]["tokens"]


@pytest.mark.parametrize("extra,field", [
    ({"ead": {"tau_mni": 0.1}}, "tau_mni"),
    ({"ead": {"tau_min": -1.0}}, "tau_min"),
    ({"ead": {"tau_max": 0.05, "tau_min": 0.1}}, "tau_max"),
    ({"ead": {"cutoff": "ten"}}, "cutoff"),
    ({"ead": {"step": -2}}, "step"),
    ({"ead": {"preset": "huge"}}, "preset"),
    ({"ead": {"step": 1, "decay": 3.0}}, "decay"),
    ({"ead": 3}, "ead"),
])
def test_bad_ead_args_fail_that_request_only(llm, extra, field):
    bad = SamplingParams(max_tokens=4, extra_args=extra)
    # vLLM turns the processor's ValueError into its VLLMValidationError (HTTP 400 when served)
    with pytest.raises((ValueError, VLLMValidationError), match=field):
        llm.generate([TokensPrompt(prompt_token_ids=PROMPTS["a"])], bad, use_tqdm=False)
    # the engine keeps serving
    ok = llm.generate([TokensPrompt(prompt_token_ids=PROMPTS["c"])],
                      SamplingParams(max_tokens=4, seed=1, extra_args={"ead": SCHED_A}), use_tqdm=False)
    assert len(ok[0].outputs[0].token_ids) >= 1


def test_ead_with_non_unit_temperature_is_rejected(llm):
    with pytest.raises((ValueError, VLLMValidationError), match="temperature"):
        llm.generate([TokensPrompt(prompt_token_ids=PROMPTS["a"])],
                     SamplingParams(max_tokens=4, temperature=0.0, extra_args={"ead": {}}), use_tqdm=False)


def _distinct_and_argmax_rate(children, positions):
    distinct = [len({c["tokens"][t] for c in children}) for t in positions]
    argmax = sum(c["ranks"][t] == 1 for c in children for t in positions) / (len(children) * len(positions))
    return distinct, argmax


def test_diversity_early_high_late_low(llm):
    """EAD's first tokens are more diverse than fixed tau = tau_min sampling, its last tokens less
    diverse than fixed tau = tau_max (diversity: distinct tokens across samples at a position, and
    the rate of non-argmax tokens)."""
    sched = {"tau_max": 1.2, "tau_min": 0.1, "d0": 1.0, "growth": 0.0, "cutoff": 0, "token_scale": 20.0}
    # tau_t = max(2.2 - exp(t / 20), 0.1): 1.2 at t=0, 1.04 at t=3, 0.1 from t=16 on.
    N, T = 48, 24
    prompt = TokensPrompt(prompt_token_ids=PROMPTS["b"])
    common = dict(n=N, max_tokens=T, logprobs=0, ignore_eos=True)
    outs = llm.generate([prompt] * 3, [
        SamplingParams(seed=100, extra_args={"ead": sched}, **common),
        SamplingParams(seed=10_000, temperature=0.1, **common),
        SamplingParams(seed=20_000, temperature=1.2, **common),
    ], use_tqdm=False)
    ead, cold, hot = ([dict(tokens=list(c.token_ids), ranks=[d[t].rank for d, t in zip(c.logprobs, c.token_ids)])
                       for c in o.outputs] for o in outs)
    early, late = range(0, 4), range(T - 6, T)
    d_ead, a_ead = _distinct_and_argmax_rate(ead, early)
    d_cold, a_cold = _distinct_and_argmax_rate(cold, early)
    assert sum(d_ead) > 2 * sum(d_cold), (d_ead, d_cold)
    assert a_ead + 0.3 < a_cold, (a_ead, a_cold)  # 192 draws each: the gap is many standard errors
    _, a_ead_late = _distinct_and_argmax_rate(ead, late)
    _, a_hot_late = _distinct_and_argmax_rate(hot, late)
    assert a_ead_late > a_hot_late + 0.3, (a_ead_late, a_hot_late)


_STOCK_SCRIPT = textwrap.dedent("""
    import json
    import vllm_helpers
    from vllm import LLM
    import engine_cases as t
    if __name__ == "__main__":
        llm = LLM(model={model_dir!r}, **vllm_helpers.ENGINE_KWARGS)
        runner = t.model_runner(llm)
        from vllm.v1.sample.sampler import Sampler
        procs = [type(p).__name__ for p in runner.input_batch.logitsprocs.all]
        res = t.run_mixed(llm)
        print("RESULT" + json.dumps(dict(sampler=type(runner.sampler).__module__ + "." + type(runner.sampler).__name__,
                                         stock=type(runner.sampler) is Sampler, procs=procs, res=res)))
""")


def test_plugin_disabled_is_stock_and_plain_requests_match(mixed, model_dir, tmp_path):
    """EAD_VLLM_DISABLE=1: vLLM keeps its own Sampler and processors, and the plain requests of the
    mixed batch come out identical to the plugin-enabled engine's."""
    script = tmp_path / "stock.py"
    script.write_text(_STOCK_SCRIPT.format(model_dir=model_dir))
    env = child_env(EAD_VLLM_DISABLE="1")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    stock = json.loads(line[0][len("RESULT"):])
    assert stock["stock"], stock["sampler"]
    assert not any("EAD" in p for p in stock["procs"]), stock["procs"]
    for name in ("plain_seeded", "plain_greedy", "plain_topk"):
        assert stock["res"][name][0]["tokens"] == mixed[name][0]["tokens"], name
        assert stock["res"][name][0]["logprobs"] == pytest.approx(mixed[name][0]["logprobs"], abs=1e-6)
    # and the EAD requests there ran as plain tau = 1 requests (vLLM ignores unknown extra_args)
    assert stock["res"]["ead_a"][0]["tokens"] != mixed["ead_a"][0]["tokens"]
