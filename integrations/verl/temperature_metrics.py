"""Per-position temperature metrics of an EAD step (what the schedule sampled each token at)."""
from __future__ import annotations

import torch

from ead_ext.schedule import Schedule

__all__ = ["temperature_bucket_metrics"]


def temperature_bucket_metrics(
    schedule: Schedule, step: int, response_mask: torch.Tensor, bucket_size: int = 128, prefix: str = "ead/temperature"
) -> dict[str, float]:
    """Mean EAD temperature of the valid response tokens, per position bucket, at global step ``step``.

    ``response_mask`` is verl's (batch, response_length) mask; column t is the token sampled after t
    generated tokens (single-turn rollouts), so its temperature is ``schedule.temperature(t, step)``.
    Keys: ``{prefix}/pos_{a}-{b}`` for each bucket [a, b) holding at least one valid token, plus
    ``{prefix}/mean`` over all valid tokens and ``{prefix}/decay`` (d_s).
    """
    if bucket_size <= 0:
        raise ValueError(f"bucket_size must be > 0, got {bucket_size}")
    mask = response_mask.detach().to("cpu").bool()
    length = mask.shape[-1]
    tau = schedule.temperature(torch.arange(length), step=step).to(torch.float64)  # (T,)
    counts = mask.sum(dim=0).to(torch.float64)  # valid tokens per position
    out: dict[str, float] = {f"{prefix}/decay": schedule.at_step(step)}
    total = counts.sum()
    if total > 0:
        out[f"{prefix}/mean"] = float((tau * counts).sum() / total)
    for a in range(0, length, bucket_size):
        b = min(a + bucket_size, length)
        n = counts[a:b].sum()
        if n > 0:
            out[f"{prefix}/pos_{a}-{b}"] = float((tau[a:b] * counts[a:b]).sum() / n)
    return out
