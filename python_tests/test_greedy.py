"""Temperature 0 = greedy: the argmax of the logits (first index on ties), whatever the seed and
offset, with the tau = 1 statistics (as vLLM reports greedy rows); greedy and sampled rows mix
freely in one batch."""
import math

import pytest
import torch

import ead_ext
from sampling_helpers import (DTYPES, at, exact_entropy, exact_log_softmax, op, realistic_logits, ref, row_ids,
                              temperatures)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("V", [7, 1000, 3 * 4096 + 5, 151936])
def test_greedy_equals_argmax_with_tau_1_statistics(dtype, V):
    B = 4 if V > 20000 else 64
    x = realistic_logits(B, V, seed=V, dtype=dtype)
    seeds, offsets = row_ids(B, seed=1)
    out = op(x, temperature=torch.zeros(B), seeds=seeds, offsets=offsets)
    assert torch.equal(out.tokens, torch.argmax(x.float(), dim=1))
    lp1 = exact_log_softmax(x, 1.0)
    assert (out.logprobs.double() - at(lp1, out.tokens)).abs().max() < 1e-5
    assert torch.equal(out.logprobs, out.target)
    assert (out.entropy.double() - exact_entropy(lp1)).abs().max() < 1e-5
    # the same statistics as sampling at tau = 1 would report for that token
    assert torch.equal(ref(x, temperature=torch.zeros(B), seeds=seeds, offsets=offsets).tokens, out.tokens)


def test_greedy_ignores_seed_and_offset():
    B, V = 32, 5000
    x = realistic_logits(B, V, seed=2)
    a = op(x, temperature=torch.zeros(B), seeds=torch.arange(B), offsets=torch.zeros(B, dtype=torch.long))
    b = op(x, temperature=torch.zeros(B), seeds=-torch.arange(B) - 99, offsets=torch.arange(B) + 2**40)
    for fa, fb in zip(a, b):
        assert torch.equal(fa, fb)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_greedy_ties_go_to_the_first_index(dtype):
    V = 3 * 4096 + 100
    x = torch.zeros(6, V)
    x[0, [5, 6]] = 2.0                   # adjacent, same vector
    x[1, [17, 4000]] = 2.0               # same chunk, different noise blocks
    x[2, [4095, 4096, V - 1]] = 2.0      # across a chunk boundary, and the last entry
    x[3, [100, 9000]] = 2.0              # different chunks (different threads)
    x[4] = 1.0                           # all equal: index 0
    x[5, [V - 2, V - 1]] = 7.0           # tie at the very end
    out = op(x.to(dtype), temperature=torch.zeros(6), seeds=torch.arange(6), offsets=torch.arange(6))
    assert out.tokens.tolist() == [5, 17, 4095, 100, 0, V - 2]
    assert torch.equal(out.tokens, torch.argmax(x, dim=1))  # torch.argmax also returns the first maximum
    assert out.logprobs[4].item() == pytest.approx(-math.log(V), abs=1e-5)


def test_greedy_skips_masked_entries():
    x = torch.full((3, 300), -math.inf)
    x[0, 250] = -7.0
    x[1, [3, 200]] = torch.tensor([-5.0, -4.0])
    x[2, :] = 0.0
    x[2, 0] = -math.inf
    out = op(x, temperature=torch.zeros(3), seeds=torch.arange(3), offsets=torch.arange(3))
    assert out.tokens.tolist() == [250, 200, 1]
    assert out.logprobs[0].item() == pytest.approx(0.0, abs=1e-6)
    assert out.logprobs[1].item() == pytest.approx(-math.log1p(math.exp(-1.0)), abs=1e-6)


def test_greedy_and_sampled_rows_mix_in_one_batch():
    B, V = 120, 3000
    x = realistic_logits(B, V, seed=3)
    seeds, offsets = row_ids(B, seed=4)
    tau = temperatures(B, seed=5, greedy_frac=0.4)
    greedy = tau == 0
    assert 20 < int(greedy.sum()) < 100
    mixed = op(x, temperature=tau, seeds=seeds, offsets=offsets)
    assert torch.equal(mixed.tokens[greedy], torch.argmax(x[greedy], dim=1))
    sampled = ~greedy
    alone = op(x[sampled], temperature=tau[sampled], seeds=seeds[sampled], offsets=offsets[sampled])
    for a, b in zip(mixed, alone):
        assert torch.equal(a[sampled], b)
    # the sampled rows really sample: some draw a token other than the argmax
    assert (mixed.tokens[sampled & (tau >= 0.8)] != torch.argmax(x[sampled & (tau >= 0.8)], dim=1)).any()


def test_greedy_through_the_api_with_temperature_zero():
    x = realistic_logits(10, 500, seed=6)
    out = ead_ext.sample(x, temperature=0.0, seeds=1, offsets=2, return_target_logprobs=True)
    assert torch.equal(out.tokens, torch.argmax(x, dim=1))
    assert torch.equal(out.logprobs, out.target_logprobs)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_greedy_rows_take_the_first_maximum_across_blocks(device, dtype):
    """A tie in another block / chunk of a long row: the lower index wins; a row whose only
    finite entry is its last one."""
    B, V = 8, 70000
    x = realistic_logits(B, V, seed=520, dtype=dtype, device=device)
    x[:, 5] = 50.0
    x[:, 60001] = 50.0
    x[3] = -math.inf
    x[3, 69999] = 1.0
    seeds, offsets = row_ids(B, seed=521, device=device)
    tok, lp, tgt, _ = op(x, temperature=torch.zeros(B, device=device), seeds=seeds, offsets=offsets)
    want = [5] * B
    want[3] = 69999
    assert tok.cpu().tolist() == want
    assert torch.equal(lp, tgt)
