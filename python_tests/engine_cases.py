"""The EAD requests and checks both vLLM engine test modules run (V1 runner: test_vllm_engine.py,
V2 runner: test_vllm_v2_engine.py, and their stock-engine subprocesses), in one place: a batch of
EAD and plain requests of several kinds, running it through ``LLM.generate``, and the two checks of
the returned log-probs against log softmax(logits / tau_t) recomputed with transformers."""
from __future__ import annotations

import torch

from ead_ext.integrations.vllm import features
from ead_ext.integrations.vllm.params import parse_ead_args
from vllm_helpers import hf_behaviour_logprobs

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


def mixed_requests():
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
        # another shape in the same batch (the authors' token_length: 0.3 + 1.2 exp(-t / 20) from t = 3)
        ("ead_shape", "b", dict(max_tokens=24, seed=17, logprobs=0,
                                extra_args={"ead": dict(SCHED_A, shape="token_length", step=2)})),
    ]


def run(llm, requests):
    """``requests`` (name, prompt key, SamplingParams kwargs) in one ``generate`` call: per name, per
    completion, its tokens, their log-probs and ranks."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

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


def run_mixed(llm, reqs=None):
    """The (mixed) requests in one batch; on a vLLM whose CPU sampler drops every seed of a batch that
    holds a row without a generator (features.cpu_sampler_keeps_seeds_in_mixed_batches),
    the unseeded and greedy requests run in a batch of their own, so that the seeded rows vLLM samples itself stay
    comparable (the plugin's own rows are keyed by seed either way)."""
    reqs = mixed_requests() if reqs is None else reqs
    if features.cpu_sampler_keeps_seeds_in_mixed_batches():
        return run(llm, reqs)
    seeded = [r for r in reqs if "seed" in r[2]]  # greedy rows have no generator either
    return {**run(llm, seeded), **run(llm, [r for r in reqs if r not in seeded])}


def model_runner(llm):
    """The engine's model runner (in-process engine: VLLM_ENABLE_V1_MULTIPROCESSING=0)."""
    return llm.llm_engine.model_executor.driver_worker.worker.model_runner


def check_logprobs_are_behaviour_logprobs_at_scheduled_tau(mixed, hf_model, name):
    """Returned log-probs == log_softmax(logits / tau_t)[token], logits recomputed with HF, tau_t from
    the schedule at the 0-based output position."""
    kw = dict((n, k) for n, _, k in mixed_requests())[name]
    prompt = PROMPTS[dict((n, p) for n, p, _ in mixed_requests())[name]]
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


def check_topk_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model):
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
