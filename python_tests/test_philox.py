"""Philox4x32-10 of the reference (NumPy) against Random123's published known answers, the
stream layout shared with the kernels, and the uniform/Gumbel mapping's bounds."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ead_ext import reference
from sampling_helpers import op

# Random123 kat_vectors, philox4x32_10: (ctr0..3, key0..1) -> out0..3
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", KNOWN_ANSWERS, ids=["zeros", "ones", "pi"])
def test_philox_matches_random123_known_answers(ctr, key, expected):
    out = reference.philox4x32_10(*ctr, *key)
    assert tuple(int(w) for w in out) == expected


def test_philox_vectorized_equals_elementwise_and_broadcasts():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2**32, size=(4, 37), dtype=np.uint64)
    k = rng.integers(0, 2**32, size=(2, 1), dtype=np.uint64)  # broadcast over the counters
    vec = reference.philox4x32_10(c[0], c[1], c[2], c[3], k[0], k[1])
    assert all(w.shape == (37,) for w in vec)
    for i in range(0, 37, 6):
        one = reference.philox4x32_10(c[0, i], c[1, i], c[2, i], c[3, i], k[0, 0], k[1, 0])
        assert [int(w[i]) for w in vec] == [int(w) for w in one]
    # the known answer survives broadcasting
    out = reference.philox4x32_10(np.zeros(3, np.uint64), 0, 0, 0, 0, 0)
    assert [int(w[2]) for w in out] == list(KNOWN_ANSWERS[0][2])


@pytest.mark.parametrize("seed,offset", [(0, 0), (12345, 678), (2**40 + 3, 2**33 + 5), (-1, -2), (-2**63, 2**63 - 1)])
def test_gumbel_noise_stream_layout_is_seed_key_and_offset_counter(seed, offset):
    """Entry v of a row uses word v % 4 of Philox(ctr=(v // 4, 0, off_lo, off_hi), key=(seed_lo, seed_hi)),
    and u = (w + 0.5) * 2^-32, noise = -log2(-log2(u)) (float32)."""
    V = 4 * 9 + 3  # a partial last group
    noise = reference.gumbel_noise(torch.tensor([seed]), torch.tensor([offset]), V)[0].double()
    s, o = seed % 2**64, offset % 2**64
    for v in [0, 1, 2, 3, 4, 17, V - 1]:
        words = reference.philox4x32_10(v // 4, 0, o & 0xFFFFFFFF, o >> 32, s & 0xFFFFFFFF, s >> 32)
        w = int(words[v % 4])
        assert float(noise[v]) == pytest.approx(exact_noise(w), rel=1e-6, abs=1e-6)


def test_seed_and_offset_high_words_change_the_stream():
    V = 64
    base = reference.gumbel_noise(torch.tensor([5]), torch.tensor([7]), V)
    for seeds, offsets in [([5 + 2**32], [7]), ([5], [7 + 2**32]), ([6], [7]), ([5], [8])]:
        other = reference.gumbel_noise(torch.tensor(seeds), torch.tensor(offsets), V)
        assert (other != base).float().mean() > 0.9


def exact_noise(w: int) -> float:
    """-log2(-log2(u)) of u = (w + 1/2) 2^-32 in float64, via log1p near u = 1."""
    e = (2**32 - 1 - w + 0.5) * 2.0**-32
    neg_log2_u = -math.log1p(-e) / math.log(2)
    return -math.log2(neg_log2_u)


EXTREME_WORDS = [0, 1, 2, 2**24 - 1, 2**24 + 1, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 2**8,
                 2**32 - 3, 2**32 - 2, 2**32 - 1]


def test_noise_of_extreme_words_is_accurate_and_inside_the_kernels_skip_bounds():
    """sampling_math.h skips entries with y + kNoiseMax below the winner's floor and takes
    kNoiseMin as every entry's worst noise: the extreme words must lie inside
    [-5.05, 32.5], and every word keeps float accuracy (u near 1 uses the complement)."""
    n = reference.noise_from_words(np.array(EXTREME_WORDS, dtype=np.uint64)).double()
    assert torch.isfinite(n).all()
    assert float(n.min()) >= -5.05 and float(n.max()) <= 32.5
    for w, got in zip(EXTREME_WORDS, n.tolist()):
        assert got == pytest.approx(exact_noise(w), rel=2e-6, abs=2e-6), w
    assert float(n[0]) == pytest.approx(-math.log2(33.0), abs=1e-5)
    assert float(n[-1]) == pytest.approx(33 - math.log2(1 / math.log(2)), abs=1e-5)


def test_noise_is_monotone_in_the_word():
    """A larger word never gives less noise, across the u = 1/2 branch and at both ends (so the
    tie rule is the only source of equal scores)."""
    rng = np.random.default_rng(1)
    words = np.unique(np.concatenate([np.array(EXTREME_WORDS, dtype=np.uint64),
                                      rng.integers(0, 2**32, 200_000, dtype=np.uint64),
                                      np.arange(2**31 - 5000, 2**31 + 5000, dtype=np.uint64),
                                      np.arange(2**32 - 5000, 2**32, dtype=np.uint64)]))
    n = reference.noise_from_words(words)
    assert (n[1:] >= n[:-1]).all()


def test_uniforms_from_philox_words_are_uniform():
    """KS test of 2^18 uniforms of one row's stream (p-value threshold 1e-4, fixed seed)."""
    V = 2**18
    n = reference.gumbel_noise(torch.tensor([2024]), torch.tensor([3]), V)[0].double()
    u = torch.exp2(-torch.exp2(-n)).numpy()  # invert noise = -log2(-log2 u)
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    # and the noise is a shifted, scaled Gumbel: n = (g + ln ln 2) / ln 2 with g ~ Gumbel(0, 1)
    # (the shift is the same for every entry, so argmax(y + n) is still a Gumbel-max draw)
    g = n.numpy() * math.log(2) - math.log(math.log(2))
    assert stats.kstest(g, "gumbel_r").pvalue > 1e-4


@pytest.mark.parametrize("seed,offset", [(0, 0), (3, 2**32 + 1), (-7, -9), (2**62 + 11, 5)])
def test_op_draws_argmax_of_the_reference_stream_on_flat_logits(seed, offset):
    """With equal logits the drawn token is the argmax of the noise (of the Philox words) of the
    row's stream: this checks the kernel's Philox (SIMD and scalar parts) against the
    reference's, over several noise blocks and chunks."""
    V = 3 * 4096 + 77
    x = torch.zeros(1, V)
    out = op(x, temperature=torch.ones(1), seeds=torch.tensor([seed]), offsets=torch.tensor([offset]))
    noise = reference.gumbel_noise(torch.tensor([seed]), torch.tensor([offset]), V)[0]
    assert int(out.tokens[0]) == int(torch.argmax(noise))
