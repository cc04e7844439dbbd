"""The V2-runner EAD pieces (integrations/vllm/v2.py) on their own.

* Host side (every run): the state processor and the per-row temperature.
* vLLM's V2 ``Sampler`` driven directly (only where vLLM's Triton kernels run, i.e. in the session of
  scripts/test_vllm_v2.sh on a CPU; skipped elsewhere): one step mixing every kind of row against the
  stock ``Sampler`` and the fused op, and the distribution of the op's rows over positions. The whole
  engine on the V2 runner is tested by test_vllm_v2_engine.py.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON, skip_unless_v2

try:
    from vllm import SamplingParams
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)
try:
    from ead_ext.integrations.vllm import v2
except ImportError as e:  # vLLM < 0.31: no vllm.v1.worker.gpu.sample.logits_processor
    pytest.skip(f"ead_ext.integrations.vllm.v2 does not import with this vLLM ({e}): its V2 model runner has no "
                "custom logits processors (vLLM < 0.31), and the plugin keeps EAD on the V1 runner",
                allow_module_level=True)

from ead_ext.integrations.vllm.params import parse_ead_args
from ead_ext.schedule import SHAPES


def _proc(n=8, **kw):
    """The state processor alone, with a stand-in for the EADSamplerV2 that attaches to it."""
    p = v2.EADLogitsProcessorV2(None, SimpleNamespace(device=torch.device("cpu"), max_num_reqs=n, **kw))
    p.sampler = "stand-in for the EADSamplerV2 reading the table"
    return p


def test_state_and_row_temperatures_match_schedule():
    p = _proc()
    a = {"tau_max": 1.5, "tau_min": 0.3, "d0": 1.0, "growth": 0.0, "cutoff": 3}
    b = {"preset": "large", "step": 40}
    assert p.add_request(2, SamplingParams(extra_args={"ead": a})) is False
    assert p.add_request(5, SamplingParams(extra_args={"ead": b}, top_k=5)) is False
    assert p.add_request(1, SamplingParams()) is False
    p.apply_staged_writes()
    slots = torch.tensor([2, 5, 1, 2, 5])
    t = torch.tensor([0, 7, 4, 30, 250])
    got = v2.slot_temperatures(p.table, slots, t)
    ea, eb = parse_ead_args({"ead": a}), parse_ead_args({"ead": b})
    want = torch.stack([ea.temperature(torch.tensor(0)), eb.temperature(torch.tensor(7)), torch.tensor(1.0),
                        ea.temperature(torch.tensor(30)), eb.temperature(torch.tensor(250))])
    assert torch.equal(got, want)
    assert p.is_ead_np.tolist() == [False, False, True, False, False, True, False, False]
    assert p.fused_np.tolist() == [False, False, True, False, False, False, False, False]  # slot 5 has top-k
    # a slot reused by a plain request is neutralised
    p.add_request(2, SamplingParams())
    p.apply_staged_writes()
    assert float(v2.slot_temperatures(p.table, torch.tensor([2]), torch.tensor([30]))) == 1.0
    assert not p.is_ead_np[2] and not p.fused_np[2]


def test_slots_of_several_shapes_in_one_step():
    """Each slot keeps its own shape and step factor; the host names the shapes of the step."""
    p = _proc()
    reqs = {0: {"shape": "token_length", "d0": 2.0, "step": 3}, 3: {"shape": "both", "d0": 2.0, "step": 3},
            4: {"d0": 2.0, "step": 3}, 6: {"shape": "steps_variant", "step": 9}}
    for slot, fields in reqs.items():
        p.add_request(slot, SamplingParams(extra_args={"ead": fields}))
    p.add_request(1, SamplingParams())
    p.apply_staged_writes()
    slots = torch.tensor([0, 3, 4, 6, 1, 0, 3, 4, 6])
    t = torch.tensor([0, 0, 0, 0, 5, 60, 60, 60, 60])
    mapping = np.array([0, 3, 4, 6, 1])
    shapes = p.shapes_of(mapping)
    assert shapes == tuple(sorted(SHAPES.index(s) for s in ("token_length", "both", "negexp", "steps_variant")))
    got = v2.slot_temperatures(p.table, slots, t, shapes)
    want = [1.0 if slot == 1 else float(parse_ead_args({"ead": reqs[slot]}).temperature(torch.tensor([pos]))[0])
            for slot, pos in zip(slots.tolist(), t.tolist())]
    assert got.tolist() == want
    assert len(set(want[5:])) == 4  # four shapes, four temperatures at t = 60
    assert p.shapes_of(np.array([4, 1])) == (0,)  # only the default shape: the one-formula path


def test_fused_slots_are_ead_without_top_k_top_p_min_p():
    p = _proc(vocab_size=50)
    ead = {"ead": {}}
    for i, kw in enumerate([{}, {"top_k": 50}, {"top_k": 80}, {"top_k": 49}, {"top_p": 0.9}, {"min_p": 0.1}]):
        p.add_request(i, SamplingParams(extra_args=ead, **kw))
    p.apply_staged_writes()
    assert p.fused_np[:6].tolist() == [True, True, True, False, False, False]  # top_k >= vocab: no top-k
    assert p.min_p_np[:6].tolist() == [False] * 5 + [True]
    assert p.table[:6, v2._FUSED].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_top_k_top_p_adapter_follows_the_release_signature(monkeypatch):
    """vLLM 0.31/0.32: get_top_k_top_p(mapping, mapping_np) -> (top_k, top_p); 0.33 (as in its
    vllm/v1/worker/gpu/sample/states.py and sampler.py): get_top_k_top_p(mapping, mapping_np,
    vocab_size) -> (top_k, top_p, has_topp_only_rows), which _sample_random then takes."""
    from ead_ext.integrations.vllm import plugin

    # the signature detection gives the release's fact: both changes came with 0.33
    is_033 = plugin._vllm_version()[0] >= (0, 33)
    assert v2._TOPK_TAKES_VOCAB is is_033 and v2._RANDOM_TAKES_TOPP_ONLY is is_033

    class States032:
        def get_top_k_top_p(self, expanded_idx_mapping, idx_mapping_np):
            return "k", "p"

    class States033:
        def get_top_k_top_p(self, expanded_idx_mapping, idx_mapping_np, vocab_size):
            return "k", "p", vocab_size == 50

    monkeypatch.setattr(v2, "_TOPK_TAKES_VOCAB", False)
    monkeypatch.setattr(v2, "_RANDOM_TAKES_TOPP_ONLY", False)
    assert v2._top_k_top_p(States032(), None, None, 50) == ("k", "p", {})
    monkeypatch.setattr(v2, "_TOPK_TAKES_VOCAB", True)
    monkeypatch.setattr(v2, "_RANDOM_TAKES_TOPP_ONLY", True)
    assert v2._top_k_top_p(States033(), None, None, 50) == ("k", "p", {"has_topp_only_rows": True})


def test_state_without_the_ead_sampler_stops_instead_of_sampling_at_tau_1():
    """The last line in the worker: a V2 runner that built another sampler (no EADSamplerV2 attached
    to the state processor) stops on the first EAD request instead of sampling it at tau = 1."""
    p = v2.EADLogitsProcessorV2(None, SimpleNamespace(device=torch.device("cpu"), max_num_reqs=4))
    assert p.add_request(0, SamplingParams()) is False
    with pytest.raises(RuntimeError, match="not the EAD sampler"):
        p.add_request(1, SamplingParams(extra_args={"ead.tau_min": 0.3}))


def test_v2_validate_params():
    with pytest.raises(ValueError, match="tau_mni"):
        v2.EADLogitsProcessorV2.validate_params(SamplingParams(extra_args={"ead": {"tau_mni": 1}}))
    v2.EADLogitsProcessorV2.validate_params(SamplingParams())


def test_v2_install_rebinds_sampler_and_loader():
    import vllm.v1.worker.gpu.sample.logits_processor.loader as loader
    import vllm.v1.worker.gpu.sample.sampler as sampler_mod

    from ead_ext.integrations.vllm import install

    install()
    assert sampler_mod.Sampler is v2.EADSamplerV2
    assert v2.EADLogitsProcessorV2 in loader._load_v2_logitsprocs_plugins()


# ---------------------------------------------------------------- the V2 Sampler driven directly
V = 48
SCHED = {"tau_max": 1.5, "tau_min": 0.4, "decay": 1.0, "cutoff": 2, "token_scale": 10.0}  # 1.28 at t=2, 0.4 from 8


@pytest.fixture(scope="module")
def v2_kernels():
    """vLLM's Triton kernels must run (a GPU, or Triton's interpreter with the v2_support backend)."""
    from vllm.triton_utils import HAS_TRITON

    if not HAS_TRITON:
        skip_unless_v2("vLLM's V2 sampler kernels cannot run here (vllm.triton_utils.HAS_TRITON is False)")
    import vllm.v1.worker.cpu.shm  # noqa: F401  (the CPU patches cpu_worker applies for the V2 runner)
    from vllm.config import VllmConfig
    from vllm.plugins import load_general_plugins

    load_general_plugins()  # as in every vLLM process: ead_ext's plugin and, interpreted, v2_support's fix
    return VllmConfig()


def _sampler(cfg, cls):
    """What GPUModelRunner.__init__ builds: the request state, the custom processors, the Sampler."""
    from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcRequestState
    from vllm.v1.worker.gpu.states import RequestState

    rs = RequestState(max_num_reqs=16, max_model_len=64, max_num_batched_tokens=64, num_speculative_steps=0,
                      vocab_size=V, device=torch.device("cpu"))
    # the stock Sampler gets no EAD state (with it, the state's worker check stops on EAD requests)
    procs = [v2.EADLogitsProcessorV2(cfg, LogitsProcRequestState.from_request_state(rs))] if cls is v2.EADSamplerV2 else []
    s = cls(vllm_config=cfg, max_num_reqs=16, vocab_size=V, device=torch.device("cpu"), req_states=rs,
            logprobs_mode="processed_logprobs", custom_logits_processors=procs)
    return s, rs


def _add(s, rs, params, prompt_len=4):
    """Admits the requests (prompt computed) as the runner does; returns their slots."""
    slots = []
    for i, sp in enumerate(params):
        rs.add_request(f"r{i}", prompt_len, list(range(1, prompt_len + 1)), num_computed_tokens=prompt_len,
                       max_tokens=32)
        slots.append(rs.req_id_to_index[f"r{i}"])
        s.add_request(slots[-1], sp)
    rs.apply_staged_writes()
    s.apply_staged_writes()
    return slots


def _batch(slots, pos):
    """The InputBatch fields Sampler.__call__ reads: one decode token per request."""
    import numpy as np

    n = len(slots)
    idx = torch.tensor(slots, dtype=torch.int32)
    pos_t = torch.tensor(pos, dtype=torch.int64)
    return SimpleNamespace(
        num_reqs=n, idx_mapping=idx, idx_mapping_np=np.asarray(slots, dtype=np.intp), expanded_idx_mapping=idx,
        expanded_local_pos=torch.zeros(n, dtype=torch.int32), cu_num_logits=torch.arange(n + 1, dtype=torch.int32),
        cu_num_logits_np=np.arange(n + 1, dtype=np.int32), positions=pos_t, input_ids=torch.zeros(n, dtype=torch.int32),
        logits_indices=torch.arange(n), seq_lens=(pos_t + 1).to(torch.int32),
        seq_lens_cpu_upper_bound=(pos_t + 1).to(torch.int32))


def _tau(t):
    return parse_ead_args({"ead": SCHED}).temperature(torch.as_tensor(t)).float()


@pytest.mark.v2_kernels
def test_sampler_step_mixing_every_kind_of_row(v2_kernels):
    """One step: op rows == the op on that row alone (keyed by seed and output position, at tau_t);
    every other row, tokens and processed log-probs, == the stock Sampler on the logits with the
    EAD rows divided by tau_t (min-p after that division); plain rows thereby == stock exactly."""
    from ead_ext.ops import sample_at_temperatures

    Sampler = v2.EADSamplerV2.__bases__[0]  # vLLM's own (the plugin has rebound the module's name)

    e = {"ead": SCHED}
    rows = [  # (SamplingParams kwargs, served by the op)
        (dict(seed=101, extra_args=e), True),
        (dict(extra_args=e), True),  # unseeded: vLLM's random slot seed
        (dict(seed=102, top_k=6, extra_args=e), False),
        (dict(seed=103, top_p=0.7, extra_args=e), False),
        (dict(seed=104, min_p=0.2, extra_args=e), False),
        (dict(seed=105, top_k=5), False),
        (dict(seed=106, temperature=0.7, top_p=0.8), False),
        (dict(temperature=0.0), False),
        (dict(seed=107, min_p=0.1, presence_penalty=0.5), False),
        *[(dict(seed=110 + i, extra_args=e), True) for i in range(4)],  # more op rows: a wrong path shows
    ]
    params = [SamplingParams(logprobs=2, **kw) for kw, _ in rows]
    ead_s, ead_rs = _sampler(v2_kernels, v2.EADSamplerV2)
    ref_s, ref_rs = _sampler(v2_kernels, Sampler)
    slots = _add(ead_s, ead_rs, params)
    assert _add(ref_s, ref_rs, params) == slots
    ref_s.sampling_states.seeds.np[:] = ead_s.sampling_states.seeds.np  # the unseeded row's random seed too
    ref_s.sampling_states.seeds.copy_to_uva()
    t = torch.tensor([2, 6, 5, 3, 7, 1, 4, 6, 7, 2, 3, 4, 5])
    pos = (t + 3).tolist()  # prompt_len - 1 + t
    torch.manual_seed(0)
    logits = torch.randn(len(rows), V) * 2
    is_ead = torch.tensor(["ead" in kw.get("extra_args", {}) for kw, _ in rows])
    tau = torch.where(is_ead, _tau(t), 1.0)
    assert tau[is_ead].min() < 0.9 and tau[is_ead].max() > 1.1  # the schedule is really at work

    out = ead_s(logits.clone(), _batch(slots, pos))
    ref = ref_s(logits / tau.unsqueeze(1), _batch(slots, pos))
    got_tok, got_lp = out.sampled_token_ids.view(-1), out.logprobs_tensors.logprobs
    seeds = ead_s.sampling_states.seeds.gpu[torch.tensor(slots)]
    for i, (_, fused) in enumerate(rows):
        if fused:
            want = sample_at_temperatures(logits[i:i + 1], tau[i:i + 1], seeds[i:i + 1], t[i:i + 1])[0]
            assert int(got_tok[i]) == int(want), i
            lp = torch.log_softmax(logits[i] / tau[i], -1)
            assert torch.allclose(got_lp[i], lp[out.logprobs_tensors.logprob_token_ids[i]], atol=1e-5), i
        else:
            assert int(got_tok[i]) == int(ref.sampled_token_ids[i]), i
            assert torch.equal(got_lp[i], ref.logprobs_tensors.logprobs[i]), i
    assert int(got_tok[7]) == int(logits[7].argmax())  # greedy
    # min-p at tau_t (row 4), not at tau = 1: the kept set differs there
    m = logits[4] - logits[4].max()
    assert (m >= tau[4] * torch.log(torch.tensor(0.2))).sum() != (m >= torch.log(torch.tensor(0.2))).sum()

    # The op's rows come out the same when the step holds only them (the all-op path).
    solo_s, solo_rs = _sampler(v2_kernels, v2.EADSamplerV2)
    solo = _add(solo_s, solo_rs, [params[0]])
    o = solo_s(logits[:1].clone(), _batch(solo, pos[:1]))
    assert int(o.sampled_token_ids[0]) == int(got_tok[0])
    assert torch.allclose(o.logprobs_tensors.logprobs[0], got_lp[0], atol=1e-6)


@pytest.mark.v2_kernels
def test_op_rows_distribution_over_positions(v2_kernels):
    """400 draws of one seeded EAD request at positions 0..399 (fresh noise per position), in steps
    that also hold a plain row: counts match sum_t softmax(logits / tau_t) (chi-square)."""
    sched = {"tau_max": 1.5, "tau_min": 0.6, "decay": 30.0, "cutoff": 2, "token_scale": 1.0}
    s, rs = _sampler(v2_kernels, v2.EADSamplerV2)
    ead_slot, plain_slot = _add(s, rs, [SamplingParams(seed=2024, extra_args={"ead": sched}), SamplingParams(seed=3)])
    n = 400
    torch.manual_seed(1)
    row = torch.randn(V)
    slots = [ead_slot] * n + [plain_slot]
    toks = s(row.expand(n + 1, V).contiguous(), _batch(slots, [3 + t for t in range(n)] + [3])).sampled_token_ids
    taus = parse_ead_args({"ead": sched}).temperature(torch.arange(n)).float()
    expect = torch.softmax(row.unsqueeze(0) / taus.unsqueeze(1), -1).sum(0).double()
    obs = torch.bincount(toks.view(-1)[:n], minlength=V).double()
    keep = expect > 5
    rest_o, rest_e = obs[~keep].sum(), expect[~keep].sum()
    chi2 = float((((obs - expect) ** 2) / expect)[keep].sum() + (rest_o - rest_e) ** 2 / rest_e.clamp_min(1e-9))
    dof = int(keep.sum())
    assert chi2 < dof + 5 * (2 * dof) ** 0.5, (chi2, dof)
    assert float(taus.max() - taus.min()) > 0.5


@pytest.mark.v2_kernels
def test_state_is_flushed_on_admitting_steps_only(v2_kernels):
    """vLLM 0.34 calls apply_staged_writes() only on steps that admit requests: the EAD state staged
    at admission is on the device from then on, through steps without a flush; a slot freed and
    reused by a plain request on a later admitting step is sampled as stock from there."""
    from ead_ext.ops import sample_at_temperatures

    s, rs = _sampler(v2_kernels, v2.EADSamplerV2)
    ref, ref_rs = _sampler(v2_kernels, v2.EADSamplerV2.__bases__[0])
    a = SamplingParams(seed=11, extra_args={"ead": SCHED})
    (slot_a,) = _add(s, rs, [a])
    _add(ref, ref_rs, [a])
    torch.manual_seed(3)
    for t in range(1, 9):  # decode steps, nothing admitted: no apply_staged_writes
        logits = torch.randn(1, V) * 2
        out = s(logits.clone(), _batch([slot_a], [3 + t]))
        want = sample_at_temperatures(logits, _tau([t]), s.sampling_states.seeds.gpu[[slot_a]], torch.tensor([t]))[0]
        assert int(out.sampled_token_ids[0]) == int(want), t
    # the request leaves; a plain request takes its slot on an admitting step
    plain = SamplingParams(seed=12, logprobs=1)
    for st, r in ((s, rs), (ref, ref_rs)):
        r.remove_request("r0")
        r.add_request("p0", 4, [1, 2, 3, 4], num_computed_tokens=4, max_tokens=32)
        st.add_request(r.req_id_to_index["p0"], plain)
        r.apply_staged_writes()
        st.apply_staged_writes()
    slot_p = rs.req_id_to_index["p0"]
    assert slot_p == ref_rs.req_id_to_index["p0"]
    assert not s._ead.is_ead_np[slot_p]
    logits = torch.randn(1, V) * 2
    got = s(logits.clone(), _batch([slot_p], [5]))
    stock = ref(logits.clone(), _batch([slot_p], [5]))
    assert int(got.sampled_token_ids[0]) == int(stock.sampled_token_ids[0])
    assert torch.equal(got.logprobs_tensors.logprobs, stock.logprobs_tensors.logprobs)


@pytest.mark.v2_kernels
def test_admission_errors_are_vllm_validation_errors(v2_kernels):
    """What vLLM's V2 admission check (the front end's validator, built from the plugin loader the
    plugin extended) answers for bad EAD arguments: vLLM's own validation error (HTTP 400)."""
    import vllm.v1.worker.gpu.sample.logits_processor.loader as loader
    from vllm.exceptions import VLLMValidationError

    build = getattr(loader, "build_custom_logits_processors_params_validator", None)
    if build is None:  # 0.31/0.32: the front end calls each class's validate_params
        def build(procs):
            return lambda sp: [c.validate_params(sp) for c in loader._cached_load_v2_logitsprocs(())]
    loader._cached_load_v2_logitsprocs.cache_clear()
    assert v2.EADLogitsProcessorV2 in loader._cached_load_v2_logitsprocs(())
    validate = build(())
    validate(SamplingParams(extra_args={"ead": SCHED}))
    validate(SamplingParams(temperature=0.3))
    for bad, word in (({"ead": {"tau_mni": 1}}, "tau_mni"), ({"ead.tau_min": -1.0}, "tau_min")):
        with pytest.raises(VLLMValidationError, match=word):
            validate(SamplingParams(extra_args=bad))
    with pytest.raises(VLLMValidationError, match="temperature"):
        validate(SamplingParams(temperature=0.5, extra_args={"ead": True}))
