"""Goodness of fit of the op's draws: chi-square of many draws (one batched call, each row its own
Philox offset) against softmax(logits / tau) in float64, and masked (-inf) entries never drawn.

False-alarm rate: each test rejects at p < 1e-4; with the 19 chi-square tests below the chance
that any of them fails on a correct sampler is <= 1.9e-3 (Bonferroni). Seeds are fixed, so the
outcome is deterministic: a failure is reproducible, and a correct sampler fails only if these
particular seeds are among the unlucky <= 0.2 %.

Draw counts: 100,000 draws per test (one call per 10,000-20,000 rows); V = 151,936 rows cost
~0.16 ms each on the 2 cores here (most entries skip the noise), so the five large-vocabulary
tests take ~15 s each.
"""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from sampling_helpers import DTYPES, flat_logits, op, row_ids

P_THRESHOLD = 1e-4
MIN_EXPECTED = 10  # every pooled bin expects >= 10 draws (the usual rule asks for >= 5)
TAUS = [0.1, 0.8, 1.0, 1.2, 2.0]


def dist_logits(V: int, seed: int) -> torch.Tensor:
    """One row: a heavy-tailed bulk plus a cluster of up to 8 tokens within 1.0 of the top, so
    that the tempered distribution has several sizeable categories even at tau = 0.1 and a real
    tail at tau = 2."""
    g = torch.Generator().manual_seed(seed)
    x = 1.5 * torch.randn(V, generator=g) + torch.empty(V).exponential_(1.0, generator=g) - 2.0
    k = min(8, V)
    idx = torch.randperm(V, generator=g)[:k]
    x[idx] = x.max() + 4.0 - torch.rand(k, generator=g)
    return x


def pooled_chisquare(counts: np.ndarray, probs: np.ndarray) -> float:
    """p-value of Pearson's chi-square. Categories are sorted by probability; those expecting
    >= MIN_EXPECTED draws keep their own bin, the rest are pooled in sorted order into bins that
    each expect >= MIN_EXPECTED (a short last bin joins the previous one). Zero-probability
    categories must have no draws (checked by the caller)."""
    n = counts.sum()
    order = np.argsort(-probs, kind="stable")
    exp_sorted = probs[order] * n
    obs_sorted = counts[order]
    f_obs, f_exp = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(obs_sorted, exp_sorted):
        acc_o += o
        acc_e += e
        if acc_e >= MIN_EXPECTED:
            f_obs.append(acc_o)
            f_exp.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 or acc_o > 0:
        if f_exp:
            f_obs[-1] += acc_o
            f_exp[-1] += acc_e
        else:
            f_obs.append(acc_o)
            f_exp.append(acc_e)
    f_obs, f_exp = np.array(f_obs), np.array(f_exp)
    if len(f_obs) < 2:
        return 1.0  # one bin: nothing to test (the distribution is a point mass)
    f_exp *= f_obs.sum() / f_exp.sum()  # float64 round-off only
    return float(stats.chisquare(f_obs, f_exp).pvalue)


def draw(row: torch.Tensor, tau: float, n: int, *, seed: int, per_call: int, dtype=torch.float32) -> np.ndarray:
    """Token counts of n draws of one row: batched calls of per_call broadcast rows (stride 0),
    each row with its own offset."""
    V = row.numel()
    x = row.to(dtype)
    counts = np.zeros(V, dtype=np.int64)
    done = 0
    while done < n:
        b = min(per_call, n - done)
        out = op(x.expand(b, V), temperature=torch.full((b,), tau), seeds=torch.full((b,), seed),
                 offsets=torch.arange(done, done + b), target=False, entropy=False)
        assert (out.tokens >= 0).all()
        counts += np.bincount(out.tokens.numpy(), minlength=V)
        done += b
    return counts


def expected_probs(row: torch.Tensor, tau: float) -> np.ndarray:
    return torch.softmax(row.double() / tau, dim=0).numpy()


@pytest.mark.parametrize("tau", TAUS)
@pytest.mark.parametrize("V", [10, 1000])
def test_chisquare_100k_draws_small_vocab(V, tau):
    row = dist_logits(V, seed=V)
    counts = draw(row, tau, 100_000, seed=1000 + int(tau * 10), per_call=100_000)
    assert counts.sum() == 100_000
    assert pooled_chisquare(counts, expected_probs(row, tau)) > P_THRESHOLD


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_chisquare_100k_draws_half_precision_logits(dtype):
    """Half-precision logits: the target is softmax of the cast values (what the op samples from)."""
    row = dist_logits(1000, seed=77).to(dtype)
    counts = draw(row, 1.0, 100_000, seed=4242, per_call=100_000, dtype=dtype)
    assert pooled_chisquare(counts, expected_probs(row.float(), 1.0)) > P_THRESHOLD


@pytest.mark.parametrize("tau", TAUS)
def test_chisquare_vocab_151936(tau):
    V = 151_936
    row = dist_logits(V, seed=151936)
    counts = draw(row, tau, 100_000, seed=2000 + int(tau * 10), per_call=10_000)
    assert counts.sum() == 100_000
    assert pooled_chisquare(counts, expected_probs(row, tau)) > P_THRESHOLD


def test_masked_entries_are_never_drawn_and_the_rest_fit():
    """100,000 draws at tau = 2 from a row whose masked entries include the largest bulk logits
    (they would carry most of the mass if they were drawn)."""
    V = 1000
    row = dist_logits(V, seed=5)
    g = torch.Generator().manual_seed(6)
    order = torch.argsort(row, descending=True)
    mask = torch.zeros(V, dtype=torch.bool)
    mask[order[8:200]] = True  # the 192 largest below the top cluster
    mask |= torch.rand(V, generator=g) < 0.3
    mask[order[:8]] = False
    row = row.masked_fill(mask, -math.inf)
    counts = draw(row, 2.0, 100_000, seed=9, per_call=100_000)
    assert counts[mask.numpy()].sum() == 0
    probs = expected_probs(row, 2.0)
    assert pooled_chisquare(counts, probs) > P_THRESHOLD


def test_masked_entries_are_never_drawn_across_chunks_of_a_large_vocab():
    """V = 151,936 with three finite entries far apart (most 4096-entry chunks fully masked, the
    finite ones alone in their chunks): only those three are drawn, each 1/3 of the time."""
    V = 151_936
    row = torch.full((V,), -math.inf)
    keep = [5, 70_001, V - 1]
    row[keep] = 3.0
    counts = draw(row, 1.0, 3_000, seed=10, per_call=3_000)
    assert counts.sum() == counts[keep].sum() == 3_000
    assert stats.chisquare(counts[keep]).pvalue > P_THRESHOLD


def test_masked_entries_are_never_drawn_per_row_logits():
    """Many different rows (each its own mask and logits), tau from 0.1 to 3: no masked token."""
    B, V = 20_000, 257
    g = torch.Generator().manual_seed(11)
    x = 3.0 * torch.randn(B, V, generator=g)
    mask = torch.rand(B, V, generator=g) < 0.6
    mask[torch.arange(B), torch.randint(0, V, (B,), generator=g)] = False  # at least one finite entry
    x = x.masked_fill(mask, -math.inf)
    tau = 0.1 + 2.9 * torch.rand(B, generator=g)
    out = op(x, temperature=tau, seeds=torch.arange(B), offsets=torch.arange(B) * 3)
    assert (out.tokens >= 0).all()
    assert not mask[torch.arange(B), out.tokens].any()
    assert torch.isfinite(out.logprobs).all() and torch.isfinite(out.entropy).all()


# ------------------------------------------------------------------------- per device (`device`)

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_masked_entries_are_never_drawn_flat_rows(device, dtype):
    B, V = 256, 40000
    x = flat_logits(B, V, seed=510, dtype=dtype, device=device)
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[torch.randperm(V, generator=torch.Generator().manual_seed(511))[:7]] = True
    x[:, ~allowed.to(device)] = -math.inf
    seeds, offsets = row_ids(B, seed=512, device=device)
    tok, lp, _, ent = op(x, temperature=torch.full((B,), 1.5, device=device), seeds=seeds, offsets=offsets)
    assert allowed[tok.cpu()].all()
    assert torch.isfinite(lp).all() and torch.isfinite(ent).all()


def test_distribution_of_one_broadcast_row_matches_softmax(device):
    """20,000 draws of one small row (a stride-0 batch, distinct offsets): frequencies vs
    softmax(x / tau)."""
    n, tau = 20000, 0.7
    x = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -2.0, 3.0, -math.inf]], device=device).expand(n, 8)
    tok, *_ = op(x, temperature=torch.full((n,), tau, device=device), seeds=torch.full((n,), 99, device=device),
                 offsets=torch.arange(n, device=device))
    p = torch.softmax(x[0].double().cpu() / tau, dim=0)
    counts = torch.bincount(tok.cpu(), minlength=8).double()
    assert counts[7] == 0
    expected = n * p[:7]
    chi2 = float(((counts[:7] - expected) ** 2 / expected).sum())
    assert chi2 < 30.0, (chi2, counts.tolist(), expected.tolist())  # 6 dof: p(chi2 > 30) ~ 4e-5
