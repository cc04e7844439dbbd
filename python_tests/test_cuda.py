"""The CUDA op (csrc/cuda): the CPU op's checks on CUDA, for each dtype, plus what only a GPU
has: CPU == CUDA tokens (up to counted float near-ties), bitwise batch invariance, the bad-input
list, torch.compile, CUDA-graph capture, no host synchronisation, the current stream.

Skipped, with the reason, where no GPU is present or the op was built without CUDA (a CPU
build of torch, or no nvcc at build time): never counted as passed. The kernel's logic is also
checked without a GPU by scripts/check_cuda_compile.sh (a CPU emulation of the kernel code).
Its float64 oracles and the near-tie rule are the CPU tests' (sampling_helpers.py), taking the
op's CUDA tensors and computing on the CPU.
"""
from __future__ import annotations

import math

import pytest
import torch

import ead_ext
from ead_ext import InvalidRowError, Schedule, reference
from sampling_helpers import (DTYPES, SCHED, at, call, exact_entropy, exact_log_softmax, fp32_scaling_tol,
                              near_tie_mismatches, op, row_ids)

_HAS_GPU = torch.cuda.is_available()
_HAS_OP = ead_ext.has_compiled_op("cuda")
if not _HAS_GPU:
    _REASON = "no CUDA device (torch.cuda.is_available() is False): the CUDA op cannot run here"
elif not _HAS_OP:
    _REASON = ("ead_ext was built without the CUDA op (needs a CUDA build of torch and nvcc at build time; "
               f"backend_info: {ead_ext.backend_info()})")
else:
    _REASON = ""
pytestmark = pytest.mark.skipif(not (_HAS_GPU and _HAS_OP), reason=_REASON)

DEV = "cuda"
TOL = 1e-5  # statistics vs float64, nats (plus the fp32 scaling term, see fp32_scaling_tol)


# ------------------------------------------------------------------------------------------ helpers

def _logits(B, V, *, seed, dtype=torch.float32, masked_frac=0.0, device=DEV):
    """LLM-like rows: a heavy-tailed bulk and a few peaked tokens a random margin above it."""
    g = torch.Generator().manual_seed(seed)
    x = 2.0 * torch.randn(B, V, generator=g)
    x = x + torch.empty(B, V).exponential_(1.0, generator=g) - torch.empty(B, V).exponential_(1.0, generator=g) - 3.0
    if V > 1 and B > 0:
        k = min(5, V)
        idx = torch.stack([torch.randperm(V, generator=g)[:k] for _ in range(B)])
        top = x.max(dim=1, keepdim=True).values
        vals = top + 12.0 * torch.rand(B, 1, generator=g) - 3.0 * torch.rand(B, k, generator=g)
        x.scatter_(1, idx, vals)
        if masked_frac > 0:
            mask = torch.rand(B, V, generator=g) < masked_frac
            mask.scatter_(1, idx, False)
            x = x.masked_fill(mask, -math.inf)
    x = torch.where(torch.isinf(x), x, x.clamp(-30.0, 30.0))
    return x.to(dtype).to(device)


def _flat_logits(B, V, *, seed, dtype=torch.float32, device=DEV):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, V, generator=g).to(dtype).to(device)


def _row_ids(B, *, seed, device=DEV):
    return tuple(t.to(device) for t in row_ids(B, seed=seed))


def _temperatures(B, *, seed, greedy_frac=0.1, device=DEV):
    g = torch.Generator().manual_seed(seed)
    t = 0.05 + 2.45 * torch.rand(B, generator=g)
    t[torch.rand(B, generator=g) < greedy_frac] = 0.0
    return t.float().to(device)


def _cpu_oracle(x, **kw):
    """The CPU op when compiled (the same stream as the reference), else the reference."""
    fn = torch.ops.ead.sample if ead_ext.has_compiled_op("cpu") else reference.sample
    return call(fn, x.cpu(), **{k: (v.cpu() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()})


# ------------------------------------------------------------------------------------------ opcheck

@pytest.mark.parametrize("optional", [True, False], ids=["with-optional-outputs", "without-optional-outputs"])
@pytest.mark.parametrize("mode", ["temperature", "positions"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_opcheck_cuda(dtype, mode, optional):
    B, V = 6, 300
    x = _logits(B, V, seed=3, dtype=dtype)
    seeds, offsets = _row_ids(B, seed=4)
    if mode == "temperature":
        t, pos = _temperatures(B, seed=5, greedy_frac=0.3), None
    else:
        t, pos = None, torch.tensor([0, 5, 10, 91, 371, 2000], device=DEV)
    torch.library.opcheck(torch.ops.ead.sample.default, (x, t, pos, seeds, offsets, *SCHED, optional, optional))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_opcheck_cuda_split_rows_and_edge_shapes(dtype):
    """Rows long enough to be split across blocks (workspace + last-block merge), V = 1, B = 0."""
    for B, V in [(3, 151936), (3, 1), (0, 17)]:
        x = _logits(B, V, seed=6, dtype=dtype) if B else torch.zeros(B, V, dtype=dtype, device=DEV)
        seeds, offsets = _row_ids(B, seed=7)
        args = (x, torch.ones(B, device=DEV), None, seeds, offsets, *SCHED, True, True)
        torch.library.opcheck(torch.ops.ead.sample.default, args)


# ------------------------------------------------------------------------- statistics vs float64

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("tau", [0.5, 0.8, 1.0, 1.2, 2.0, 0.0])
@pytest.mark.parametrize("V", [5003, 151936])
def test_stats_match_float64_log_softmax(dtype, tau, V):
    B = 96 if V < 10000 else 12
    x = _logits(B, V, seed=100 + int(tau * 10), dtype=dtype)
    seeds, offsets = _row_ids(B, seed=7)
    tok, lp, tgt, ent = op(x, temperature=torch.full((B,), tau, device=DEV), seeds=seeds, offsets=offsets)
    assert (tok >= 0).all()
    lp_exact = exact_log_softmax(x, tau)
    tol = fp32_scaling_tol(x, tau)
    assert ((lp.cpu().double() - at(lp_exact, tok)).abs() <= tol).all()
    assert ((tgt.cpu().double() - at(exact_log_softmax(x, 1.0), tok)).abs() <= fp32_scaling_tol(x, 1.0)).all()
    assert ((ent.cpu().double() - exact_entropy(lp_exact)).abs() <= tol + 1e-5).all()
    if tau in (0.0, 1.0):
        assert torch.equal(lp, tgt)  # greedy / tau = 1 rows: behaviour == target


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_logprob_of_a_sure_token_is_not_positive(dtype):
    """y = fl(x * s) is never fused with - m (the op is built with -fmad=false)."""
    x = torch.tensor([[40.0, 0.0], [0.0, 25.0], [-3.0, 30.0]]).to(dtype).to(DEV)
    for tau in (0.05, 0.1, 0.3, 1.0):
        tok, lp, tgt, _ = op(x, temperature=torch.full((3,), tau, device=DEV), seeds=torch.arange(3, device=DEV),
                              offsets=torch.zeros(3, dtype=torch.long, device=DEV))
        assert tok.cpu().tolist() == [0, 1, 1]
        assert (lp <= 0).all() and (tgt <= 0).all(), (tau, lp, tgt)


# -------------------------------------------------------------------------------- CPU == CUDA tokens

# (name, B, V, dtype, temperature kind, masked fraction, logits kind). Odd vocabularies (not
# multiples of a Philox group, a 16-byte vector or a block tile), split rows (V > one tile),
# masked entries, schedule positions, low temperatures, flat rows (noise needed everywhere).
CASES = [
    ("fp32-V257", 600, 257, torch.float32, "mixed", 0.0, "llm"),
    ("bf16-V1000", 500, 1000, torch.bfloat16, "mixed", 0.0, "llm"),
    ("fp16-V1531", 400, 1531, torch.float16, "mixed", 0.0, "llm"),
    ("fp32-V4097-schedule", 300, 4097, torch.float32, "positions", 0.0, "llm"),
    ("bf16-V8191-masked", 160, 8191, torch.bfloat16, "mixed", 0.5, "llm"),
    ("fp32-V63-lowtau", 200, 63, torch.float32, "low", 0.0, "llm"),
    ("fp16-V5-tiny", 300, 5, torch.float16, "mixed", 0.0, "llm"),
    ("fp32-V32000", 64, 32000, torch.float32, "mixed", 0.0, "llm"),
    ("bf16-V32000-flat", 64, 32000, torch.bfloat16, "mixed", 0.0, "flat"),
    ("bf16-V151936", 24, 151936, torch.bfloat16, "mixed", 0.0, "llm"),
    ("fp32-V151936-flat", 8, 151936, torch.float32, "mixed", 0.0, "flat"),
    ("fp16-V50257-schedule", 32, 50257, torch.float16, "positions", 0.0, "llm"),
    ("bf16-V128256-masked", 8, 128256, torch.bfloat16, "mixed", 0.3, "llm"),
]
MAX_NEAR_TIES_PER_CASE = 1
MAX_NEAR_TIES_TOTAL = 2
_RESULTS = {}


def _run_case(case):
    if case[0] in _RESULTS:
        return _RESULTS[case[0]]
    name, B, V, dtype, kind, masked, logits_kind = case
    seed = sum(map(ord, name))
    if logits_kind == "flat":
        x = _flat_logits(B, V, seed=seed, dtype=dtype)
    else:
        x = _logits(B, V, seed=seed, dtype=dtype, masked_frac=masked)
    seeds, offsets = _row_ids(B, seed=seed + 1)
    kw = dict(seeds=seeds, offsets=offsets)
    if kind == "positions":
        positions = torch.randint(0, 600, (B,), generator=torch.Generator().manual_seed(seed)).to(DEV)
        sched = Schedule()
        sargs = (sched.tau_max, sched.tau_min, sched.at_step(0), sched.cutoff, sched.token_scale)
        a = op(x, positions=positions, sched=sargs, **kw)
        b = _cpu_oracle(x, positions=positions, sched=sargs, **kw)
        tau = reference.row_temperatures(None, positions.cpu(), *sargs)
    else:
        tau = _temperatures(B, seed=seed + 2)
        if kind == "low":
            tau = (0.02 + 0.2 * torch.rand(B, generator=torch.Generator().manual_seed(seed))).to(DEV)
        a = op(x, temperature=tau, **kw)
        b = _cpu_oracle(x, temperature=tau, **kw)
    ties = near_tie_mismatches(x, tau, seeds, offsets, a[0], b[0])
    _RESULTS[name] = (x, tau, [t.cpu() for t in a], b, ties)
    return _RESULTS[name]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_tokens_equal_cpu_up_to_near_ties(case):
    x, tau, a, b, ties = _run_case(case)
    assert (a[0] >= 0).all() and (b[0] >= 0).all()
    assert len(ties) <= MAX_NEAR_TIES_PER_CASE, ties
    greedy = torch.as_tensor(tau).cpu() == 0
    assert torch.equal(a[0][greedy], b[0][greedy])  # greedy rows: no near-tie excuse


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_stats_equal_cpu_where_tokens_agree(case):
    x, tau, a, b, ties = _run_case(case)
    same = a[0] == b[0]
    tau = torch.as_tensor(tau).cpu()
    tol = fp32_scaling_tol(x, tau)[same]
    for i in (1, 3):  # behaviour log-prob, entropy
        assert ((a[i][same].double() - b[i][same].double()).abs() <= tol).all(), i
    tol1 = fp32_scaling_tol(x, torch.ones_like(tau))[same]
    assert ((a[2][same].double() - b[2][same].double()).abs() <= tol1).all()


def test_near_ties_are_rare_over_all_rows(capsys):
    """Every mismatch is a float near-tie (asserted per case); a systematic disagreement would
    show as many. Prints the count (pytest -s)."""
    rows, ties = 0, []
    for case in CASES:
        x, tau, a, b, t = _run_case(case)
        rows += x.shape[0]
        ties += [(case[0], *tie) for tie in t]
    with capsys.disabled():
        print(f"\nCPU vs CUDA: {rows} rows compared, {len(ties)} float near-tie(s): {ties}")
    assert rows >= 2500
    assert len(ties) <= MAX_NEAR_TIES_TOTAL, ties


# ------------------------------------------------------------------------------- batch invariance

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("V", [1000, 32000, 151936])
def test_outputs_are_bitwise_batch_invariant(dtype, V):
    """A row's outputs do not depend on the batch (size, order, neighbours): the per-row
    reduction tree depends on V and the dtype only."""
    B = 40
    x = _logits(B, V, seed=400, dtype=dtype)
    seeds, offsets = _row_ids(B, seed=401)
    tau = _temperatures(B, seed=402)
    full = op(x, temperature=tau, seeds=seeds, offsets=offsets)
    perm = torch.randperm(B, generator=torch.Generator().manual_seed(403)).to(DEV)
    shuffled = op(x[perm], temperature=tau[perm], seeds=seeds[perm], offsets=offsets[perm])
    inv = torch.argsort(perm)
    for f, s in zip(full, shuffled):
        assert torch.equal(f, s[inv])
    for r in (0, 17, B - 1):
        single = op(x[r:r + 1], temperature=tau[r:r + 1], seeds=seeds[r:r + 1], offsets=offsets[r:r + 1])
        for f, s in zip(full, single):
            assert torch.equal(f[r:r + 1], s)
    big = 600 if V <= 32000 else 130  # a batch with many more blocks than SMs
    xb = torch.cat([x, _logits(big - B, V, seed=404, dtype=dtype)])
    sb, ob = _row_ids(big, seed=405)
    sb[:B], ob[:B] = seeds, offsets
    tb = torch.cat([tau, _temperatures(big - B, seed=406)])
    in_big = op(xb, temperature=tb, seeds=sb, offsets=ob)
    for f, s in zip(full, in_big):
        assert torch.equal(f, s[:B])
    again = op(x, temperature=tau, seeds=seeds, offsets=offsets)  # run-to-run determinism
    for f, s in zip(full, again):
        assert torch.equal(f, s)


# ------------------------------------------------------------------------- layouts and edge cases

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_unaligned_padded_and_broadcast_rows(dtype):
    """Rows that do not start on 16 bytes (storage offset, odd row stride), padded rows
    (stride > V) and stride-0 rows (expand) sample like contiguous copies."""
    B, V = 12, 20011
    wide = _logits(B, V + 9, seed=500, dtype=dtype)
    seeds, offsets = _row_ids(B, seed=501)
    tau = _temperatures(B, seed=502)
    views = {
        "offset-1": wide[:, 1:V + 1],
        "padded": wide[:, :V],
        "odd-stride": wide.reshape(-1)[: B * (V + 3)].reshape(B, V + 3)[:, 3:],
        "broadcast": wide[:1, :V].expand(B, V),
    }
    for name, view in views.items():
        assert view.stride(1) == 1
        got = op(view, temperature=tau, seeds=seeds, offsets=offsets)
        want = op(view.contiguous(), temperature=tau, seeds=seeds, offsets=offsets)
        for g, w in zip(got, want):
            assert torch.equal(g, w), name
        ref = _cpu_oracle(view, temperature=tau, seeds=seeds, offsets=offsets)
        assert len(near_tie_mismatches(view, tau, seeds, offsets, got[0], ref[0])) <= 1, name


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_masked_entries_are_never_drawn(dtype):
    B, V = 256, 40000
    x = _flat_logits(B, V, seed=510, dtype=dtype)
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[torch.randperm(V, generator=torch.Generator().manual_seed(511))[:7]] = True
    x[:, ~allowed.to(DEV)] = -math.inf
    seeds, offsets = _row_ids(B, seed=512)
    tok, lp, _, ent = op(x, temperature=torch.full((B,), 1.5, device=DEV), seeds=seeds, offsets=offsets)
    assert allowed[tok.cpu()].all()
    assert torch.isfinite(lp).all() and torch.isfinite(ent).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_greedy_rows_take_the_first_maximum(dtype):
    B, V = 8, 70000
    x = _logits(B, V, seed=520, dtype=dtype)
    x[:, 5] = 50.0
    x[:, 60001] = 50.0  # a tie in another block of the row: the lower index wins
    x[3] = -math.inf
    x[3, 69999] = 1.0
    seeds, offsets = _row_ids(B, seed=521)
    tok, lp, tgt, _ = op(x, temperature=torch.zeros(B, device=DEV), seeds=seeds, offsets=offsets)
    want = [5] * B
    want[3] = 69999
    assert tok.cpu().tolist() == want
    assert torch.equal(lp, tgt)


def test_distribution_matches_softmax():
    """20,000 draws of one small row (distinct offsets): frequencies vs softmax(x / tau)."""
    n, tau = 20000, 0.7
    x = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -2.0, 3.0, -math.inf]], device=DEV).expand(n, 8)
    tok, *_ = op(x, temperature=torch.full((n,), tau, device=DEV), seeds=torch.full((n,), 99, device=DEV),
                  offsets=torch.arange(n, device=DEV))
    p = torch.softmax(x[0].double().cpu() / tau, dim=0)
    counts = torch.bincount(tok.cpu(), minlength=8).double()
    assert counts[7] == 0
    expected = n * p[:7]
    chi2 = float(((counts[:7] - expected) ** 2 / expected).sum())
    assert chi2 < 30.0, (chi2, counts.tolist(), expected.tolist())  # 6 dof: p(chi2 > 30) ~ 4e-5


# ----------------------------------------------------------------------------------- bad inputs

def _metadata_cases():
    B, V = 4, 100
    x = _logits(B, V, seed=600)
    t = torch.ones(B, device=DEV)
    s, o = _row_ids(B, seed=601)
    yield "int logits", (x.long(), t, None, s, o)
    yield "1-D logits", (x[0], t, None, s, o)
    yield "empty vocabulary", (x[:, :0], t, None, s, o)
    yield "non-contiguous rows", (x.t(), t, None, s, o)  # stride(1) != 1
    yield "temperature and positions", (x, t, torch.zeros(B, dtype=torch.long, device=DEV), s, o)
    yield "neither temperature nor positions", (x, None, None, s, o)
    yield "temperature on the CPU", (x, t.cpu(), None, s, o)
    yield "seeds on the CPU", (x, t, None, s.cpu(), o)
    yield "float64 temperature", (x, t.double(), None, s, o)
    yield "int32 seeds", (x, t, None, s.int(), o)
    yield "offsets of the wrong length", (x, t, None, s, o[:2])
    yield "non-contiguous temperature", (x, torch.ones(2 * B, device=DEV)[::2], None, s, o)


@pytest.mark.parametrize("name,args", list(_metadata_cases()) if _HAS_GPU and _HAS_OP else [],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_metadata_errors_raise(name, args):
    with pytest.raises(RuntimeError, match="ead::sample"):
        torch.ops.ead.sample(*args, *SCHED, True, True)


@pytest.mark.parametrize("bad_sched", [(1.2, 0.0, 25.0, 10, 20.0), (0.05, 0.1, 25.0, 10, 20.0),
                                       (1.2, 0.1, 0.0, 10, 20.0), (1.2, 0.1, 25.0, -1, 20.0),
                                       (1.2, 0.1, 25.0, 10, 0.0)])
def test_bad_schedule_raises_with_positions(bad_sched):
    x = _logits(2, 50, seed=610)
    with pytest.raises(RuntimeError, match="ead::sample: schedule"):
        torch.ops.ead.sample(x, None, torch.zeros(2, dtype=torch.long, device=DEV), torch.arange(2, device=DEV),
                             torch.arange(2, device=DEV), *bad_sched, False, False)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("V", [1000, 151936])
def test_data_errors_flag_the_row_and_spare_the_others(dtype, V):
    """NaN / +inf / all -inf logits, x / tau overflow, bad temperatures and positions: token -1
    and NaN statistics for that row (no exception inside the op, no sync); valid rows in the
    same batch are unaffected; ead_ext.sample(validate=True) names the rows."""
    B = 10
    x = _logits(B, V, seed=620, dtype=torch.float32)
    x[0, V // 2] = math.nan
    x[1, V - 1] = math.inf
    x[2] = -math.inf
    x[3, 7] = 3e38 if dtype == torch.float32 else 6e4
    tau = torch.ones(B)
    tau[3] = 1e-3 if dtype == torch.float32 else 1e-36  # x / tau overflows fp32
    tau[4], tau[5], tau[6] = -1.0, math.nan, math.inf
    x = x.to(dtype).to(DEV)
    tau = tau.to(DEV)
    seeds, offsets = _row_ids(B, seed=621)
    tok, lp, tgt, ent = op(x, temperature=tau, seeds=seeds, offsets=offsets)
    bad = list(range(7))
    assert tok[bad].cpu().tolist() == [-1] * 7
    for t in (lp, tgt, ent):
        assert torch.isnan(t[bad]).all()
    ok = list(range(7, B))
    alone = op(x[ok], temperature=tau[ok], seeds=seeds[ok], offsets=offsets[ok])
    assert torch.equal(tok[ok], alone[0]) and torch.equal(lp[ok], alone[1])
    assert (alone[0] >= 0).all()
    with pytest.raises(InvalidRowError) as err:
        ead_ext.sample(x, temperature=tau, seeds=seeds, offsets=offsets)
    assert err.value.rows == bad
    # positions: a negative position is flagged, the others sampled
    pos = torch.tensor([5, -1, 200], device=DEV)
    tok, *_ = op(x[7:10], positions=pos, seeds=seeds[7:10], offsets=offsets[7:10])
    assert tok[1] == -1 and tok[0] >= 0 and tok[2] >= 0


# -------------------------------------------------------- no sync, streams, torch.compile, graphs

def test_no_host_synchronisation():
    for V in (1000, 151936):  # without and with the split-row workspace
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


@pytest.mark.parametrize("dynamic", [False, True])
def test_torch_compile(dynamic):
    def fn(x, t, s, o):
        tok, lp, tgt, ent = torch.ops.ead.sample(x, t, None, s, o, *SCHED, True, True)
        return tok, lp * 2.0, tgt, ent

    compiled = torch.compile(fn, fullgraph=True, dynamic=dynamic)
    for B, V in [(8, 1000), (5, 151936)]:
        x = _logits(B, V, seed=720 + B, dtype=torch.bfloat16)
        seeds, offsets = _row_ids(B, seed=721)
        tau = _temperatures(B, seed=722)
        for g, w in zip(compiled(x, tau, seeds, offsets), fn(x, tau, seeds, offsets)):
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


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_runs_on_a_non_current_device():
    x = _logits(4, 5000, seed=750, device="cuda:1")
    seeds, offsets = _row_ids(4, seed=751, device="cuda:1")
    with torch.cuda.device(0):
        got = op(x, temperature=torch.ones(4, device="cuda:1"), seeds=seeds, offsets=offsets)
    assert got[0].device == x.device
    ref = _cpu_oracle(x, temperature=torch.ones(4), seeds=seeds, offsets=offsets)
    assert len(near_tie_mismatches(x, 1.0, seeds, offsets, got[0], ref[0])) <= 1
