"""What the installed vLLM release has, asked by name: every release difference the shims depend on.

The shims never compare version numbers (only :mod:`.plugin` does, to refuse releases it was not
written against); they ask one of these. Each says the release where the fact changes, as read in
that release's sources (vLLM 0.24.0, 0.31/0.32.0, 0.33.0, 0.34.0), and detects it from the code
itself (a module present, a parameter in a signature), so a backport or a patched build answers for
what it is. Nothing here imports vLLM at import time.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
import os

__all__ = ["has_v1_runner", "v2_takes_processors", "has_triton", "v2_topk_takes_vocab",
           "v2_random_takes_topp_only", "validation_error", "engine_uses_v2", "uses_standalone_cpu_runner",
           "cpu_sampler_keeps_seeds_in_mixed_batches", "ENV_V2_RUNNER"]

#: the env var vLLM reads to choose its model runner ("1": V2, "0": V1, unset: vLLM decides)
ENV_V2_RUNNER = "VLLM_USE_V2_MODEL_RUNNER"


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing or half-imported
        return False


def has_v1_runner() -> bool:
    """Model runner V1 (``vllm/v1/sample/sampler.py``, ``vllm/v1/sample/logits_processor/``, the V1
    GPU and CPU runners): present up to 0.33, deleted in 0.34 (where ``VLLM_USE_V2_MODEL_RUNNER``
    other than 1 is an error)."""
    return _has_module("vllm.v1.sample.sampler") and _has_module("vllm.v1.sample.logits_processor")


def v2_takes_processors() -> bool:
    """Model runner V2 loads custom logits processors (``vllm/v1/worker/gpu/sample/logits_processor``):
    from 0.31. Before, the EAD state cannot reach it."""
    return _has_module("vllm.v1.worker.gpu.sample.logits_processor")


def has_triton() -> bool:
    """Whether vLLM found a usable Triton (``vllm.triton_utils.HAS_TRITON``): model runner V2 needs it
    (vLLM picks V1 without it up to 0.33; 0.34's x86 CPU runner needs it too)."""
    try:
        from vllm.triton_utils import HAS_TRITON
    except ImportError:
        return False
    return bool(HAS_TRITON)


def v2_topk_takes_vocab(states_cls) -> bool:
    """``SamplingStates.get_top_k_top_p(..., vocab_size)`` returning a third value,
    ``has_topp_only_rows``: from 0.33 (0.31/0.32: two arguments, two values)."""
    return "vocab_size" in inspect.signature(states_cls.get_top_k_top_p).parameters


def v2_random_takes_topp_only(sampler_cls) -> bool:
    """``Sampler._sample_random(..., has_topp_only_rows, use_fused_sampler)``: from 0.33."""
    return "has_topp_only_rows" in inspect.signature(sampler_cls._sample_random).parameters


def validation_error(message: str) -> Exception:
    """vLLM's request-validation error (``vllm.exceptions.VLLMValidationError``) for ``message``:
    its server answers it with a clean HTTP 400 on every release. Before 0.27 vLLM does not convert
    a bare ``ValueError`` from a processor itself (its catch-all handler answers 400 and then drops
    the keep-alive connection); from 0.34 the V2 validator wraps it. Raising vLLM's own class is
    right on all of them. A ``ValueError`` where the class does not exist."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:
        return ValueError(message)
    return VLLMValidationError(message)


def engine_uses_v2(vllm_config) -> bool:
    """Whether the engine of ``vllm_config`` runs model runner V2: always from 0.34 (V1 deleted);
    0.31-0.33 ask the config (``VllmConfig.use_v2_model_runner``: the env var, watermarking, Triton);
    before, the env var (the plugin pins V1 there)."""
    if not has_v1_runner():
        return True
    prop = getattr(type(vllm_config), "use_v2_model_runner", None)
    if prop is not None:
        try:
            return bool(vllm_config.use_v2_model_runner)
        except Exception:  # noqa: BLE001 - a config the property cannot judge: fall back to the env var
            pass
    return os.environ.get(ENV_V2_RUNNER, "").strip().lower() in ("1", "true")


def uses_standalone_cpu_runner() -> bool:
    """The standalone (no-Triton) CPU model runner, whose ``CPUSampler`` loads no custom processors:
    0.34 on non-x86 CPUs without Triton (``Platform.uses_standalone_cpu_model_runner``)."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    fn = getattr(current_platform, "uses_standalone_cpu_model_runner", None)
    return bool(fn()) if fn is not None else False


@functools.lru_cache(maxsize=None)
def cpu_sampler_keeps_seeds_in_mixed_batches() -> bool:
    """Whether the V1 runner's CPU sampling draws each seeded row from its seed when the batch also
    holds unseeded rows: from 0.32. Before (``TopKTopPSampler.forward_cpu``), every row of such a
    batch is drawn from the global RNG (``compiled_random_sample``), seeds ignored. Detected from that
    method's source. (Only the tests ask: it decides which rows of a stock batch are comparable.)"""
    from vllm.v1.sample.ops.topk_topp_sampler import TopKTopPSampler

    return "compiled_random_sample" not in inspect.getsource(TopKTopPSampler.forward_cpu)
