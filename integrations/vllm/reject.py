"""Where the installed vLLM is unsupported: a logits processor that only rejects EAD requests."""
from __future__ import annotations


def make_rejecting_processor(message: str):
    from vllm.v1.sample.logits_processor import LogitsProcessor

    from .params import EAD_KEY

    class EADUnsupportedProcessor(LogitsProcessor):
        """Fails requests carrying ``extra_args["ead"]`` at admission; plain requests pass."""

        @classmethod
        def validate_params(cls, sampling_params):
            extra = sampling_params.extra_args or {}
            if isinstance(extra, dict) and extra.get(EAD_KEY) not in (None, False):
                raise ValueError(message)

        def __init__(self, vllm_config, device, is_pin_memory):
            pass

        def apply(self, logits):
            return logits

        def is_argmax_invariant(self):
            return True

        def update_state(self, batch_update):
            pass

    return EADUnsupportedProcessor
