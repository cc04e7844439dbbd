"""ead_ext.metrics against hand-computed values and brute-force enumeration of subsets."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ead_ext import metrics as M


def brute_subsets(values, k, fn):
    subs = list(itertools.combinations(range(len(values)), k))
    return sum(fn([values[i] for i in s]) for s in subs) / len(subs)


# ---- Pass@k -----------------------------------------------------------------------------

def test_pass_at_k_hand_cases():
    assert M.pass_at_k(10, 0, 1) == 0.0
    assert M.pass_at_k(10, 10, 5) == 1.0
    assert M.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # n=4, c=2, k=2: 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert M.pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    # n=5, c=1, k=3: 1 - C(4,3)/C(5,3) = 1 - 4/10
    assert M.pass_at_k(5, 1, 3) == pytest.approx(0.6)
    assert M.pass_at_k(5, 3, 3) == 1.0  # n - c < k: every 3-subset holds a correct one


@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_brute_force(nck):
    n, c, k = nck
    flags = [1] * c + [0] * (n - c)
    assert M.pass_at_k(n, c, k) == pytest.approx(brute_subsets(flags, k, max), abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(1000, 7, 16), (5000, 1, 100), (4000, 3990, 1), (3000, 250, 1000), (2000, 1, 1)])
def test_pass_at_k_large_n_matches_exact_rationals(n, c, k):
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert M.pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-10, abs=1e-15)


def test_pass_at_k_rejects_bad_arguments():
    for args in [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)]:
        with pytest.raises(ValueError):
            M.pass_at_k(*args)


# ---- Best@k / Worst@k ------------------------------------------------------------------

def test_best_worst_hand_cases():
    r = [0.0, 1.0, 0.5]
    # k=2 subsets: {0,1} {0,.5} {1,.5}: max 1, .5, 1 -> 2.5/3; min 0, 0, .5 -> .5/3
    assert M.best_at_k(r, 2) == pytest.approx(2.5 / 3)
    assert M.worst_at_k(r, 2) == pytest.approx(0.5 / 3)
    assert M.best_at_k(r, 1) == pytest.approx(0.5) == M.worst_at_k(r, 1)
    assert M.best_at_k(r, 3) == 1.0 and M.worst_at_k(r, 3) == 0.0


def test_order_statistic_weights_exact():
    for n in range(1, 12):
        for k in range(1, n + 1):
            w = M.order_statistic_weights(n, k)
            exact = [Fraction(math.comb(i - 1, k - 1), math.comb(n, k)) for i in range(1, n + 1)]
            np.testing.assert_allclose(w, [float(x) for x in exact], rtol=1e-12, atol=1e-15)
            assert w.sum() == pytest.approx(1.0)


def test_order_statistic_weights_large_n_stable():
    w = M.order_statistic_weights(5000, 100)
    assert np.isfinite(w).all() and (w >= 0).all()
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert w[-1] == pytest.approx(100 / 5000)


rewards_st = st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, -1.0, 2.0]) | st.floats(-3, 3), min_size=1, max_size=8)


@settings(max_examples=200)
@given(rewards_st, st.data())
def test_best_worst_brute_force(rewards, data):
    k = data.draw(st.integers(1, len(rewards)))
    assert M.best_at_k(rewards, k) == pytest.approx(brute_subsets(rewards, k, max), abs=1e-9)
    assert M.worst_at_k(rewards, k) == pytest.approx(brute_subsets(rewards, k, min), abs=1e-9)


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.data())
def test_best_at_k_of_binary_rewards_is_pass_at_k(flags, data):
    k = data.draw(st.integers(1, len(flags)))
    r = [float(f) for f in flags]
    assert M.best_at_k(r, k) == pytest.approx(M.pass_at_k(len(r), sum(flags), k), abs=1e-12)
    # Worst@k of 0/1 rewards: all k correct = C(c, k) / C(n, k)
    c = sum(flags)
    assert M.worst_at_k(r, k) == pytest.approx(math.comb(c, k) / math.comb(len(r), k), abs=1e-12)


def test_best_worst_reject_bad_input():
    with pytest.raises(ValueError):
        M.best_at_k([], 1)
    with pytest.raises(ValueError):
        M.best_at_k([1.0, 0.0], 3)
    with pytest.raises(ValueError):
        M.worst_at_k([float("nan"), 0.0], 1)


# ---- Majority@N ------------------------------------------------------------------------

def test_majority_vote_rules():
    assert M.majority_vote(["3", "4", "4"]) == "4"
    assert M.majority_vote(["3", "4", "4", "3"]) == "3"  # tie: the answer voted first wins
    assert M.majority_vote(["4", "3", "3", "4"]) == "4"
    assert M.majority_vote([None, None, "7"]) == "7"  # None does not vote
    assert M.majority_vote([None, "5", None, "6", "6"]) == "6"
    assert M.majority_vote([None, None]) is None
    assert M.majority_vote([]) is None


def test_majority_at_n_hand_cases():
    answers = ["7", "7", "1", None]
    correct = [True, True, False, False]
    assert M.majority_at_n(answers, correct, 4) == 1.0
    assert M.majority_at_n(answers, correct, 1) == 0.5
    # N=2, the 6 pairs (indices): 01 -> 7, 02 -> 7 (tie, 7 voted first), 03 -> 7, 12 -> 7 (tie),
    # 13 -> 7, 23 -> 1 (wrong): 5/6
    assert M.majority_at_n(answers, correct, 2) == pytest.approx(5 / 6)
    assert M.majority_at_n([None, None], [False, False], 2) == 0.0
    assert M.majority_at_n(["2", "1"], [False, True], 2) == 0.0  # tie -> first answer, which is wrong


def _brute_majority(answers, correct, N):
    vals = []
    for s in itertools.combinations(range(len(answers)), N):
        win = M.majority_vote([answers[i] for i in s])
        vals.append(0.0 if win is None else float(correct[answers.index(win)]))
    return sum(vals) / len(vals)


@settings(max_examples=150)
@given(st.lists(st.sampled_from([None, "a", "b", "c"]), min_size=1, max_size=8), st.data())
def test_majority_at_n_exact_matches_enumeration(answers, data):
    correct = [a == "a" for a in answers]
    N = data.draw(st.integers(1, len(answers)))
    assert M.majority_at_n(answers, correct, N) == pytest.approx(_brute_majority(answers, correct, N))


def test_majority_at_n_monte_carlo_is_seeded_and_close():
    rng = np.random.default_rng(0)
    answers = [str(x) for x in rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2], size=20)]
    correct = [a == "1" for a in answers]
    a = M.majority_at_n(answers, correct, 5, max_subsets=400, seed=3)
    b = M.majority_at_n(answers, correct, 5, max_subsets=400, seed=3)
    assert a == b
    exact = M.majority_at_n(answers, correct, 5, max_subsets=10**6)  # C(20,5)=15504: enumerated
    assert abs(a - exact) < 0.08


def test_majority_at_n_checks_consistency():
    with pytest.raises(ValueError, match="disagree"):
        M.majority_at_n(["1", "1"], [True, False], 2)
    with pytest.raises(ValueError):
        M.majority_at_n(["1"], [True, False], 1)
    with pytest.raises(ValueError):
        M.majority_at_n(["1"], [True], 2)


# ---- per-prompt and aggregate -------------------------------------------------------------

def test_prompt_metrics_keys_and_values():
    rewards = [1, 0, 0, 1, 0, 0, 0, 0]
    answers = ["5", "4", "4", "5", None, "4", "3", None]
    m = M.prompt_metrics(rewards, answers, ks=(1, 4, 16), ns=(1, 4, 16))
    assert set(m) == {"mean_reward", "pass@1", "best@1", "worst@1", "pass@4", "best@4", "worst@4", "maj@1",
                      "maj@4"}
    assert m["pass@1"] == pytest.approx(0.25) == m["mean_reward"] == m["maj@1"]
    assert m["pass@4"] == pytest.approx(1 - math.comb(6, 4) / math.comb(8, 4))
    assert m["maj@4"] == pytest.approx(_brute_majority(answers, [r == 1 for r in rewards], 4))


def test_aggregate_normal_and_bootstrap():
    v = [0.0, 1.0, 1.0, 0.0, 1.0, 0.5]
    e = M.aggregate(v, method="normal")
    se = np.std(v, ddof=1) / math.sqrt(len(v))
    assert e.mean == pytest.approx(np.mean(v))
    assert e.hi - e.mean == pytest.approx(1.959964 * se, rel=1e-5)
    b1 = M.aggregate(v, method="bootstrap", seed=1)
    b2 = M.aggregate(v, method="bootstrap", seed=1)
    assert b1 == b2 and b1.lo <= b1.mean <= b1.hi
    assert 0.0 <= b1.lo and b1.hi <= 1.0
    one = M.aggregate([0.5])
    assert (one.lo, one.mean, one.hi) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError):
        M.aggregate([])
    with pytest.raises(ValueError):
        M.aggregate(v, method="magic")


def test_bootstrap_ci_covers_truth_usually():
    rng = np.random.default_rng(0)
    hits = 0
    for rep in range(100):
        v = rng.binomial(1, 0.3, size=60).astype(float)
        e = M.aggregate(v, method="bootstrap", n_boot=500, seed=rep)
        hits += e.lo <= 0.3 <= e.hi
    assert hits >= 85


def test_summarize():
    per = [M.prompt_metrics([1, 0, 1, 1], ["1", "2", "1", "1"], ks=(1, 4), ns=(1, 4)),
           M.prompt_metrics([0, 0, 0, 0], ["2", None, "3", "2"], ks=(1, 4), ns=(1, 4))]
    s = M.summarize(per, method="normal")
    assert s["pass@1"].mean == pytest.approx(0.375)
    assert s["maj@4"].mean == pytest.approx(0.5)
    assert s["pass@4"].n == 2
    assert "0.375" in str(s["pass@1"])
