"""Host-side pieces of the V2-runner (GPU default) EAD sampler, on the CPU.

The V2 runner itself needs a GPU and Triton: its end-to-end path is not exercised here (see
integrations/vllm/README.md). This checks the state processor and the per-row temperature.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

import vllm_helpers  # noqa: F401
from vllm_helpers import SKIP_REASON

try:
    from vllm import SamplingParams
    from ead_ext.integrations.vllm import v2
except ImportError:
    pytest.skip(SKIP_REASON, allow_module_level=True)

from ead_ext.integrations.vllm.params import parse_ead_args


def _proc(n=8):
    return v2.EADLogitsProcessorV2(None, SimpleNamespace(device=torch.device("cpu"), max_num_reqs=n))


def test_state_and_row_temperatures_match_schedule():
    p = _proc()
    a = {"tau_max": 1.5, "tau_min": 0.3, "d0": 1.0, "growth": 0.0, "cutoff": 3}
    b = {"preset": "large", "step": 40}
    assert p.add_request(2, SamplingParams(extra_args={"ead": a})) is False
    assert p.add_request(5, SamplingParams(extra_args={"ead": b})) is False
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
    # a slot reused by a plain request is neutralised
    p.add_request(2, SamplingParams())
    p.apply_staged_writes()
    assert float(v2.slot_temperatures(p.table, torch.tensor([2]), torch.tensor([30]))) == 1.0
    assert not p.is_ead_np[2]


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
