"""Bad input. Metadata errors raise RuntimeError("ead::sample: ...") from the compiled op, the
reference and the fake implementation alike (the fake one runs when the op gets 'meta' tensors,
as under torch.compile); bad data never raises in the op: the row is flagged (token -1, NaN
statistics) and ead_ext.sample turns flags into InvalidRowError naming the row and the reason."""
import math

import pytest
import torch

import ead_ext
from ead_ext import InvalidRowError, reference
from sampling_helpers import SCHED, at, cuda_skip_reason, exact_log_softmax, op, realistic_logits, row_ids

B, V = 4, 50


def _op(*args):
    return torch.ops.ead.sample(*args)


IMPLS = {"op": ("cpu", _op), "reference": ("cpu", reference.sample), "fake": ("meta", _op),
         "op-cuda": ("cuda", _op)}
_CUDA_SKIP = cuda_skip_reason()


def _impls(*names):
    """pytest params of the named IMPLS; the CUDA op's is skipped (with the reason) without a GPU."""
    return [pytest.param(n, marks=pytest.mark.skipif(bool(_CUDA_SKIP), reason=_CUDA_SKIP)) if n == "op-cuda" else n
            for n in (names or IMPLS)]


def args_for(dev, *, logits=None, temperature="default", positions=None, seeds=None, offsets=None, sched=SCHED,
             target=True, entropy=True):
    """The op's 12 arguments on device `dev`, valid unless overridden."""
    if logits is None:
        logits = torch.zeros(B, V, device=dev)
    if isinstance(temperature, str):
        temperature = torch.ones(B, device=dev) if positions is None else None
    if seeds is None:
        seeds = torch.arange(B, device=dev)
    if offsets is None:
        offsets = torch.zeros(B, dtype=torch.long, device=dev)
    return (logits, temperature, positions, seeds, offsets, *sched, target, entropy)


def _other(dev):
    """A device other than dev's for the wrong-device cases: CPU tensors beside CUDA logits (a meta
    tensor would send the call to the fake implementation)."""
    return "meta" if dev == "cpu" else "cpu"


# (id, builder(dev) -> args, message regex). Dtype names are printed the C++ way by the compiled op
# ("Long") and the Python way by the reference and the fake op ("torch.int64"): see
# test_metadata_error_messages_are_identical_across_implementations.
METADATA_ERRORS = [
    ("logits-int32", lambda d: args_for(d, logits=torch.zeros(B, V, dtype=torch.int32, device=d)),
     r"^ead::sample: logits must be float32, bfloat16 or float16, got (Int|torch\.int32)$"),
    ("logits-float64", lambda d: args_for(d, logits=torch.zeros(B, V, dtype=torch.float64, device=d)),
     r"^ead::sample: logits must be float32, bfloat16 or float16, got (Double|torch\.float64)$"),
    ("logits-1d", lambda d: args_for(d, logits=torch.zeros(V, device=d)),
     r"^ead::sample: logits must be 2-D \[batch, vocab\], got 1-D$"),
    ("logits-3d", lambda d: args_for(d, logits=torch.zeros(B, 2, V, device=d)),
     r"^ead::sample: logits must be 2-D \[batch, vocab\], got 3-D$"),
    ("logits-strided-rows", lambda d: args_for(d, logits=torch.zeros(B, 2 * V, device=d)[:, ::2]),
     r"^ead::sample: logits rows must be contiguous \(stride\(1\) == 1\), got strides \[100, 2\]$"),
    ("logits-transposed", lambda d: args_for(d, logits=torch.zeros(V, B, device=d).t()),
     r"^ead::sample: logits rows must be contiguous \(stride\(1\) == 1\), got strides \[1, 4\]$"),
    ("vocab-0", lambda d: args_for(d, logits=torch.zeros(B, 0, device=d)),
     r"^ead::sample: logits have an empty vocabulary \(V = 0\)$"),
    ("vocab-above-int32", lambda d: args_for(d, logits=torch.zeros(B, 1, device=d).expand(B, 2**31)),
     r"^ead::sample: vocabularies above 2\^31 - 1 entries are not supported, got 2147483648$"),
    ("both-temperature-and-positions",
     lambda d: args_for(d, temperature=torch.ones(B, device=d), positions=torch.zeros(B, dtype=torch.long, device=d)),
     r"^ead::sample: pass exactly one of temperature or positions$"),
    ("neither-temperature-nor-positions", lambda d: args_for(d, temperature=None),
     r"^ead::sample: pass exactly one of temperature or positions$"),
    ("seeds-wrong-length", lambda d: args_for(d, seeds=torch.arange(B - 1, device=d)),
     r"^ead::sample: seeds must have shape \[4\] \(one entry per row of logits\), got \[3\]$"),
    ("seeds-2d", lambda d: args_for(d, seeds=torch.arange(B, device=d)[:, None]),
     r"^ead::sample: seeds must have shape \[4\] \(one entry per row of logits\), got \[4, 1\]$"),
    ("seeds-int32", lambda d: args_for(d, seeds=torch.arange(B, dtype=torch.int32, device=d)),
     r"^ead::sample: seeds must be (Long|torch\.int64), got (Int|torch\.int32)$"),
    ("seeds-non-contiguous", lambda d: args_for(d, seeds=torch.arange(2 * B, device=d)[::2]),
     r"^ead::sample: seeds must be contiguous$"),
    ("seeds-other-device", lambda d: args_for(d, seeds=torch.arange(B, device=_other(d))),
     r"^ead::sample: seeds is on (meta|cpu) but logits are on (cpu|meta)$"),
    ("offsets-wrong-length", lambda d: args_for(d, offsets=torch.zeros(B + 1, dtype=torch.long, device=d)),
     r"^ead::sample: offsets must have shape \[4\] \(one entry per row of logits\), got \[5\]$"),
    ("offsets-float", lambda d: args_for(d, offsets=torch.zeros(B, device=d)),
     r"^ead::sample: offsets must be (Long|torch\.int64), got (Float|torch\.float32)$"),
    ("offsets-non-contiguous", lambda d: args_for(d, offsets=torch.zeros(B, 2, dtype=torch.long, device=d)[:, 0]),
     r"^ead::sample: offsets must be contiguous$"),
    ("offsets-other-device", lambda d: args_for(d, offsets=torch.zeros(B, dtype=torch.long, device=_other(d))),
     r"^ead::sample: offsets is on (meta|cpu) but logits are on (cpu|meta)$"),
    ("temperature-float64", lambda d: args_for(d, temperature=torch.ones(B, dtype=torch.float64, device=d)),
     r"^ead::sample: temperature must be (Float|torch\.float32), got (Double|torch\.float64)$"),
    ("temperature-bf16", lambda d: args_for(d, temperature=torch.ones(B, dtype=torch.bfloat16, device=d)),
     r"^ead::sample: temperature must be (Float|torch\.float32), got (BFloat16|torch\.bfloat16)$"),
    ("temperature-wrong-length", lambda d: args_for(d, temperature=torch.ones(B + 2, device=d)),
     r"^ead::sample: temperature must have shape \[4\] \(one entry per row of logits\), got \[6\]$"),
    ("temperature-non-contiguous", lambda d: args_for(d, temperature=torch.ones(2 * B, device=d)[1::2]),
     r"^ead::sample: temperature must be contiguous$"),
    ("temperature-other-device", lambda d: args_for(d, temperature=torch.ones(B, device=_other(d))),
     r"^ead::sample: temperature is on (meta|cpu) but logits are on (cpu|meta)$"),
    ("positions-int32", lambda d: args_for(d, positions=torch.zeros(B, dtype=torch.int32, device=d)),
     r"^ead::sample: positions must be (Long|torch\.int64), got (Int|torch\.int32)$"),
    ("positions-wrong-length", lambda d: args_for(d, positions=torch.zeros(1, dtype=torch.long, device=d)),
     r"^ead::sample: positions must have shape \[4\] \(one entry per row of logits\), got \[1\]$"),
    ("positions-non-contiguous",
     lambda d: args_for(d, positions=torch.zeros(B, 3, dtype=torch.long, device=d)[:, 1]),
     r"^ead::sample: positions must be contiguous$"),
    ("positions-other-device", lambda d: args_for(d, positions=torch.zeros(B, dtype=torch.long, device=_other(d))),
     r"^ead::sample: positions is on (meta|cpu) but logits are on (cpu|meta)$"),
]

_POS = lambda d: torch.arange(B, device=d) * 50  # noqa: E731
SCHEDULE_ERRORS = [
    ("tau_min-0", (1.2, 0.0, 25.0, 10, 20.0), r"^ead::sample: schedule tau_min must be > 0, got 0"),
    ("tau_min-negative", (1.2, -0.1, 25.0, 10, 20.0), r"^ead::sample: schedule tau_min must be > 0, got -0.1"),
    ("tau_max-below-tau_min", (0.5, 0.6, 25.0, 10, 20.0),
     r"^ead::sample: schedule tau_max \(0.5\) must be >= tau_min \(0.6\)$"),
    ("tau_max-nan", (math.nan, 0.1, 25.0, 10, 20.0), r"^ead::sample: schedule tau_max \(nan\) must be >= tau_min"),
    ("decay-0", (1.2, 0.1, 0.0, 10, 20.0), r"^ead::sample: schedule decay must be > 0, got 0"),
    ("decay-nan", (1.2, 0.1, math.nan, 10, 20.0), r"^ead::sample: schedule decay must be > 0, got nan"),
    ("token_scale-0", (1.2, 0.1, 25.0, 10, 0.0), r"^ead::sample: schedule token_scale must be > 0, got 0"),
    ("token_scale-negative", (1.2, 0.1, 25.0, 10, -20.0),
     r"^ead::sample: schedule token_scale must be > 0, got -20"),
    ("cutoff-negative", (1.2, 0.1, 25.0, -1, 20.0), r"^ead::sample: schedule cutoff must be >= 0, got -1$"),
]


def _for_device(match, dev):
    """The message regex for logits on dev: the wrong-device cases name the CUDA device when the
    logits are there (at::Device prints as cuda:N)."""
    if dev == "cuda":
        match = match.replace(" is on (meta|cpu) but logits are on (cpu|meta)$", r" is on cpu but logits are on cuda:\d+$")
    return match


@pytest.mark.parametrize("impl", _impls())
@pytest.mark.parametrize("case,build,match", METADATA_ERRORS, ids=[c[0] for c in METADATA_ERRORS])
def test_metadata_error(impl, case, build, match):
    dev, fn = IMPLS[impl]
    args = build(dev)
    match = _for_device(match, dev)
    with pytest.raises(RuntimeError, match=match):
        fn(*args)


@pytest.mark.parametrize("impl", _impls())
@pytest.mark.parametrize("case,sched,match", SCHEDULE_ERRORS, ids=[c[0] for c in SCHEDULE_ERRORS])
def test_invalid_schedule_parameters_with_positions(impl, case, sched, match):
    dev, fn = IMPLS[impl]
    with pytest.raises(RuntimeError, match=match):
        fn(*args_for(dev, positions=_POS(dev), sched=sched))


@pytest.mark.parametrize("impl", _impls("op", "reference", "op-cuda"))
def test_schedule_parameters_are_not_used_with_temperature(impl):
    """With per-row temperatures the schedule arguments are ignored (not validated)."""
    dev, fn = IMPLS[impl]
    out = fn(*args_for(dev, sched=(0.0, 0.0, 0.0, -1, 0.0)))
    assert (out[0] >= 0).all()


_DTYPE_CASES = ["logits-float64", "seeds-int32", "offsets-float", "temperature-float64", "positions-int32"]


@pytest.mark.parametrize("case", _DTYPE_CASES)
def test_metadata_error_messages_are_identical_across_implementations(case):
    build = {c[0]: c[1] for c in METADATA_ERRORS}[case]
    messages = set()
    for impl, (dev, fn) in IMPLS.items():
        if dev == "cuda" and _CUDA_SKIP:
            continue
        with pytest.raises(RuntimeError) as info:
            fn(*build(dev))
        messages.add(str(info.value).splitlines()[0])
    assert len(messages) == 1, messages


# ---------------------------------------------------------------- empty and extreme shapes

@pytest.mark.parametrize("impl", _impls())
@pytest.mark.parametrize("with_optional", [True, False])
def test_empty_batch_returns_empty_outputs(impl, with_optional):
    dev, fn = IMPLS[impl]
    args = (torch.zeros(0, V, device=dev), torch.ones(0, device=dev), None, torch.zeros(0, dtype=torch.long, device=dev),
            torch.zeros(0, dtype=torch.long, device=dev), *SCHED, with_optional, with_optional)
    tokens, lp, tgt, ent = fn(*args)
    assert tokens.shape == lp.shape == tgt.shape == ent.shape == (0,)
    assert tokens.dtype == torch.int64 and lp.dtype == tgt.dtype == ent.dtype == torch.float32
    assert tokens.device.type == dev


def test_empty_batch_through_the_api():
    out = ead_ext.sample(torch.zeros(0, V), temperature=1.0, seeds=0, offsets=0, return_entropy=True)
    assert out.tokens.shape == out.logprobs.shape == out.entropy.shape == (0,) and out.target_logprobs is None


@pytest.mark.parametrize("impl", ["reference", "op"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_single_entry_vocabulary_draws_token_0_with_logprob_0(impl, dtype):
    """A one-entry row is a sure draw: log-prob exactly 0 (y_0 - max y = 0), entropy 0 up to the
    kernels' -inf padding (63 entries of 2^-126 mass: < 1e-30)."""
    dev, fn = IMPLS[impl]
    x = torch.tensor([[3.0], [-1e4], [0.0], [100.0]]).to(dtype)
    for tau in (0.0, 0.3, 1.0, 2.0):
        tokens, lp, tgt, ent = fn(x, torch.full((4,), tau), None, torch.arange(4), torch.arange(4), *SCHED, True, True)
        assert tokens.tolist() == [0, 0, 0, 0]
        assert lp.tolist() == tgt.tolist() == [0.0] * 4, (tau, lp, tgt)
        assert ((ent >= 0) & (ent < 1e-30)).all(), (tau, ent)


@pytest.mark.parametrize("impl", ["reference", "op"])
@pytest.mark.parametrize("value", [-1e30, 1e30, -1e20, 3e5])
def test_single_finite_logit_of_extreme_magnitude_is_a_sure_draw(impl, value):
    """A row whose only finite logit is huge in magnitude (but x * log2(e) / tau stays finite) is
    valid: token = that entry, log-prob 0 (it is the maximum), entropy ~0."""
    dev, fn = IMPLS[impl]
    x = torch.tensor([[-math.inf, value, -math.inf]])
    for tau in (0.0, 0.5, 1.0):
        tokens, lp, tgt, ent = fn(x, torch.tensor([tau]), None, torch.tensor([0]), torch.tensor([0]), *SCHED, True,
                                  True)
        assert tokens.tolist() == [1]
        assert lp.tolist() == tgt.tolist() == [0.0], (tau, lp, tgt)
        assert 0 <= float(ent) < 1e-30, (tau, ent)


@pytest.mark.parametrize("impl", ["reference", "op"])
def test_logits_near_the_float_limit_of_opposite_signs_give_finite_statistics(impl):
    """Chunks whose maxima are 6e38 apart (the gap overflows to -inf): the far chunk weighs
    nothing, and the statistics stay finite (a 0 * -inf in the merge would make them NaN)."""
    dev, fn = IMPLS[impl]
    x = torch.full((2, 3 * 4096), -3e38)
    x[:, 5000] = 3e38
    tau = torch.tensor([2.0, 4.0])  # x * log2(e) / tau stays finite
    tokens, lp, tgt, ent = fn(x, tau, None, torch.arange(2), torch.arange(2), *SCHED, False, True)
    assert tokens.tolist() == [5000, 5000]
    assert lp.tolist() == [0.0, 0.0]
    assert ((ent >= 0) & (ent < 1e-30)).all(), ent


@pytest.mark.parametrize("impl", ["reference", "op"])
def test_greedy_row_of_hugely_negative_finite_logits_is_valid(impl):
    """x * log2(e) underflows to -inf for x < -2.36e38, but greedy compares x itself: a valid
    row (token = first argmax); sampling at tau = 1 has no finite score and is flagged."""
    dev, fn = IMPLS[impl]
    x = torch.full((2, 10), -3e38)
    x[:, 3] = -2.9e38
    tokens, lp, tgt, ent = fn(x, torch.tensor([0.0, 1.0]), None, torch.arange(2), torch.arange(2), *SCHED, True,
                              True)
    assert int(tokens[0]) == 3 and float(lp[0]) == pytest.approx(0.0, abs=1e-6) and math.isfinite(float(ent[0]))
    assert int(tokens[1]) == -1 and math.isnan(float(lp[1]))


def test_single_entry_vocabulary_accepts_any_column_stride():
    x = torch.zeros(3, 5).t()[:, :1]  # [5, 1] with strides (1, 5)
    assert x.stride(1) != 1
    tokens, lp, _, _ = torch.ops.ead.sample(x, torch.ones(5), None, torch.arange(5), torch.arange(5), *SCHED, False,
                                            False)
    assert tokens.tolist() == [0] * 5 and lp.tolist() == [0.0] * 5


def test_vocabulary_of_2_pow_20_entries_works():
    Vb = 2**20
    g = torch.Generator().manual_seed(0)
    x = (3.0 * torch.randn(2, Vb, generator=g)).to(torch.float16)
    x[1, Vb - 3] = 40.0  # a sure winner near the end of the row
    out = torch.ops.ead.sample(x, torch.tensor([1.0, 0.5]), None, torch.tensor([1, 2]), torch.tensor([3, 4]), *SCHED,
                               True, True)
    assert 0 <= int(out[0][0]) < Vb and int(out[0][1]) == Vb - 3
    lp = exact_log_softmax(x, torch.tensor([1.0, 0.5]))
    assert (out[1].double() - at(lp, out[0])).abs().max() < 1e-5
    ref_tokens = reference.sample(x, torch.tensor([1.0, 0.5]), None, torch.tensor([1, 2]), torch.tensor([3, 4]), *SCHED,
                                  False, False)[0]
    assert torch.equal(out[0], ref_tokens)


# ---------------------------------------------------------------- flagged rows (data)

def _flag_case(kind):
    """Returns (logits, temperature, positions, bad row, API message regex); the other rows are valid."""
    x = torch.randn(B, V, generator=torch.Generator().manual_seed(1))
    t = torch.ones(B)
    pos = None
    if kind == "tau-negative":
        t[1] = -0.5
        msg = r"row 1: temperature -0.5 is not a finite value >= 0 \(0 means greedy\)"
    elif kind == "tau-nan":
        t[1] = math.nan
        msg = r"row 1: temperature nan is not a finite value >= 0"
    elif kind == "tau-inf":
        t[1] = math.inf
        msg = r"row 1: temperature inf is not a finite value >= 0"
    elif kind == "tau-overflow":
        t[1] = 1e-38  # finite, > 0, but x * log2(e) / tau overflows float32
        x[1, 7] = 10.0
        msg = r"row 1: logits / temperature \(9\.99999\d*e-39\) overflows float32"  # 1e-38 in float32
    elif kind == "tau-subnormal":
        t[1] = 1e-45  # log2(e) / tau itself overflows float32
        msg = r"row 1: logits / temperature \(1\.4\d*e-45\) overflows float32"
    elif kind == "logit-nan":
        x[1, 3] = math.nan
        msg = r"row 1: logits contain NaN \(first at index 3\)"
    elif kind == "logit-posinf":
        x[1, 4] = math.inf
        msg = r"row 1: logits contain \+inf \(first at index 4\)"
    elif kind == "all-neginf":
        x[1] = -math.inf
        msg = r"row 1: no finite logit \(every entry is -inf\)"
    elif kind == "position-negative":
        t = None
        pos = torch.tensor([0, -3, 20, 400])
        msg = r"row 1: position -3 is negative"
    else:
        raise AssertionError(kind)
    return x, t, pos, msg


FLAG_KINDS = ["tau-negative", "tau-nan", "tau-inf", "tau-overflow", "tau-subnormal", "logit-nan", "logit-posinf",
              "all-neginf", "position-negative"]


@pytest.mark.parametrize("impl", ["op", "reference"])
@pytest.mark.parametrize("kind", FLAG_KINDS)
def test_invalid_row_is_flagged_not_raised(impl, kind):
    dev, fn = IMPLS[impl]
    x, t, pos, _ = _flag_case(kind)
    seeds, offsets = torch.arange(B), torch.arange(B) * 11
    tokens, lp, tgt, ent = fn(x, t, pos, seeds, offsets, *SCHED, True, True)
    assert int(tokens[1]) == -1
    assert math.isnan(lp[1]) and math.isnan(tgt[1]) and math.isnan(ent[1])
    ok = torch.tensor([0, 2, 3])
    assert (tokens[ok] >= 0).all() and torch.isfinite(lp[ok]).all() and torch.isfinite(ent[ok]).all()
    # the valid rows are unaffected by the bad one
    alone = fn(x[ok], None if t is None else t[ok], None if pos is None else pos[ok], seeds[ok], offsets[ok], *SCHED,
               True, True)
    assert torch.equal(tokens[ok], alone[0]) and torch.equal(lp[ok], alone[1])


@pytest.mark.parametrize("kind", FLAG_KINDS)
def test_invalid_row_raises_invalid_row_error_in_the_api(kind):
    x, t, pos, msg = _flag_case(kind)
    kw = dict(temperature=t) if pos is None else dict(positions=pos)
    with pytest.raises(InvalidRowError, match=r"^ead.sample: cannot sample 1 row\(s\): " + msg) as info:
        ead_ext.sample(x, seeds=torch.arange(B), offsets=torch.arange(B), **kw)
    assert isinstance(info.value, ValueError) and info.value.rows == [1] and len(info.value.reasons) == 1


@pytest.mark.parametrize("kind", FLAG_KINDS)
def test_invalid_row_with_validate_false_returns_the_flags(kind):
    x, t, pos, _ = _flag_case(kind)
    kw = dict(temperature=t) if pos is None else dict(positions=pos)
    out = ead_ext.sample(x, seeds=torch.arange(B), offsets=torch.arange(B), validate=False,
                         return_target_logprobs=True, return_entropy=True, **kw)
    assert int(out.tokens[1]) == -1 and math.isnan(out.logprobs[1]) and math.isnan(out.target_logprobs[1])
    assert math.isnan(out.entropy[1]) and (out.tokens[[0, 2, 3]] >= 0).all()


def test_invalid_row_error_names_every_bad_row():
    x = torch.zeros(12, V)
    x[[2, 5, 6, 7, 8, 9, 10, 11, 0], 0] = math.nan
    with pytest.raises(InvalidRowError, match=r"cannot sample 9 row\(s\): row 0: logits contain NaN .*"
                       r"row 8: .*\(and 1 more rows\)$") as info:
        ead_ext.sample(x, temperature=1.0, seeds=0, offsets=0)
    assert info.value.rows == [0, 2, 5, 6, 7, 8, 9, 10, 11]


@pytest.mark.parametrize("impl", ["op", "reference"])
def test_single_entry_vocabulary_minus_inf_is_flagged(impl):
    dev, fn = IMPLS[impl]
    tokens, lp, _, _ = fn(torch.tensor([[-math.inf], [1.0]]), torch.ones(2), None, torch.arange(2), torch.arange(2),
                          *SCHED, False, False)
    assert tokens.tolist() == [-1, 0] and math.isnan(lp[0]) and lp[1] == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("V", [1000, 151936])
def test_data_errors_flag_the_row_and_spare_the_others(device, dtype, V):
    """NaN / +inf / all -inf logits, x / tau overflow, bad temperatures and positions in one
    batch, on each device: token -1 and NaN statistics for that row (no exception inside the op,
    no sync on a GPU); valid rows in the same batch are unaffected; ead_ext.sample (validate)
    names the rows."""
    B = 10
    x = realistic_logits(B, V, seed=620)
    x[0, V // 2] = math.nan
    x[1, V - 1] = math.inf
    x[2] = -math.inf
    x[3, 7] = 3e38 if dtype == torch.float32 else 6e4
    tau = torch.ones(B)
    tau[3] = 1e-3 if dtype == torch.float32 else 1e-36  # x / tau overflows fp32
    tau[4], tau[5], tau[6] = -1.0, math.nan, math.inf
    x = x.to(dtype).to(device)
    tau = tau.to(device)
    seeds, offsets = row_ids(B, seed=621, device=device)
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
    pos = torch.tensor([5, -1, 200], device=device)
    tok, *_ = op(x[7:10], positions=pos, seeds=seeds[7:10], offsets=offsets[7:10])
    assert tok[1] == -1 and tok[0] >= 0 and tok[2] >= 0
