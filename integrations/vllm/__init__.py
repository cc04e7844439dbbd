"""EAD (Exploratory Annealed Decoding) for vLLM rollouts: a drop-in sampler, per request.

A request opts in with ``SamplingParams(extra_args={"ead": {...}})`` (over HTTP: ``"vllm_xargs"``;
see :mod:`.params` for the keys); it is then sampled at the EAD temperature
tau_t of its output position by the fused ``ead.sample`` op, and its log-probs (engine option
``logprobs_mode="processed_logprobs"``) are the behaviour log-probs at tau_t. Requests without it
are sampled by vLLM's own code, unchanged.

Enabling: ``pip install`` registers the ``vllm.general_plugins`` entry point ``ead`` (runs in every
vLLM process); :func:`install` does the same in the calling process. ``EAD_VLLM_DISABLE=1`` turns
both off. Supported vLLM: :data:`SUPPORTED_VLLM`.

Nothing here imports vLLM until :func:`install` / :func:`register` runs.
"""
from .params import ALLOWED_KEYS, EAD_KEY, EADParams, EADParamsError, parse_ead_args
from .plugin import (ENV_DISABLE, SUPPORTED_VLLM, UnsupportedVLLMError, check_version, install, is_disabled,
                     is_installed, register, uninstall)

#: engine keyword arguments EAD rollouts need: behaviour (tau_t) log-probs.
ENGINE_KWARGS = {"logprobs_mode": "processed_logprobs"}

__all__ = ["install", "register", "uninstall", "is_installed", "is_disabled", "check_version", "ENV_DISABLE",
           "SUPPORTED_VLLM", "UnsupportedVLLMError", "parse_ead_args", "EADParams", "EADParamsError",
           "EAD_KEY", "ALLOWED_KEYS", "ENGINE_KWARGS"]
