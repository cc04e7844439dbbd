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
from random_llama import make_random_llama

# A fast-decaying schedule so that tau_t changes a lot within 32 tokens:
# tau = 1 for t < 3, then max(2.5 - exp(t / 20), 0.3): 1.34 at t=3, 0.85 at t=10, 0.3 from t=17.
SCHED_A = {"tau_max": 1.5, "tau_min": 0.3, "d0": 1.0, "growth": 0.0, "cutoff": 3, "token_scale": 20.0}
# A second one for heterogeneous batches: the "large" preset with an explicit decay.
SCHED_B = {"preset": "large", "decay": 2.0, "cutoff": 0}

PROMPTS = {
    "a": [5, 17, 99, 230, 41],
    "b": [7, 300, 12, 12, 88, 19, 640, 33, 102, 5, 77, 210],
    "c": [401, 9, 64],
    "d": [3, 1000, 512, 18, 200, 44, 91],
}


def _mixed_requests():
    """(name, prompt key, SamplingParams kwargs): EAD and plain requests of several kinds."""
    return [
        ("ead_a", "a", dict(max_tokens=32, seed=11, logprobs=0, extra_args={"ead": SCHED_A})),
        ("ead_b_n3", "b", dict(max_tokens=24, seed=12, n=3, logprobs=0, extra_args={"ead": SCHED_B})),
        ("plain_seeded", "c", dict(max_tokens=20, seed=13, temperature=0.8, logprobs=0)),
        ("plain_greedy", "a", dict(max_tokens=16, temperature=0.0, logprobs=0)),
        ("ead_unseeded", "d", dict(max_tokens=16, logprobs=0, extra_args={"ead": dict(SCHED_A, step=3)})),
        ("plain_topk", "b", dict(max_tokens=16, seed=14, top_k=20, logprobs=0)),
        ("ead_topk", "c", dict(max_tokens=16, seed=15, top_k=10, logprobs=0, extra_args={"ead": SCHED_A})),
        ("ead_nolp", "d", dict(max_tokens=12, seed=16, extra_args={"ead": {"step": 7}})),
    ]


def _run(llm, requests):
    prompts = [TokensPrompt(prompt_token_ids=PROMPTS[p]) for _, p, _ in requests]
    params = [SamplingParams(ignore_eos=True, **kw) for _, _, kw in requests]
    outs = llm.generate(prompts, params, use_tqdm=False)
    res = {}
    for (name, _, _), o in zip(requests, outs):
        res[name] = [
            dict(tokens=list(c.token_ids),
                 logprobs=None if c.logprobs is None else [d[t].logprob for d, t in zip(c.logprobs, c.token_ids)],
                 ranks=None if c.logprobs is None else [d[t].rank for d, t in zip(c.logprobs, c.token_ids)])
            for c in o.outputs
        ]
    return res


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_random_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="module")
def llm(model_dir):
    assert ead_vllm.install()  # idempotent; the entry point has usually done it already
    engine = LLM(model=model_dir, **ENGINE_KWARGS)
    yield engine
    del engine


@pytest.fixture(scope="module")
def hf_model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()


def _run_mixed(llm, reqs=None):
    """The (mixed) requests in one batch; on a vLLM whose CPU sampler drops every seed of a batch that
    holds a row without a generator (features.cpu_sampler_keeps_seeds_in_mixed_batches),
    the unseeded and greedy requests run in a batch of their own, so that the seeded rows vLLM samples itself stay
    comparable (the plugin's own rows are keyed by seed either way)."""
    reqs = _mixed_requests() if reqs is None else reqs
    if features.cpu_sampler_keeps_seeds_in_mixed_batches():
        return _run(llm, reqs)
    seeded = [r for r in reqs if "seed" in r[2]]  # greedy rows have no generator either
    return {**_run(llm, seeded), **_run(llm, [r for r in reqs if r not in seeded])}


@pytest.fixture(scope="module")
def mixed(llm):
    return _run_mixed(llm)


def _runner(llm):
    return llm.llm_engine.model_executor.driver_worker.worker.model_runner


def test_sampler_swapped_in_engine(llm):
    from ead_ext.integrations.vllm.v1 import EADLogitsProcessor, EADSampler

    runner = _runner(llm)
    assert type(runner.sampler) is EADSampler
    assert any(isinstance(p, EADLogitsProcessor) for p in runner.input_batch.logitsprocs.all)
    assert ead_vllm.is_installed()
    from ead_ext.integrations.vllm import plugin

    if not features.v2_takes_processors():  # vLLM < 0.31: the V1 runner is pinned for EAD
        assert os.environ[plugin.ENV_V2_RUNNER] == "0"


def test_ead_requests_reproducible_by_seed(llm, mixed):
    # The seeded EAD requests again, alone, in another order and batch: same tokens, same log-probs.
    reqs = [r for r in _mixed_requests() if r[0] in ("ead_topk", "ead_a", "ead_b_n3", "ead_nolp")]
    again = _run(llm, reqs)
    for name in ("ead_a", "ead_b_n3", "ead_topk", "ead_nolp"):
        for c1, c2 in zip(mixed[name], again[name]):
            assert c1["tokens"] == c2["tokens"], name
            if c1["logprobs"] is not None:
                assert c1["logprobs"] == pytest.approx(c2["logprobs"], abs=1e-5), name
    # n=3: the children (seeds 12, 13, 14) differ from each other.
    toks = [tuple(c["tokens"]) for c in mixed["ead_b_n3"]]
    assert len(set(toks)) == 3


def test_plain_requests_unaffected_by_ead_neighbours(llm, mixed):
    reqs = [r for r in _mixed_requests() if r[0].startswith("plain")]
    alone = _run_mixed(llm, reqs)
    for name in ("plain_seeded", "plain_greedy", "plain_topk"):
        assert alone[name][0]["tokens"] == mixed[name][0]["tokens"], name
        assert alone[name][0]["logprobs"] == pytest.approx(mixed[name][0]["logprobs"], abs=1e-5), name


@pytest.mark.parametrize("name", ["ead_a", "ead_b_n3", "ead_unseeded"])
def test_logprobs_are_behaviour_logprobs_at_scheduled_tau(mixed, hf_model, name):
    """Returned log-probs == log_softmax(logits / tau_t)[token], logits recomputed with HF, tau_t from
    the schedule at the 0-based output position."""
    kw = dict((n, k) for n, _, k in _mixed_requests())[name]
    prompt = PROMPTS[dict((n, p) for n, p, _ in _mixed_requests())[name]]
    ead = parse_ead_args(kw["extra_args"])
    for c in mixed[name]:
        taus = ead.temperature(torch.arange(len(c["tokens"])))
        ref, rows = hf_behaviour_logprobs(hf_model, prompt, c["tokens"], taus)
        got = torch.tensor(c["logprobs"])
        assert torch.allclose(got, ref, atol=2e-3, rtol=0), (name, (got - ref).abs().max())
        # rank 1 == argmax of the logits at that position
        argmax = rows.argmax(-1).tolist()
        for tok, am, rank in zip(c["tokens"], argmax, c["ranks"]):
            assert (rank == 1) == (tok == am)
    # The schedule really varies over these positions (not a constant-temperature pass).
    taus = ead.temperature(torch.arange(len(mixed[name][0]["tokens"])))
    assert float(taus.max() - taus.min()) > 0.3


def test_topk_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model):
    c = mixed["ead_topk"][0]
    ead = parse_ead_args({"ead": SCHED_A})
    taus = ead.temperature(torch.arange(len(c["tokens"])))
    _, rows = hf_behaviour_logprobs(hf_model, PROMPTS["c"], c["tokens"], taus)
    scaled = rows / taus.unsqueeze(1)
    top = scaled.topk(10, dim=-1)
    for i, tok in enumerate(c["tokens"]):
        assert tok in top.indices[i].tolist()
        # processed log-prob: renormalised over the 10 kept tokens, at tau_t
        ref = torch.log_softmax(top.values[i], -1)[top.indices[i].tolist().index(tok)]
        assert abs(c["logprobs"][i] - float(ref)) < 2e-3


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
    r1, r2 = _run(llm, reqs[:1]), _run(llm, reqs[1:])
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
    import json, os, sys
    sys.path.insert(0, {tests_dir!r})
    import vllm_helpers
    from vllm import LLM
    import test_vllm_engine as t
    if __name__ == "__main__":
        llm = LLM(model={model_dir!r}, **vllm_helpers.ENGINE_KWARGS)
        runner = t._runner(llm)
        from vllm.v1.sample.sampler import Sampler
        procs = [type(p).__name__ for p in runner.input_batch.logitsprocs.all]
        res = t._run_mixed(llm)
        print("RESULT" + json.dumps(dict(sampler=type(runner.sampler).__module__ + "." + type(runner.sampler).__name__,
                                         stock=type(runner.sampler) is Sampler, procs=procs, res=res)))
""")


def test_plugin_disabled_is_stock_and_plain_requests_match(mixed, model_dir, tmp_path):
    """EAD_VLLM_DISABLE=1: vLLM keeps its own Sampler and processors, and the plain requests of the
    mixed batch come out identical to the plugin-enabled engine's."""
    script = tmp_path / "stock.py"
    script.write_text(_STOCK_SCRIPT.format(tests_dir=os.path.dirname(__file__), model_dir=model_dir))
    env = dict(os.environ, EAD_VLLM_DISABLE="1")
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
