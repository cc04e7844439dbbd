"""What only the CUDA op has: CUDA-graph capture and replay, no host synchronisation, the
current stream, a non-current device, and cross-device checks (greedy CPU == CUDA tokens).

The device-generic checks of the op (statistics vs float64, tokens vs the oracle up to counted
float near-ties, dtypes, batch invariance, layouts, bad input, opcheck, torch.compile) are the
op test files' tests, run once per device through the `device` fixture (conftest.py): their
`[cuda]` variants test this op. On CUDA the oracle is the CPU op (the same random stream as the
reference), see sampling_helpers.oracle.

Skipped, with the reason, where no GPU is present or the op was built without CUDA (a CPU
build of torch, or no nvcc at build time): never counted as passed. The kernel's logic is also
checked without a GPU by scripts/check_cuda_compile.sh (a CPU emulation of the kernel code).
"""
from __future__ import annotations

import math

import pytest
import torch

import ead_ext
from sampling_helpers import (DTYPES, cpu_oracle, cuda_skip_reason, near_tie_mismatches, op, realistic_logits,
                              row_ids, temperatures)

_REASON = cuda_skip_reason()
pytestmark = pytest.mark.skipif(bool(_REASON), reason=_REASON or "no CUDA device")

DEV = "cuda"


# ------------------------------------------------------- helpers (the tests' generators, on the GPU)

def _logits(B, V, *, seed, dtype=torch.float32, device=DEV):
    return realistic_logits(B, V, seed=seed, dtype=dtype, device=device)


def _row_ids(B, *, seed, device=DEV):
    return row_ids(B, seed=seed, device=device)


def _temperatures(B, *, seed, device=DEV):
    return temperatures(B, seed=seed, device=device)


# ------------------------------------------------------------------- CPU == CUDA, greedy rows

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_greedy_tokens_and_flags_equal_the_cpu_op(dtype):
    """Cross-device: greedy rows (no float near-tie excuse) give the CPU op's tokens exactly, and
    the same rows are flagged invalid on both devices."""
    if not ead_ext.has_compiled_op("cpu"):
        pytest.skip("ead_ext was built without the CPU op")
    B, V = 64, 70001
    x = _logits(B, V, seed=800, dtype=dtype)
    x[5, 17] = math.nan
    x[9] = -math.inf
    seeds, offsets = _row_ids(B, seed=801)
    tau = torch.zeros(B, device=DEV)
    got = op(x, temperature=tau, seeds=seeds, offsets=offsets)
    want = cpu_oracle(x, temperature=tau, seeds=seeds, offsets=offsets)
    assert torch.equal(got.tokens.cpu(), want.tokens)
    assert got.tokens[5] == -1 and got.tokens[9] == -1


# -------------------------------------------------------------- no sync, streams, graphs, devices

def test_no_host_synchronisation():
    for V in (1000, 151936):  # one block per row, and 38 blocks sharing each row (per-row ticket, workspace)
        x = _logits(8, V, seed=700, dtype=torch.bfloat16)
        seeds, offsets = _row_ids(8, seed=701)
        tau = _temperatures(8, seed=702)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            op(x, temperature=tau, seeds=seeds, offsets=offsets)
            op(x, positions=torch.arange(8, device=DEV) * 50, seeds=seeds, offsets=offsets)
        finally:
            torch.cuda.set_sync_debug_mode("default")


def test_runs_on_the_current_stream():
    """The op is ordered after work queued on the current (side) stream: with a long sleep
    before the logits are written there, an op on another stream would read stale logits."""
    B, V = 16, 151936
    good = _logits(B, V, seed=710, dtype=torch.bfloat16)
    seeds, offsets = _row_ids(B, seed=711)
    tau = torch.ones(B, device=DEV)
    want = op(good, temperature=tau, seeds=seeds, offsets=offsets)
    x = torch.zeros_like(good)
    x[:, 0] = 1e4  # stale content: every row would draw token 0
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)
        x.copy_(good)
        got = op(x, temperature=tau, seeds=seeds, offsets=offsets)
    side.synchronize()
    for g, w in zip(got, want):
        assert torch.equal(g, w)


@pytest.mark.parametrize("V", [1000, 151936])
def test_cuda_graph_capture_and_replay(V):
    B = 16
    x = _logits(B, V, seed=730, dtype=torch.bfloat16)
    seeds, offsets = _row_ids(B, seed=731)
    tau = _temperatures(B, seed=732)
    pos = torch.arange(B, device=DEV) * 37
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture, as torch recommends
        op(x, temperature=tau, seeds=seeds, offsets=offsets)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out_t = op(x, temperature=tau, seeds=seeds, offsets=offsets)
        out_p = op(x, positions=pos, seeds=seeds, offsets=offsets)
    for step in range(3):  # new logits, seeds and offsets each replay: the graph reads them
        x.copy_(_logits(B, V, seed=740 + step, dtype=torch.bfloat16))
        offsets.add_(1)
        pos.add_(5)
        graph.replay()
        want_t = op(x, temperature=tau, seeds=seeds, offsets=offsets)
        want_p = op(x, positions=pos, seeds=seeds, offsets=offsets)
        torch.cuda.synchronize()
        for g, w in zip(out_t + out_p, want_t + want_p):
            assert torch.equal(g, w), step


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices (no CUDA device #1 here)")
def test_runs_on_a_non_current_device():
    x = _logits(4, 5000, seed=750, device="cuda:1")
    seeds, offsets = _row_ids(4, seed=751, device="cuda:1")
    with torch.cuda.device(0):
        got = op(x, temperature=torch.ones(4, device="cuda:1"), seeds=seeds, offsets=offsets)
    assert got[0].device == x.device
    ref = cpu_oracle(x, temperature=torch.ones(4), seeds=seeds, offsets=offsets)
    assert len(near_tie_mismatches(x, 1.0, seeds, offsets, got[0], ref[0])) <= 1
