"""The logits generators of ead-ext's tests and benchmarks: one LLM-like, one flat.

Both are built on the CPU from a seed (the same values on every device), then moved to ``device``.
"""
from __future__ import annotations

import math

import torch

__all__ = ["realistic_logits", "flat_logits"]


def realistic_logits(batch: int, vocab: int, *, seed: int, dtype: torch.dtype = torch.float32,
                     masked_frac: float = 0.0, device="cpu") -> torch.Tensor:
    """LLM-like logits: a heavy-tailed bulk (normal + Laplace, |x| up to ~30) and, per row, a few
    peaked tokens a random margin above the bulk, so rows range from flat to very peaked.

    With ``masked_frac`` > 0 that fraction of entries (never a row's peaked ones) is -inf. Built
    on the CPU (the same values on every device), then moved to ``device``. The one LLM-like
    generator of the tests and the benchmarks.
    """
    g = torch.Generator().manual_seed(seed)
    x = 2.0 * torch.randn(batch, vocab, generator=g)
    lap = torch.empty(batch, vocab).exponential_(1.0, generator=g) - torch.empty(batch, vocab).exponential_(
        1.0, generator=g)
    x = x + lap - 3.0
    if vocab > 1:
        k = min(5, vocab)
        idx = torch.stack([torch.randperm(vocab, generator=g)[:k] for _ in range(batch)]) if batch else \
            torch.empty(0, k, dtype=torch.long)
        top = x.max(dim=1, keepdim=True).values if batch else torch.empty(0, 1)
        # per-row peakedness: margins 0..12 above the bulk's max, the first peak highest
        margin = torch.rand(batch, 1, generator=g) * 12.0
        spread = torch.rand(batch, k, generator=g) * 3.0
        spread[:, 0] = 0.0
        x.scatter_(1, idx, top + margin - spread)
        if masked_frac > 0:
            mask = torch.rand(batch, vocab, generator=g) < masked_frac
            mask.scatter_(1, idx, False)
            x = x.masked_fill(mask, -math.inf)
    x = x.clamp(-30.0, 30.0) if masked_frac == 0 else torch.where(torch.isinf(x), x, x.clamp(-30.0, 30.0))
    return x.to(dtype).to(device)


def flat_logits(batch: int, vocab: int, *, seed: int, dtype: torch.dtype = torch.float32,
                device="cpu") -> torch.Tensor:
    """N(0, 1) rows: no token stands out, every entry needs its noise (the kernels' worst case)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, vocab, generator=g).to(dtype).to(device)
