"""Shared helpers of the ead::sample tests (CPU and CUDA): op/reference callers
and the near-tie rule for comparing tokens (pytest puts this folder on sys.path, so test modules
import it as `sampling_helpers`). The float64 oracles take the op's tensors on any device and
compute on the CPU; tau may be a float or a per-row tensor wherever it is taken."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ead_ext import reference
from ead_ext.testing import flat_logits, realistic_logits  # noqa: F401  (the one generator of each kind)

# The schedule arguments of the op in schema order (tau_max, tau_min, decay, cutoff, token_scale);
# decay 25 is Schedule().at_step(0).
SCHED = (1.2, 0.1, 25.0, 10, 20.0)
DTYPES = (torch.float32, torch.bfloat16, torch.float16)
LOG2E = 1.4426950408889634

# Near-tie rule (see near_tie_mismatches): two different tokens are accepted only when the scores
# that decided between them, recomputed in float64 by the reference, differ by less than this,
# relative to max(1, |score|): the two chunks' scores when the tokens lie in different chunks
# (the kernels weigh chunks by float32 sums, ~1e-7-1e-6 off the exact masses), else the two
# entries' scores y + noise (float64 noise on both sides: ~1e-16 apart). 1e-5 is a generous
# bound that still rejects any real disagreement (Gumbel gaps are O(1)).
NEAR_TIE_REL = 1e-5


def row_ids(batch: int, *, seed: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row seeds and offsets spanning the whole int64 range (high 32 bits and negatives)."""
    g = torch.Generator().manual_seed(seed)
    seeds = torch.randint(-2**63, 2**63 - 1, (batch,), generator=g, dtype=torch.int64)
    offsets = torch.randint(-2**63, 2**63 - 1, (batch,), generator=g, dtype=torch.int64)
    # a quarter of the rows with small, realistic values (token positions)
    seeds[: batch // 4] = torch.arange(batch // 4)
    offsets[: batch // 4] = torch.arange(batch // 4) * 7
    return seeds.to(device), offsets.to(device)


class Out(NamedTuple):
    tokens: torch.Tensor
    logprobs: torch.Tensor
    target: torch.Tensor
    entropy: torch.Tensor


def call(fn, logits, *, temperature=None, positions=None, seeds, offsets, sched=SCHED, target=True,
         entropy=True) -> Out:
    """Calls ``fn`` (torch.ops.ead.sample or reference.sample) with the op's schema."""
    return Out(*fn(logits, temperature, positions, seeds, offsets, *sched, target, entropy))


def op(logits, **kw) -> Out:
    return call(torch.ops.ead.sample, logits, **kw)


def ref(logits, **kw) -> Out:
    return call(reference.sample, logits, **kw)


def cpu_oracle(logits, **kw) -> Out:
    """The CPU op when compiled (the same stream as the reference), else the reference, on CPU
    copies of the arguments: what another device's op is compared with."""
    import ead_ext
    fn = torch.ops.ead.sample if ead_ext.has_compiled_op("cpu") else reference.sample
    return call(fn, logits.cpu(), **{k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()})


def oracle(device: str):
    """What the op on ``device`` is compared with: the reference on the CPU, the CPU op (or the
    reference) elsewhere."""
    return ref if device == "cpu" else cpu_oracle


def cuda_skip_reason() -> str:
    """Why the CUDA variant of a test cannot run here ("" where it can)."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    import ead_ext
    if not ead_ext.has_compiled_op("cuda"):
        return ("ead_ext was built without the CUDA op (needs a CUDA build of torch and nvcc at build time; "
                f"backend_info: {ead_ext.backend_info()})")
    return ""


def per_row_tau(tau, batch: int) -> torch.Tensor:
    """tau (a float or a per-row tensor, on any device) as a float32 CPU tensor of ``batch`` rows:
    the values the op sees."""
    t = torch.as_tensor(tau).to(torch.float32).cpu()
    return t.expand(batch) if t.dim() == 0 else t


def decisive_scores(x_row: torch.Tensor, tau: float, seed: int, offset: int, a: int, b: int) -> tuple[float, float]:
    """The float64 scores that decide between tokens a and b of one row in the two-level draw
    (sampling_math.h): their chunks' scores if they lie in different chunks, else their own
    scores y + noise; greedy rows (tau == 0) compare the raw logits."""
    x = x_row.float().cpu()[None, :]
    if tau == 0:
        return float(x[0, a]), float(x[0, b])
    s = reference.inverse_scale(torch.tensor([tau], dtype=torch.float32))
    seeds, offsets = torch.tensor([seed]), torch.tensor([offset])
    ca, cb = a // reference.CHUNK_SIZE, b // reference.CHUNK_SIZE
    if ca != cb:
        chunk_scores, _, _ = reference.draw_scores(x, s, seeds, offsets)
        return float(chunk_scores[0, ca]), float(chunk_scores[0, cb])
    y = (x[0, [a, b]] * s).double()
    noise = reference.noise_from_words(reference.stream_words(seeds, offsets, reference.LEVEL_TOKEN, [a, b]))[0]
    return float(y[0] + noise[0]), float(y[1] + noise[1])


def near_tie_mismatches(logits, tau, seeds, offsets, tok_a, tok_b) -> list[tuple[int, int, int, float]]:
    """Rows where tok_a != tok_b. Every such row must be a float near-tie of the scores that decide
    between the two tokens (decisive_scores; |s_a - s_b| < NEAR_TIE_REL * max(1, |s_a|, |s_b|)); an
    AssertionError names any row that is not. Returns (row, tok_a, tok_b, relative gap) for the
    accepted near-ties."""
    tok_a, tok_b = tok_a.cpu(), tok_b.cpu()  # the op's tokens may be on a GPU; the oracle runs here
    diff = (tok_a != tok_b).nonzero()[:, 0].tolist()
    if not diff:
        return []
    tau = per_row_tau(tau, logits.shape[0])
    x, seeds, offsets = logits.cpu(), seeds.cpu(), offsets.cpu()
    ties, bad = [], []
    for r in diff:
        a, b = int(tok_a[r]), int(tok_b[r])
        if a < 0 or b < 0:
            bad.append((r, a, b, math.inf))
            continue
        sa, sb = decisive_scores(x[r], float(tau[r]), int(seeds[r]), int(offsets[r]), a, b)
        gap = abs(sa - sb) / max(1.0, abs(sa), abs(sb))
        (ties if gap < NEAR_TIE_REL else bad).append((r, a, b, gap))
    assert not bad, f"token mismatches that are not float near-ties (row, a, b, rel. gap): {bad[:10]}"
    return ties


def exact_log_softmax(logits: torch.Tensor, tau) -> torch.Tensor:
    """float64 log_softmax(logits.float() / tau) per row; tau is a float or a per-row tensor (its
    float32 values, as the op sees them); tau 0 -> 1, the statistics greedy rows report."""
    x = logits.cpu().float().double()
    tau = per_row_tau(tau, x.shape[0]).to(torch.float64)
    tau = torch.where(tau == 0, torch.ones_like(tau), tau).reshape(-1, 1)
    return torch.log_softmax(x / tau, dim=1)


def exact_entropy(lp: torch.Tensor) -> torch.Tensor:
    p = lp.exp()
    return -(p * torch.where(torch.isinf(lp), torch.zeros_like(lp), lp)).sum(dim=1)


def at(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return t.gather(1, idx.cpu().reshape(-1, 1))[:, 0]


def temperatures(batch: int, *, seed: int, greedy_frac: float = 0.1, device="cpu") -> torch.Tensor:
    """A mix of per-row temperatures in [0.05, 2.5] and some greedy (0) rows."""
    g = torch.Generator().manual_seed(seed)
    choices = torch.tensor([0.1, 0.25, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0])
    t = torch.where(torch.rand(batch, generator=g) < 0.5, choices[torch.randint(0, len(choices), (batch,),
                                                                                 generator=g)],
                    0.05 + 2.45 * torch.rand(batch, generator=g))
    t[torch.rand(batch, generator=g) < greedy_frac] = 0.0
    return t.float().to(device)


def as_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


__all__ = ["SCHED", "DTYPES", "LOG2E", "NEAR_TIE_REL", "realistic_logits", "flat_logits", "row_ids", "cpu_oracle", "oracle", "cuda_skip_reason",
           "Out", "call", "op", "ref", "per_row_tau", "decisive_scores", "near_tie_mismatches", "exact_log_softmax", "exact_entropy", "at",
           "temperatures", "as_np", "fp32_scaling_tol"]


def fp32_scaling_tol(logits: torch.Tensor, tau, base: float = 1e-5) -> torch.Tensor:
    """Per-row tolerance of fp32 log-probs against float64 log_softmax(x / tau).

    The kernels form y = fl32(x * log2(e) / tau): each entry carries a relative rounding error of
    2^-24, i.e. up to 2^-24 * |x| / tau nats, and a log-softmax moves by at most twice the largest
    input perturbation. So the reachable accuracy is base + 2^-23 * max|x| / tau: 1e-5 plus a term
    that matters only for large |x| / tau (e.g. |x| = 30 at tau = 0.1 adds 3.6e-5).
    """
    x = logits.cpu().float()
    finite = torch.where(torch.isfinite(x), x.abs(), torch.zeros_like(x))
    tau = per_row_tau(tau, x.shape[0])
    tau = torch.where(tau == 0, torch.ones_like(tau), tau).double()
    return base + 2.0**-23 * finite.max(dim=1).values.double() / tau
