"""ead_ext.sample, the documented Python API: argument forms, defaults, errors, equivalence with
the op, and the reference fallback where the compiled op is missing."""
import warnings

import pytest
import torch

import ead_ext
from ead_ext import PRESETS, SampleOutput, Schedule
from ead_ext import ops
from sampling_helpers import op, realistic_logits, row_ids, temperatures

B, V = 16, 800


@pytest.fixture(scope="module")
def logits():
    return realistic_logits(B, V, seed=1)


def test_compiled_cpu_op_is_loaded():
    info = ead_ext.backend_info()
    assert info["compiled"] and info["load_error"] is None and "cpu" in info["devices"]
    assert ead_ext.has_compiled_op("cpu") and not ead_ext.has_compiled_op("xpu")
    assert info["torch"] == torch.__version__


def test_api_equals_the_op_and_returns_sample_output(logits):
    seeds, offsets = row_ids(B, seed=2)
    tau = temperatures(B, seed=3)
    out = ead_ext.sample(logits, temperature=tau, seeds=seeds, offsets=offsets, return_target_logprobs=True,
                         return_entropy=True)
    assert isinstance(out, SampleOutput)
    expected = op(logits, temperature=tau, seeds=seeds, offsets=offsets)
    for got, want in zip(out, expected):
        assert torch.equal(got, want)
    assert out.tokens.dtype == torch.int64 and out.logprobs.dtype == torch.float32


def test_optional_outputs_are_none_unless_asked(logits):
    out = ead_ext.sample(logits, temperature=1.0, seeds=0, offsets=0)
    assert out.target_logprobs is None and out.entropy is None
    out = ead_ext.sample(logits, temperature=1.0, seeds=0, offsets=0, return_entropy=True)
    assert out.target_logprobs is None and out.entropy.shape == (B,)


def test_scalar_arguments_broadcast_to_every_row(logits):
    a = ead_ext.sample(logits, temperature=0.7, seeds=5, offsets=9)
    b = ead_ext.sample(logits, temperature=torch.full((B,), 0.7), seeds=torch.full((B,), 5),
                       offsets=torch.full((B,), 9))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.logprobs, b.logprobs)
    c = ead_ext.sample(logits, temperature=1, seeds=5, offsets=9)  # an int temperature is a float
    d = ead_ext.sample(logits, temperature=1.0, seeds=5, offsets=9)
    assert torch.equal(c.tokens, d.tokens)


def test_per_row_tensors_of_other_int_and_float_dtypes_are_converted(logits):
    a = ead_ext.sample(logits, temperature=torch.full((B,), 0.5, dtype=torch.float64),
                       seeds=torch.arange(B, dtype=torch.int32), offsets=torch.arange(B, dtype=torch.int16))
    b = ead_ext.sample(logits, temperature=torch.full((B,), 0.5), seeds=torch.arange(B), offsets=torch.arange(B))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.logprobs, b.logprobs)


def test_positions_use_the_schedule_at_the_step_and_offsets_default_to_positions(logits):
    positions = torch.arange(B) * 37
    sched = Schedule(tau_max=1.4, tau_min=0.3)
    seeds = torch.arange(B) + 100
    for step in (0, 7, 20000):
        out = ead_ext.sample(logits, positions=positions, schedule=sched, step=step, seeds=seeds,
                             return_entropy=True)
        expected = ead_ext.sample(logits, temperature=sched.temperature(positions, step), seeds=seeds,
                                  offsets=positions, return_entropy=True)
        assert torch.equal(out.tokens, expected.tokens) and torch.equal(out.logprobs, expected.logprobs)
        assert torch.equal(out.entropy, expected.entropy)


def test_default_schedule_is_schedule_defaults(logits):
    a = ead_ext.sample(logits, positions=50, seeds=3)
    b = ead_ext.sample(logits, positions=50, schedule=PRESETS["small"], seeds=3)
    c = ead_ext.sample(logits, temperature=Schedule().temperature([50]).item(), seeds=3, offsets=50)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.tokens, c.tokens)
    assert torch.equal(a.logprobs, c.logprobs)


def test_explicit_offsets_override_positions(logits):
    a = ead_ext.sample(logits, positions=30, seeds=3, offsets=12345)
    b = ead_ext.sample(logits, temperature=Schedule().temperature([30]).item(), seeds=3, offsets=12345)
    assert torch.equal(a.tokens, b.tokens)


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(temperature=1.0, positions=3, seeds=0, offsets=0), ValueError,
     r"^ead.sample: pass exactly one of temperature= or positions=$"),
    (dict(seeds=0, offsets=0), ValueError, r"^ead.sample: pass exactly one of temperature= or positions=$"),
    (dict(temperature=1.0, seeds=0), ValueError,
     r"^ead.sample: offsets= is required with temperature= \(use the token position\)$"),
    (dict(temperature=1.0, schedule=Schedule(), seeds=0, offsets=0), ValueError,
     r"^ead.sample: schedule= is used with positions=, not with temperature=$"),
    (dict(positions=3, schedule={"tau_min": 0.2}, seeds=0), TypeError,
     r"^ead.sample: schedule must be an ead_ext.Schedule, got dict$"),
    (dict(positions=3, step=-1, seeds=0), ValueError, r"^step must be an int >= 0, got -1$"),
    (dict(temperature=1.0, seeds=1.5, offsets=0), TypeError, r"^ead.sample: seeds must be a tensor or an int, got float$"),
    (dict(temperature=1.0, seeds=True, offsets=0), TypeError, r"^ead.sample: seeds must be a tensor or an int, got bool$"),
    (dict(temperature=1.0, seeds=torch.zeros(B), offsets=0), TypeError,
     r"^ead.sample: seeds must be an integer tensor, got torch.float32$"),
    (dict(temperature=1.0, seeds=0, offsets=torch.zeros(B, dtype=torch.bool)), TypeError,
     r"^ead.sample: offsets must be an integer tensor, got torch.bool$"),
    (dict(temperature=torch.ones(B, dtype=torch.long), seeds=0, offsets=0), TypeError,
     r"^ead.sample: temperature must be a floating-point tensor, got torch.int64$"),
    (dict(temperature="1.0", seeds=0, offsets=0), TypeError,
     r"^ead.sample: temperature must be a tensor or a float, got str$"),
    (dict(positions=2.0, seeds=0), TypeError, r"^ead.sample: positions must be a tensor or an int, got float$"),
    (dict(positions=torch.zeros(B), seeds=0), TypeError,
     r"^ead.sample: positions must be an integer tensor, got torch.float32$"),
])
def test_api_argument_errors(logits, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ead_ext.sample(logits, **kwargs)


def test_api_rejects_non_tensor_logits():
    with pytest.raises(TypeError, match=r"^ead.sample: logits must be a torch.Tensor, got list$"):
        ead_ext.sample([[0.0, 1.0]], temperature=1.0, seeds=0, offsets=0)


def test_api_passes_metadata_errors_through(logits):
    with pytest.raises(RuntimeError, match=r"^ead::sample: seeds must have shape \[16\]"):
        ead_ext.sample(logits, temperature=1.0, seeds=torch.arange(3), offsets=0)
    with pytest.raises(RuntimeError, match=r"^ead::sample: logits must be 2-D \[batch, vocab\], got 1-D$"):
        ead_ext.sample(logits[0], temperature=1.0, seeds=0, offsets=0)
    with pytest.raises(RuntimeError, match=r"^ead::sample: seeds must be contiguous$"):
        ead_ext.sample(logits, temperature=1.0, seeds=torch.arange(2 * B)[::2], offsets=0)


def test_reference_fallback_warns_once_and_draws_the_same_tokens(logits, monkeypatch):
    seeds, offsets = row_ids(B, seed=4)
    tau = temperatures(B, seed=5)
    compiled = ead_ext.sample(logits, temperature=tau, seeds=seeds, offsets=offsets, return_entropy=True)
    monkeypatch.setattr(ops, "_OP_DEVICES", frozenset())
    monkeypatch.setattr(ops, "_WARNED", set())
    with pytest.warns(RuntimeWarning, match=r"compiled op is not available for cpu .*pure-PyTorch reference"):
        fallback = ead_ext.sample(logits, temperature=tau, seeds=seeds, offsets=offsets, return_entropy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        ead_ext.sample(logits, temperature=tau, seeds=seeds, offsets=offsets)
    assert torch.equal(fallback.tokens, compiled.tokens)  # up to near-ties; none with these seeds
    assert (fallback.logprobs - compiled.logprobs).abs().max() < 1e-4
    # flagged rows raise from the reference as from the op
    bad = logits.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ead_ext.InvalidRowError, match=r"row 3: logits contain NaN \(first at index 0\)"):
        ead_ext.sample(bad, temperature=1.0, seeds=0, offsets=0)
