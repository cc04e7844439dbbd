"""The vLLM-free rules (integrations/vllm/rules.py): which requests are EAD requests, and which
engines cannot serve them. No vLLM needed; the refusals built on these are tested against the
installed vLLM in test_vllm_refusals.py."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from ead_ext.integrations.vllm.rules import (EngineFacts, fused_op_serves, is_ead_request, unserved_reason,
                                             validate_sampling_params)


@pytest.mark.parametrize("extra", [
    {"ead": {}}, {"ead": True}, {"ead": 1}, {"ead": "small"}, {"ead": '{"tau_min": 0.2}'},
    {"ead.tau_min": 0.2}, {"ead.preset": "small"}, {"ead": {"tau_mni": 1}},  # invalid EAD is still EAD
    {"ead": None, "ead.step": 3}, {"ead": "off"},
])
def test_ead_requests_in_every_spelling(extra):
    assert is_ead_request(extra)


@pytest.mark.parametrize("extra", [None, {}, {"ead": None}, {"ead": False}, {"ead": 0}, {"ead": 0.0},
                                   {"eadx": 1}, {"other": {"ead": 1}}, "not a dict"])
def test_plain_requests(extra):
    assert not is_ead_request(extra)


def test_is_ead_request_agrees_with_the_parser():
    """Every request the parser resolves to EAD parameters is an EAD request, and every one it
    resolves to None is not (the refusals and the samplers judge the same requests)."""
    from ead_ext.integrations.vllm.params import parse_ead_args

    for extra in [{"ead": {}}, {"ead": 1}, {"ead.step": 2}, {"ead": "large"}, {"ead": None}, {"ead": 0},
                  {"ead": False}, {}, None]:
        assert is_ead_request(extra) == (parse_ead_args(extra) is not None), extra


def _sp(**kw):
    base = dict(extra_args=None, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    base.update(kw)
    return SimpleNamespace(**base)


def test_validate_and_fused_rules():
    assert validate_sampling_params(_sp()) is None
    assert validate_sampling_params(_sp(extra_args={"ead": {}})) is not None
    with pytest.raises(ValueError, match="temperature"):
        validate_sampling_params(_sp(extra_args={"ead": {}}, temperature=0.7))
    assert fused_op_serves(_sp()) and fused_op_serves(_sp(top_k=-1))
    assert not fused_op_serves(_sp(top_k=5)) and fused_op_serves(_sp(top_k=50), vocab_size=50)
    assert not fused_op_serves(_sp(top_p=0.9)) and not fused_op_serves(_sp(min_p=0.1))


def test_engine_that_serves():
    assert unserved_reason(EngineFacts(runner="V2")) is None
    assert unserved_reason(EngineFacts(runner="V1", not_installed={"V2": "no Triton"})) is None


@pytest.mark.parametrize("facts, words", [
    (EngineFacts(runner="V2", not_installed={"V2": "ImportError: x"}), ["model runner V2", "ImportError: x"]),
    (EngineFacts(runner="V1", speculative=True), ["speculative decoding", "rejection sampler"]),
    (EngineFacts(runner="V2", watermark=True), ["watermark"]),
    (EngineFacts(runner="V2", standalone_cpu=True), ["standalone CPU model runner"]),
])
def test_each_bypass_has_its_reason(facts, words):
    reason = unserved_reason(facts)
    assert reason is not None and all(w in reason for w in words), reason

