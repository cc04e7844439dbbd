"""The vLLM-free rules of the EAD sampler, shared by both runners' shims and the admission guard.

* which requests are EAD requests (:func:`is_ead_request`: the ``"ead"`` entry or any flat
  ``ead.<field>`` key, valid or not, so that a refusal cannot be side-stepped by spelling);
* request validation (:func:`validate_sampling_params`) and which EAD rows the fused op draws
  (:func:`fused_op_serves`);
* where an engine cannot serve EAD at all (:class:`EngineFacts`, :func:`unserved_reason`).

No vLLM import here (the module is tested without vLLM, and every vLLM-facing module imports it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .params import EAD_KEY, EADParams, EADParamsError, parse_ead_args

__all__ = ["is_ead_request", "validate_sampling_params", "fused_op_serves", "EngineFacts", "unserved_reason"]

_FLAT_PREFIX = EAD_KEY + "."


def is_ead_request(extra_args: Optional[Mapping[str, Any]]) -> bool:
    """Whether a request asks for EAD: ``extra_args["ead"]`` other than None/false/0, or any
    ``ead.<field>`` key (the HTTP spelling). An invalid EAD entry counts (it is an EAD request)."""
    if not extra_args or not isinstance(extra_args, Mapping):
        return False
    if any(isinstance(k, str) and k.startswith(_FLAT_PREFIX) for k in extra_args):
        return True
    raw = extra_args.get(EAD_KEY)
    return not (raw is None or raw is False or (type(raw) in (int, float) and raw == 0))


def validate_sampling_params(sampling_params) -> Optional[EADParams]:
    """Parses a request's EAD arguments and checks they fit its other sampling parameters."""
    ead = parse_ead_args(sampling_params.extra_args)
    if ead is None:
        return None
    temp = sampling_params.temperature
    if temp is not None and abs(float(temp) - 1.0) > 1e-6:
        raise EADParamsError(
            f"extra_args['ead']: the EAD schedule sets the temperature; leave the request's temperature at 1.0 "
            f"(got temperature={temp}; 0 would mean greedy, which EAD is not)")
    return ead


def fused_op_serves(sampling_params, vocab_size: Optional[int] = None) -> bool:
    """Whether the fused op draws an EAD request's tokens (both runners): no top-k (k <= 0, or
    k >= vocab_size where the caller knows it, as vLLM's V2 SamplingStates reads it), no top-p
    (p >= 1), no min-p. Otherwise vLLM's own sampling does, at tau_t."""
    k, p = sampling_params.top_k, sampling_params.top_p
    no_k = k is None or k <= 0 or (vocab_size is not None and k >= vocab_size)
    return no_k and (p is None or p >= 1.0) and not sampling_params.min_p


@dataclass(frozen=True)
class EngineFacts:
    """What decides whether an engine's sampling goes through the EAD sampler (read from its config
    by :func:`.admission.engine_facts`)."""

    runner: str  # "V1" or "V2": the model runner the engine uses
    speculative: bool = False  # a speculative_config: the rejection sampler draws, bypassing Sampler.sample
    watermark: bool = False  # a watermark_config: vLLM builds GPUWatermarkSampler, not the EAD sampler
    standalone_cpu: bool = False  # vLLM's standalone CPU runner (CPUSampler, no custom processors)
    #: per runner, why the EAD sampler is not installed there (no entry: installed)
    not_installed: Mapping[str, str] = field(default_factory=dict)


def unserved_reason(facts: EngineFacts) -> Optional[str]:
    """Why EAD requests cannot be served by this engine (None: they are). Each reason names the
    setting and what to change, for the HTTP 400 the request gets."""
    if facts.runner in facts.not_installed:
        return (f"the EAD sampler is not installed on vLLM's model runner {facts.runner}, which this engine "
                f"uses: {facts.not_installed[facts.runner]}")
    if facts.speculative:
        return ("speculative decoding is on (speculative_config): vLLM's rejection sampler draws those tokens "
                "at the request's temperature, bypassing the EAD sampler. Start the engine without "
                "speculative decoding to serve EAD requests")
    if facts.watermark:
        return ("watermarking is on (watermark_config): vLLM samples with its watermark sampler, not the EAD "
                "sampler. Start the engine without watermarking to serve EAD requests")
    if facts.standalone_cpu:
        return ("vLLM runs its standalone CPU model runner (no Triton on this non-x86 CPU), whose sampler "
                "loads no custom logits processors. Install Triton for this CPU to serve EAD requests")
    return None
