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


def row_noise(seed: int, offset: int, level: int, n: int) -> torch.Tensor:
    """Noise of indices [0, n) of one row's stream at a level (float64)."""
    words = reference.stream_words(torch.tensor([seed]), torch.tensor([offset]), level, np.arange(n))
    return reference.noise_from_words(words)[0]


@pytest.mark.parametrize("level", [reference.LEVEL_TOKEN, reference.LEVEL_CHUNK])
@pytest.mark.parametrize("seed,offset", [(0, 0), (12345, 678), (2**40 + 3, 2**33 + 5), (-1, -2), (-2**63, 2**63 - 1)])
def test_stream_layout_is_seed_key_offset_counter_and_two_words_per_index(seed, offset, level):
    """Index v of a level uses words 2 (v % 2) (high) and 2 (v % 2) + 1 (low) of
    Philox(ctr=(v // 2, level, off_lo, off_hi), key=(seed_lo, seed_hi)); u = (w + 0.5) 2^-64,
    noise = -log2(-log2(u)) in float64."""
    n = 2 * 9 + 1  # a partial last pair
    noise = row_noise(seed, offset, level, n)
    s, o = seed % 2**64, offset % 2**64
    for v in [0, 1, 2, 3, 4, 17, n - 1]:
        out = reference.philox4x32_10(v // 2, level, o & 0xFFFFFFFF, o >> 32, s & 0xFFFFFFFF, s >> 32)
        w = int(out[2 * (v % 2)]) << 32 | int(out[2 * (v % 2) + 1])
        assert float(noise[v]) == pytest.approx(exact_noise(w), rel=1e-12, abs=1e-12)


def test_seed_offset_high_words_and_level_change_the_stream():
    base = row_noise(5, 7, 0, 64)
    for seed, offset, level in [(5 + 2**32, 7, 0), (5, 7 + 2**32, 0), (6, 7, 0), (5, 8, 0), (5, 7, 1)]:
        assert (row_noise(seed, offset, level, 64) != base).double().mean() > 0.9


def exact_noise(w: int) -> float:
    """-log2(-log2(u)) of u = (w + 1/2) 2^-64, via log1p near u = 1, from exact integers."""
    e = float(2**64 - 1 - w) * 2.0**-64 + 2.0**-65
    u = float(w) * 2.0**-64 + 2.0**-65
    neg_log2_u = -math.log1p(-e) / math.log(2) if e <= 0.5 else -math.log2(u)
    return -math.log2(neg_log2_u)


EXTREME_WORDS = [0, 1, 2, 2**32 - 1, 2**53 + 1, 2**63 - 2, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2**11,
                 2**64 - 3, 2**64 - 2, 2**64 - 1]


def test_noise_of_extreme_words_is_accurate_and_inside_the_filter_bounds():
    """The kernels' filter 1 takes kNoiseMax as every entry's best noise and the noise range sets the
    draw's resolution (sampling_math.h): the extreme words lie inside [-6.03, 64.5], with double accuracy
    at both ends (u near 1 uses the complement)."""
    n = reference.noise_from_words(np.array(EXTREME_WORDS, dtype=np.uint64)).double()
    assert torch.isfinite(n).all()
    assert float(n.min()) >= -6.03 and float(n.max()) <= 64.5
    for w, got in zip(EXTREME_WORDS, n.tolist()):
        assert got == pytest.approx(exact_noise(w), rel=1e-12, abs=1e-12), w
    assert float(n[0]) == pytest.approx(-math.log2(65.0), abs=1e-9)
    assert float(n[-1]) == pytest.approx(65 - math.log2(1 / math.log(2)), abs=1e-9)


def test_noise_is_monotone_in_the_word():
    """A larger word never gives less noise, across the u = 1/2 branch and at both ends (so the
    tie rule is the only source of equal scores)."""
    rng = np.random.default_rng(1)
    words = np.unique(np.concatenate([np.array(EXTREME_WORDS, dtype=np.uint64),
                                      rng.integers(0, 2**64 - 1, 200_000, dtype=np.uint64),
                                      np.arange(2**63 - 5000, 2**63 + 5000, dtype=np.uint64),
                                      np.arange(2**64 - 5000, 2**64 - 1, dtype=np.uint64)]))
    n = reference.noise_from_words(words)
    assert (n[1:] >= n[:-1]).all()


def test_uniforms_from_philox_words_are_uniform():
    """KS test of 2^18 uniforms of one row's stream at each level (p-value threshold 1e-4, fixed seed)."""
    for level in (0, 1):
        n = row_noise(2024, 3, level, 2**18)
        u = torch.exp2(-torch.exp2(-n)).numpy()  # invert noise = -log2(-log2 u)
        assert stats.kstest(u, "uniform").pvalue > 1e-4
        # a shifted, scaled Gumbel: n = (g + ln ln 2) / ln 2 with g ~ Gumbel(0, 1) (the same shift for
        # every index, so argmax(score + n) is still a Gumbel-max draw)
        g = n.numpy() * math.log(2) - math.log(math.log(2))
        assert stats.kstest(g, "gumbel_r").pvalue > 1e-4


@pytest.mark.parametrize("seed,offset", [(0, 0), (3, 2**32 + 1), (-7, -9), (2**62 + 11, 5)])
def test_op_draws_the_two_level_argmax_of_the_reference_stream_on_flat_logits(seed, offset):
    """With equal logits the chunk is argmax(log2 n_c + chunk noise) and the token the argmax of the
    token noise inside it: this checks the kernel's Philox (SIMD and scalar parts) and both levels
    against the stream, over several chunks and a short last chunk."""
    L = reference.CHUNK_SIZE
    V = 3 * L + 77
    x = torch.zeros(1, V)
    out = op(x, temperature=torch.ones(1), seeds=torch.tensor([seed]), offsets=torch.tensor([offset]))
    sizes = torch.tensor([L, L, L, 77], dtype=torch.float64)
    chunk = int(torch.argmax(torch.log2(sizes) + row_noise(seed, offset, 1, 4)))
    noise = row_noise(seed, offset, 0, V)[chunk * L:min(V, (chunk + 1) * L)]
    assert int(out.tokens[0]) == chunk * L + int(torch.argmax(noise))
