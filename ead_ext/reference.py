"""Pure-PyTorch reference of ``ead::sample``: the oracle of the tests and the
fallback where the compiled op is missing.

It follows ``csrc/include/ead/sampling_math.h`` operation for operation for
everything that decides the token (float32 scale, Philox4x32-10 noise in NumPy,
score = y + noise, first index of the max), so it draws the same tokens as the
kernels up to float near-ties of the top two scores (log2 implementations may
differ in the last ulp). Log-probabilities and entropy are computed in float64,
the most accurate answer, not the kernels' float32 arithmetic.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ._checks import check_sample_inputs
from .schedule import schedule_temperature

__all__ = ["philox4x32_10", "noise_from_words", "gumbel_noise", "op_temperatures", "sample"]

LOG2E = 1.4426950408889634
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_NOISE_SLOTS_PER_GROUP = 4


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Vectorized Random123 philox4x32_R(10, ctr=(c0..c3), key=(k0, k1)).

    Arguments are broadcastable integer arrays holding 32-bit values; returns four
    uint64 arrays holding the 32-bit output words.
    """
    c0, c1, c2, c3, k0, k1 = (np.asarray(v, dtype=np.uint64) & _MASK32 for v in (c0, c1, c2, c3, k0, k1))
    c0, c1, c2, c3, k0, k1 = np.broadcast_arrays(c0, c1, c2, c3, k0, k1)
    for _ in range(10):
        p0 = _M0 * c0  # < 2^64: exact in uint64
        p1 = _M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _MASK32
        hi1, lo1 = p1 >> np.uint64(32), p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


def _philox_words(seeds: np.ndarray, offsets: np.ndarray, vocab: int) -> np.ndarray:
    """The Philox word of every (row, vocabulary entry): uint64 [B, V] holding 32-bit values."""
    groups = np.arange((vocab + 3) // _NOISE_SLOTS_PER_GROUP, dtype=np.uint64)[None, :]
    seeds = seeds.astype(np.uint64)[:, None]
    offsets = offsets.astype(np.uint64)[:, None]
    words = philox4x32_10(groups, 0, offsets & _MASK32, offsets >> np.uint64(32), seeds & _MASK32,
                          seeds >> np.uint64(32))
    return np.stack(words, axis=-1).reshape(seeds.shape[0], -1)[:, :vocab]


def noise_from_words(words: np.ndarray) -> torch.Tensor:
    """Gumbel noise (log2 units, float32) of 32-bit Philox words, as sampling_math.h's gumbel_noise."""
    # u = (w + 1/2) 2^-32 and e = 1 - u = (~w + 1/2) 2^-32, each rounded to float32 as
    # sampling_math.h does (int64 -> float32 rounds to nearest; + 1/2 rounds again)
    words = np.asarray(words, dtype=np.uint64)
    half, scale = torch.tensor(0.5), torch.tensor(2.0**-32)
    u = (torch.from_numpy(words.astype(np.int64)).to(torch.float32) + half) * scale
    e = (torch.from_numpy((np.uint64(0xFFFFFFFF) - words).astype(np.int64)).to(torch.float32) + half) * scale
    # -log2(u), from the complement where u >= 1/2 (neg_log2_uniform)
    neg_log2_u = torch.where(e <= 0.5, -torch.log1p(-e) * torch.tensor(LOG2E, dtype=torch.float32), -torch.log2(u))
    return -torch.log2(neg_log2_u)


def gumbel_noise(seeds: torch.Tensor, offsets: torch.Tensor, vocab: int) -> torch.Tensor:
    """Gumbel noise in log2 units, float32 [B, V] on the CPU, exactly as the kernels draw it."""
    seeds_np = seeds.detach().cpu().numpy().astype(np.int64).view(np.uint64)
    offsets_np = offsets.detach().cpu().numpy().astype(np.int64).view(np.uint64)
    return noise_from_words(_philox_words(seeds_np, offsets_np, vocab))


def op_temperatures(temperature: Optional[torch.Tensor], positions: Optional[torch.Tensor], tau_max: float,
                    tau_min: float, decay: float, cutoff: int, token_scale: float) -> torch.Tensor:
    """The op's per-row float32 temperature: the ``temperature`` argument, or from position + schedule."""
    if temperature is not None:
        return temperature.detach().to(torch.float32).cpu()
    t = positions.detach().cpu()
    return schedule_temperature(t, tau_max, tau_min, decay, cutoff, token_scale)


def sample(logits: torch.Tensor, temperature: Optional[torch.Tensor], positions: Optional[torch.Tensor],
           seeds: torch.Tensor, offsets: torch.Tensor, tau_max: float, tau_min: float, decay: float,
           cutoff: int, token_scale: float, return_target_logprobs: bool, return_entropy: bool):
    """Same signature, outputs and row flags as ``torch.ops.ead.sample``.

    Returns (tokens int64 [B], logprobs f32 [B], target_logprobs f32 [B] or [0],
    entropy f32 [B] or [0]); an invalid row gets token -1 and NaN statistics.
    """
    check_sample_inputs(logits, temperature, positions, seeds, offsets, tau_max, tau_min, decay, cutoff,
                        token_scale)
    device = logits.device
    B, V = logits.shape
    x = logits.detach().to(torch.float32).cpu()
    tau = op_temperatures(temperature, positions, tau_max, tau_min, decay, cutoff, token_scale)

    bad = ~((tau >= 0) & torch.isfinite(tau))
    if positions is not None:
        bad |= positions.detach().cpu() < 0
    tau = torch.where(bad, torch.ones_like(tau), tau)
    greedy = tau == 0
    s = torch.where(greedy, torch.full_like(tau, LOG2E), (LOG2E / tau.double()).to(torch.float32))
    bad |= ~torch.isfinite(s)
    s = torch.where(bad, torch.full_like(s, LOG2E), s)

    y = x * s[:, None]  # float32, as the kernels
    # no finite logit; or, when sampling, no finite score (x / tau underflows to -inf everywhere:
    # greedy rows compare x itself and stay valid)
    bad |= torch.isnan(x).any(dim=1) | (y == math.inf).any(dim=1) | (x == -math.inf).all(dim=1)
    bad |= ~greedy & (y == -math.inf).all(dim=1)

    score = y + gumbel_noise(seeds, offsets, V) if B else y
    score = torch.where(greedy[:, None], x, score)
    score = torch.where(bad[:, None], torch.zeros_like(score), score)
    tokens = torch.argmax(score, dim=1) if V else torch.zeros(B, dtype=torch.long)

    # Statistics in float64 from the fp32 logits: the most accurate answer.
    x64 = torch.where(bad[:, None], torch.zeros_like(x), x).double()
    tau64 = torch.where(greedy, torch.ones_like(tau), tau).double()
    lp = torch.log_softmax(x64 / tau64[:, None], dim=1)
    idx = tokens[:, None]
    logprobs = lp.gather(1, idx)[:, 0]
    target = torch.log_softmax(x64, dim=1).gather(1, idx)[:, 0]
    entropy = -(lp.exp() * torch.where(lp.isinf(), torch.zeros_like(lp), lp)).sum(dim=1)

    nan = torch.full((B,), math.nan, dtype=torch.float64)
    tokens = torch.where(bad, torch.full_like(tokens, -1), tokens)
    logprobs = torch.where(bad, nan, logprobs)
    target = torch.where(bad, nan, target)
    entropy = torch.where(bad, nan, entropy)
    empty = torch.empty(0, dtype=torch.float32, device=device)
    return (
        tokens.to(device),
        logprobs.to(torch.float32).to(device),
        target.to(torch.float32).to(device) if return_target_logprobs else empty,
        entropy.to(torch.float32).to(device) if return_entropy else empty.clone(),
    )
