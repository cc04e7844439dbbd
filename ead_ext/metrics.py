"""Evaluation metrics for sampled answers: Pass@k, Best@k, Worst@k, Majority@N, with CIs.

All per-prompt metrics take the ``n`` samples drawn for one prompt and estimate what
``k`` samples would give, using every sample (lower variance than using the first k).

Pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): the
probability that at least one of k samples drawn without replacement from the n is
correct, ``1 - C(n-c, k) / C(n, k)`` with c correct samples. It is computed as the
product ``1 - prod_{i=n-c+1}^{n} (1 - k / i)``: no huge binomials, stable for n in the
thousands. A sample is correct when its reward is >= ``threshold`` (1.0 for binary
verifiers).

Best@k / Worst@k: the expected maximum / minimum reward of a uniformly random size-k
subset of the n samples, computed exactly from order statistics. With the rewards
sorted ascending, r_(1) <= ... <= r_(n), the subset's maximum is r_(i) exactly when the
subset holds the i-th sample and k-1 of the i-1 below it, so

    Best@k  = sum_{i=k}^{n} r_(i)      * C(i-1, k-1) / C(n, k)
    Worst@k = sum_{i=k}^{n} r_(n+1-i)  * C(i-1, k-1) / C(n, k)   (the mirror: sort descending)

(ties among equal rewards do not change the value). The weights w_i = C(i-1,k-1)/C(n,k)
are built as a product from the top, w_n = k/n and w_{i-1} = w_i (i-k)/(i-1): every
factor is <= 1, so nothing overflows and negligible weights underflow harmlessly to 0.
For 0/1 rewards Best@k equals Pass@k and Worst@k is the probability that all k are right.

Majority@N: the majority vote over the extracted answers of N samples is right. Answers
that are None (malformed, unparseable) do not vote; if nothing votes the vote is wrong.
Tie rule: among the answers with the most votes, the one whose first vote comes earliest
in sample order wins. When N < n, Majority@N is the mean over size-N subsets of the
samples (each kept in sample order): over all C(n, N) subsets when there are at most
``max_subsets`` of them (exact), else over ``max_subsets`` subsets drawn uniformly with a
seeded generator (Monte Carlo; the seed makes it reproducible). N = 1 is computed exactly.

Aggregates: the mean over prompts with a 95 % confidence interval, either a percentile
bootstrap over prompts (seeded) or the normal approximation mean +- z * s / sqrt(m).
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Dict, Hashable, List, Optional, Sequence

import numpy as np

__all__ = ["aggregate_runs", "pass_at_k", "order_statistic_weights", "best_at_k", "worst_at_k", "majority_vote", "majority_at_n",
           "prompt_metrics", "Estimate", "aggregate", "summarize"]


def _check_nk(n: int, k: int, what: str = "k") -> None:
    if isinstance(n, bool) or isinstance(k, bool) or int(n) != n or int(k) != k:
        raise TypeError(f"n and {what} must be integers")
    if n < 1:
        raise ValueError(f"need at least one sample, got n = {n}")
    if not 1 <= k <= n:
        raise ValueError(f"{what} must satisfy 1 <= {what} <= n = {n}, got {k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased Pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k)."""
    _check_nk(n, k)
    if isinstance(c, bool) or int(c) != c or not 0 <= c <= n:
        raise ValueError(f"c must be an integer in [0, n = {n}], got {c}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def order_statistic_weights(n: int, k: int) -> np.ndarray:
    """w[i-1] = C(i-1, k-1) / C(n, k) for i = 1..n: P(the max of a random k-subset is the i-th smallest)."""
    _check_nk(n, k)
    w = np.zeros(n, dtype=np.float64)
    i = np.arange(n, k, -1, dtype=np.float64)  # n, n-1, ..., k+1
    # w_n = k/n, w_{i-1} = w_i * (i - k) / (i - 1)
    w[k - 1:] = (k / n) * np.concatenate(([1.0], np.cumprod((i - k) / (i - 1))))[::-1]
    return w


def _rewards(rewards: Sequence[float]) -> np.ndarray:
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if r.size == 0:
        raise ValueError("need at least one reward")
    if not np.isfinite(r).all():
        raise ValueError("rewards must be finite")
    return r


def best_at_k(rewards: Sequence[float], k: int) -> float:
    """Expected maximum reward of a uniformly random size-k subset of the samples (exact)."""
    r = np.sort(_rewards(rewards))
    return float(np.dot(order_statistic_weights(r.size, k), r))


def worst_at_k(rewards: Sequence[float], k: int) -> float:
    """Expected minimum reward of a uniformly random size-k subset of the samples (exact)."""
    r = np.sort(_rewards(rewards))[::-1]
    return float(np.dot(order_statistic_weights(r.size, k), r))


def majority_vote(answers: Sequence[Optional[Hashable]]) -> Optional[Hashable]:
    """The most frequent non-None answer; ties go to the answer voted first; None if no votes."""
    counts: Dict[Hashable, int] = {}
    first: Dict[Hashable, int] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        counts[a] = counts.get(a, 0) + 1
        first.setdefault(a, i)
    if not counts:
        return None
    return min(counts, key=lambda a: (-counts[a], first[a]))


def _vote_correct(answers, correct, idx) -> float:
    sub = [answers[i] for i in idx]
    win = majority_vote(sub)
    if win is None:
        return 0.0
    j = idx[sub.index(win)]
    return 1.0 if correct[j] else 0.0


def majority_at_n(answers: Sequence[Optional[Hashable]], correct: Sequence[bool], N: int,
                  max_subsets: int = 256, seed: int = 0) -> float:
    """Majority@N for one prompt: expected correctness of the vote of N of the n samples.

    ``answers[i]`` is sample i's extracted answer (None: no vote), ``correct[i]`` whether it
    is right (samples with the same answer must agree). See the module doc for subsets.
    """
    n = len(answers)
    if len(correct) != n:
        raise ValueError(f"answers ({n}) and correct ({len(correct)}) differ in length")
    _check_nk(n, N, "N")
    for a in set(a for a in answers if a is not None):
        if len({bool(c) for x, c in zip(answers, correct) if x == a}) > 1:
            raise ValueError(f"samples with the same answer {a!r} disagree on correctness")
    if N == 1:
        return float(np.mean([1.0 if (a is not None and c) else 0.0 for a, c in zip(answers, correct)]))
    if N == n:
        return _vote_correct(answers, correct, list(range(n)))
    if math.comb(n, N) <= max_subsets:
        subsets = itertools.combinations(range(n), N)
    else:
        rng = random.Random(seed)
        subsets = (sorted(rng.sample(range(n), N)) for _ in range(max_subsets))
    vals = [_vote_correct(answers, correct, list(s)) for s in subsets]
    return float(np.mean(vals))


def prompt_metrics(rewards: Sequence[float], answers: Optional[Sequence[Optional[Hashable]]] = None,
                   ks: Sequence[int] = (1, 4, 16), ns: Sequence[int] = (1, 4, 16, 32), threshold: float = 1.0,
                   max_subsets: int = 256, seed: int = 0) -> Dict[str, float]:
    """All metrics of one prompt's n samples: ``pass@k``, ``best@k``, ``worst@k`` for k in ``ks``
    and ``maj@N`` for N in ``ns`` (with ``answers``), plus ``mean_reward``. Values of k or N
    larger than n are left out."""
    r = _rewards(rewards)
    n = r.size
    ok = r >= threshold
    out = {"mean_reward": float(r.mean())}
    for k in ks:
        if k <= n:
            out[f"pass@{k}"] = pass_at_k(n, int(ok.sum()), k)
            out[f"best@{k}"] = best_at_k(r, k)
            out[f"worst@{k}"] = worst_at_k(r, k)
    if answers is not None:
        if len(answers) != n:
            raise ValueError(f"answers ({len(answers)}) and rewards ({n}) differ in length")
        for N in ns:
            if N <= n:
                out[f"maj@{N}"] = majority_at_n(answers, list(ok), N, max_subsets, seed)
    return out


@dataclass(frozen=True)
class Estimate:
    """Mean over prompts with a confidence interval [lo, hi] at ``level``."""

    mean: float
    lo: float
    hi: float
    stderr: float
    n: int
    level: float
    method: str

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}]"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "stderr": self.stderr, "n": self.n,
                "level": self.level, "method": self.method}


def aggregate(values: Sequence[float], level: float = 0.95, method: str = "bootstrap", n_boot: int = 2000,
              seed: int = 0) -> Estimate:
    """Mean of per-prompt ``values`` with a ``level`` CI: percentile bootstrap over prompts
    (``n_boot`` resamples, seeded) or ``"normal"`` (mean +- z * sample std / sqrt(m))."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0:
        raise ValueError("no values to aggregate")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    m = v.size
    mean = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(m)) if m > 1 else 0.0
    if method == "normal":
        z = NormalDist().inv_cdf(0.5 + level / 2)
        lo, hi = mean - z * se, mean + z * se
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = v[rng.integers(0, m, size=(n_boot, m))].mean(axis=1)
        lo, hi = (float(x) for x in np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))
        lo, hi = min(lo, mean), max(hi, mean)
    else:
        raise ValueError(f"method must be 'bootstrap' or 'normal', got {method!r}")
    return Estimate(mean, float(lo), float(hi), se, m, level, method)


def aggregate_runs(groups: Sequence[Sequence[float]], level: float = 0.95, n_boot: int = 2000,
                   seed: int = 0) -> Estimate:
    """Mean over several runs' per-prompt ``groups`` (each run weighs the same) with a two-level
    percentile bootstrap: runs resampled, then prompts within each drawn run. The interval so covers
    run-to-run variance (training seeds) as well as prompt sampling; with one run it is
    :func:`aggregate`'s. ``n`` is the number of values, ``stderr`` the spread of the run means over
    sqrt(runs) (0 for one run)."""
    runs = [np.asarray(g, dtype=np.float64).reshape(-1) for g in groups]
    if not runs or any(r.size == 0 for r in runs):
        raise ValueError("aggregate_runs needs at least one run, each with at least one value")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if len(runs) == 1:
        return aggregate(runs[0], level=level, n_boot=n_boot, seed=seed)
    run_means = np.array([r.mean() for r in runs])
    mean = float(run_means.mean())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(runs), size=(n_boot, len(runs)))
    boot = np.empty(n_boot)
    for b in range(n_boot):
        boot[b] = np.mean([runs[i][rng.integers(0, runs[i].size, size=runs[i].size)].mean() for i in picks[b]])
    lo, hi = (float(x) for x in np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]))
    se = float(run_means.std(ddof=1) / math.sqrt(len(runs)))
    return Estimate(mean, min(lo, mean), max(hi, mean), se, int(sum(r.size for r in runs)), level,
                    "bootstrap-runs")


def summarize(per_prompt: List[Dict[str, float]], level: float = 0.95, method: str = "bootstrap",
              n_boot: int = 2000, seed: int = 0) -> Dict[str, Estimate]:
    """Aggregates a list of :func:`prompt_metrics` results, metric by metric (keys every prompt has)."""
    if not per_prompt:
        raise ValueError("no prompts")
    keys = [k for k in per_prompt[0] if all(k in p for p in per_prompt)]
    return {k: aggregate([p[k] for p in per_prompt], level, method, n_boot, seed) for k in keys}
