"""Pure-PyTorch reference of ``ead::sample``: the oracle of the tests and the
fallback where the compiled op is missing.

It follows the two-level draw of ``csrc/include/ead/sampling_math.h``: the row is
cut into chunks of ``CHUNK_SIZE`` entries; the chunk is drawn by Gumbel-max over
the chunks' log2 masses, then the token by Gumbel-max over the chosen chunk's
scaled logits ``y = fl32(x * s)``; Gumbel variables from 64-bit Philox4x32-10
words (NumPy) in float64. It evaluates every entry of the chosen chunk (no
filters) and the chunk masses in float64, so it draws the kernels' tokens up to
float near-ties (two chunk scores within the kernels' float rounding of their
sums, ~1e-6). Log-probabilities and entropy are computed in float64, the most
accurate answer, not the kernels' float32 arithmetic.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ._checks import check_sample_inputs
from .schedule import schedule_temperature

__all__ = ["CHUNK_SIZE", "philox4x32_10", "stream_words", "noise_from_words", "draw_scores", "inverse_scale", "op_temperatures",
           "sample"]

LOG2E = 1.4426950408889634
CHUNK_SIZE = 2048  # sampling_math.h kChunkSize
LEVEL_TOKEN, LEVEL_CHUNK = 0, 1  # philox.h kLevelToken / kLevelChunk
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)


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


def _as_u64(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t).astype(np.int64).view(np.uint64)


def stream_words(seeds, offsets, level: int, index) -> np.ndarray:
    """The 64-bit words of philox.h's stream: row r's word for ``index[r, j]`` at ``level``
    (0 token, 1 chunk). seeds / offsets: [B]; index: [B, n] or [n]. Returns uint64 [B, n]."""
    seeds, offsets = _as_u64(seeds)[:, None], _as_u64(offsets)[:, None]
    index = np.asarray(index, dtype=np.uint64)
    if index.ndim == 1:
        index = index[None, :]
    o = philox4x32_10(index >> np.uint64(1), level, offsets & _MASK32, offsets >> np.uint64(32), seeds & _MASK32,
                      seeds >> np.uint64(32))
    odd = (index & np.uint64(1)).astype(bool)
    hi = np.where(odd, o[2], o[0])
    lo = np.where(odd, o[3], o[1])
    return (hi << np.uint64(32)) | lo


def noise_from_words(words) -> torch.Tensor:
    """Gumbel noise (log2 units, float64) of 64-bit words, as sampling_math.h's gumbel_noise."""
    w = np.asarray(words, dtype=np.uint64)
    u = (w.astype(np.float64) + 0.5) * 2.0**-64
    e = ((~w).astype(np.float64) + 0.5) * 2.0**-64
    with np.errstate(divide="ignore", invalid="ignore"):
        neg_log2_u = np.where(e <= 0.5, -np.log1p(-e) * LOG2E, -np.log2(u))
        return torch.from_numpy(-np.log2(neg_log2_u))


def inverse_scale(tau: torch.Tensor) -> torch.Tensor:
    """fl32(log2 e / tau) per row (log2 e for greedy rows), as sampling_math.h's inverse_scale."""
    return torch.where(tau == 0, torch.full_like(tau, LOG2E), (LOG2E / tau.double()).to(torch.float32))


def draw_scores(x: torch.Tensor, s: torch.Tensor, seeds, offsets):
    """Both levels of the draw for non-greedy rows of float32 logits x [B, V] with inverse scales s [B]:
    (chunk scores float64 [B, C] (-inf for chunks without mass), chosen chunk [B], token scores
    float64 [B, CHUNK_SIZE] of the chosen chunk (-inf past the vocabulary))."""
    B, V = x.shape
    C = (V + CHUNK_SIZE - 1) // CHUNK_SIZE
    padded = torch.full((B, C * CHUNK_SIZE), -math.inf, dtype=torch.float32)
    padded[:, :V] = x
    chunks = padded.view(B, C, CHUNK_SIZE)
    s64 = s.double()[:, None, None]
    row_max = x.max(dim=1).values.double()[:, None, None]
    # log2 of each chunk's mass relative to 2^(M s), exactly (float64 logsumexp)
    log_mass = torch.logsumexp((chunks.double() - row_max) * s64 * math.log(2), dim=2) * LOG2E
    chunk_noise = noise_from_words(stream_words(seeds, offsets, LEVEL_CHUNK, np.arange(C)))
    chunk_scores = torch.where(log_mass > -math.inf, log_mass + chunk_noise, torch.full_like(log_mass, -math.inf))
    chosen = torch.argmax(chunk_scores, dim=1)
    cx = chunks[torch.arange(B), chosen]  # [B, CHUNK_SIZE]
    y = cx * s[:, None]  # float32, as the kernels
    idx = chosen[:, None].numpy().astype(np.uint64) * np.uint64(CHUNK_SIZE) + np.arange(CHUNK_SIZE, dtype=np.uint64)
    noise = noise_from_words(stream_words(seeds, offsets, LEVEL_TOKEN, idx))
    token_scores = torch.where(y > -math.inf, y.double() + noise, torch.full_like(noise, -math.inf))
    return chunk_scores, chosen, token_scores


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
    s = inverse_scale(tau)
    bad |= ~torch.isfinite(s)
    s = torch.where(bad, torch.full_like(s, LOG2E), s)

    y = x * s[:, None]  # float32, as the kernels
    # no finite logit; or, when sampling, no finite score (x / tau underflows to -inf everywhere:
    # greedy rows compare x itself and stay valid)
    bad |= torch.isnan(x).any(dim=1) | (y == math.inf).any(dim=1) | (x == -math.inf).all(dim=1)
    bad |= ~greedy & (y == -math.inf).all(dim=1)

    # greedy rows: the first argmax of the row (the first chunk holding the max, its first max)
    tokens = torch.argmax(torch.where(bad[:, None], torch.zeros_like(x), x), dim=1)
    draw = ~greedy & ~bad
    if draw.any():
        rows = draw.nonzero()[:, 0]
        _, chosen, token_scores = draw_scores(x[rows], s[rows], seeds.cpu()[rows], offsets.cpu()[rows])
        tokens[rows] = chosen * CHUNK_SIZE + torch.argmax(token_scores, dim=1)

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
