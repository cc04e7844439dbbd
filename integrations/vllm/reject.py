"""Refusal processors: logits processors that only fail EAD requests at admission, one per runner
interface, registered where the EAD sampler is not installed on that runner (an unknown release, a
layout change, a failed import). vLLM's admission check runs ``validate_params`` of the processors of
the runner the engine uses, so the refusal reaches exactly the engines that would not serve EAD;
plain requests pass and are sampled as stock. They refuse the ``"ead"`` entry and the flat
``ead.<field>`` keys alike (:func:`.rules.is_ead_request`)."""
from __future__ import annotations

from .features import validation_error
from .rules import is_ead_request

__all__ = ["refuse_if_ead", "make_refusal_v1", "make_refusal_v2"]


def refuse_if_ead(sampling_params, message: str) -> None:
    """Raises vLLM's validation error (HTTP 400) with ``message`` if the request asks for EAD."""
    if is_ead_request(getattr(sampling_params, "extra_args", None)):
        raise validation_error(f"ead_ext: EAD requests are refused here: {message}")


def make_refusal_v1(message: str):
    """A V1-interface processor (``vllm.v1.sample.logits_processor``, vLLM <= 0.33) refusing EAD requests."""
    from vllm.v1.sample.logits_processor import LogitsProcessor

    class EADRefusedV1(LogitsProcessor):
        reason = message

        @classmethod
        def validate_params(cls, sampling_params):
            refuse_if_ead(sampling_params, cls.reason)

        def __init__(self, vllm_config, device, is_pin_memory):
            pass

        def apply(self, logits):
            return logits

        def is_argmax_invariant(self):
            return True

        def update_state(self, batch_update):
            pass

    return EADRefusedV1


def make_refusal_v2(message: str):
    """A V2-interface processor (``vllm.v1.worker.gpu.sample.logits_processor``, vLLM >= 0.31)
    refusing EAD requests."""
    from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor

    class EADRefusedV2(LogitsProcessor):
        reason = message

        @classmethod
        def validate_params(cls, sampling_params):
            refuse_if_ead(sampling_params, cls.reason)

        def __init__(self, vllm_config, req_states):
            pass

        def add_request(self, req_idx, sampling_params):
            return False

        def apply(self, logits, ctx):
            return logits

    return EADRefusedV2
