"""The authors' decay modes as Schedule shapes: each against its formula written out here with
math.exp (float64, rounded once to float32), the decay each shape uses, the length rule, the op
with a shape against the op at the temperatures written out, and the errors."""
import math

import numpy as np
import pytest
import torch

from ead_ext import SHAPES, Schedule, decay_for_length, sample
from ead_ext.schedule import schedule_temperature
from sampling_helpers import realistic_logits

TAU_MAX, TAU_MIN, D0, GROWTH, CAP, CUTOFF, K = 1.3, 0.2, 4.0, 2.0, 30.0, 3, 20.0


def by_hand(shape, t, s):
    """tau of the authors' annealed_sampling_processor for decay_mode ``shape``, written out."""
    if t < CUTOFF:
        return np.float32(1.0)
    d_grow = min(D0 + GROWTH * s, CAP)
    g = math.exp(-s / D0)
    if shape == "negexp":
        tau = max(1 + TAU_MAX - math.exp(t / (K * d_grow)), TAU_MIN)
    elif shape == "negexp_rev":
        x = t / (K * d_grow)
        tau = TAU_MIN + math.exp(x) if x < math.log(TAU_MAX - TAU_MIN) else TAU_MAX
    elif shape == "token_length":
        tau = TAU_MIN + (TAU_MAX - TAU_MIN) * math.exp(-t / (K * D0))
    elif shape == "both_v_1_5":
        tau = TAU_MIN + (TAU_MAX - TAU_MIN) * math.exp(-t / (K * d_grow))
    elif shape == "both_v_1_5_rev":
        tau = TAU_MAX + (TAU_MIN - TAU_MAX) * math.exp(-t / (K * d_grow))
    elif shape == "both":
        tau = TAU_MIN + (TAU_MAX * g - TAU_MIN) * math.exp(-t / (K * D0))
    elif shape == "global_step":
        tau = TAU_MIN + (TAU_MAX - TAU_MIN) * g
    elif shape == "steps_variant":
        tau = min(TAU_MAX + (TAU_MIN - TAU_MAX) * g, 1.0)
    elif shape == "steps_variant_rev":
        tau = max(TAU_MIN + (TAU_MAX - TAU_MIN) * g, 0.1)
    elif shape == "none":
        tau = TAU_MAX
    else:
        raise AssertionError(shape)
    return np.float32(tau)


def _schedule(shape):
    return Schedule(tau_max=TAU_MAX, tau_min=TAU_MIN, d0=D0, growth=GROWTH, cap=CAP, cutoff=CUTOFF, token_scale=K,
                    shape=shape)


POSITIONS = [0, 2, 3, 4, 10, 50, 100, 200, 400, 1000, 5000]
STEPS = [0, 1, 3, 20, 100]


def test_every_authors_mode_is_a_shape():
    assert set(SHAPES) == {"negexp", "negexp_rev", "token_length", "both", "both_v_1_5", "both_v_1_5_rev",
                           "global_step", "steps_variant", "steps_variant_rev", "none"}
    assert Schedule().shape == "negexp"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("step", STEPS)
def test_shape_matches_its_formula(shape, step):
    got = _schedule(shape).temperature(torch.tensor(POSITIONS), step=step)
    want = np.array([by_hand(shape, t, step) for t in POSITIONS], dtype=np.float32)
    assert got.dtype == torch.float32
    np.testing.assert_array_equal(got.numpy(), want)


def test_shapes_differ_where_their_formulas_do():
    t = torch.arange(400)
    curves = {shape: _schedule(shape).temperature(t, step=3) for shape in SHAPES}
    for a in SHAPES:
        for b in SHAPES:
            if a < b and {a, b} != {"global_step", "steps_variant_rev"}:
                assert not torch.equal(curves[a], curves[b]), (a, b)
    # the authors' global_step and steps_variant_rev differ only by the latter's floor of 0.1
    low = {shape: _schedule(shape).replace(tau_min=0.01).temperature(t, step=100) for shape in
           ("global_step", "steps_variant_rev")}
    assert float(low["global_step"][-1]) < 0.1 == pytest.approx(float(low["steps_variant_rev"][-1]))
    # falling shapes fall, rising shapes rise, step-only shapes stay flat after the cutoff
    for shape in ("negexp", "token_length", "both_v_1_5", "both"):
        assert float(curves[shape][CUTOFF]) > float(curves[shape][-1])
    for shape in ("negexp_rev", "both_v_1_5_rev"):
        assert float(curves[shape][CUTOFF]) < float(curves[shape][-1])
    for shape in ("global_step", "steps_variant", "steps_variant_rev", "none"):
        assert torch.unique(curves[shape][CUTOFF:]).numel() == 1


@pytest.mark.parametrize("shape,decay", [("negexp", 10.0), ("negexp_rev", 10.0), ("both_v_1_5", 10.0),
                                         ("both_v_1_5_rev", 10.0), ("token_length", D0), ("both", D0)])
def test_decay_at_step_of_each_shape(shape, decay):
    assert _schedule(shape).at_step(3) == decay  # min(4 + 2 * 3, 30) or the fixed d0


def test_per_row_shapes_mix_in_one_call():
    """The samplers' path: one call, a shape code per row; each row its own formula."""
    rows = [(shape, t, s) for shape in SHAPES for t in (2, 7, 90) for s in (0, 5)]
    scheds = [_schedule(shape) for shape, _, _ in rows]
    col = lambda f: torch.tensor(f, dtype=torch.float64)  # noqa: E731
    tau = schedule_temperature(
        torch.tensor([t for _, t, _ in rows]), col([x.tau_max for x in scheds]), col([x.tau_min for x in scheds]),
        col([x.at_step(s) for x, (_, _, s) in zip(scheds, rows)]), torch.tensor([x.cutoff for x in scheds]),
        col([x.token_scale for x in scheds]), torch.tensor([SHAPES.index(shape) for shape, _, _ in rows]),
        col([x.step_factor(s) for x, (_, _, s) in zip(scheds, rows)]))
    np.testing.assert_array_equal(tau.numpy(), np.array([by_hand(*r) for r in rows], dtype=np.float32))


def test_negexp_is_still_the_kernels_formula():
    """The default shape goes through the same float64 operations as schedule.h: the op's in-kernel
    schedule equals Schedule.temperature (test_schedule.py checks the op); here: the shape code 0
    path equals the per-row path with code 0."""
    s = Schedule()
    t = torch.arange(2000)
    per_row = schedule_temperature(t, s.tau_max, s.tau_min, s.at_step(7), s.cutoff, s.token_scale,
                                   torch.zeros(2000, dtype=torch.int64), 1.0)
    assert torch.equal(per_row, s.temperature(t, step=7))


@pytest.mark.parametrize("shape", ["token_length", "both", "negexp_rev", "global_step"])
def test_op_with_a_shape_is_the_op_at_its_temperatures(shape):
    logits = realistic_logits(64, 512, seed=3)
    pos = torch.arange(64) * 7
    sched = _schedule(shape)
    got = sample(logits, positions=pos, schedule=sched, step=4, seeds=11, return_target_logprobs=True,
                 return_entropy=True)
    tau = torch.tensor([by_hand(shape, int(t), 4) for t in pos])
    want = sample(logits, temperature=tau, seeds=11, offsets=pos, return_target_logprobs=True, return_entropy=True)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_op_flags_negative_positions_with_any_shape():
    from ead_ext import InvalidRowError

    with pytest.raises(InvalidRowError, match="row 1"):
        sample(realistic_logits(2, 64, seed=0), positions=torch.tensor([3, -1]), schedule=_schedule("token_length"),
               seeds=0)


@pytest.mark.parametrize("shape,fraction,length", [("negexp", 1 / 3, 30), ("negexp", 0.5, 57),
                                                   ("token_length", 1 / 3, 30), ("both_v_1_5", 0.25, 200)])
def test_length_rule_puts_the_crossing_of_one_at_the_fraction(shape, fraction, length):
    base = Schedule(tau_max=1.2, tau_min=0.1, cutoff=0, shape=shape)
    d = decay_for_length(base, length, fraction)
    sched = base.replace(d0=d, growth=0.0, cap=max(d, base.cap))
    tau = sched.temperature(torch.arange(4 * length)).numpy()
    crossing = fraction * length
    below = int(np.argmax(tau <= 1.0))
    assert below - 1 <= crossing <= below + 1e-9  # tau > 1 before fraction * length, <= 1 from it
    if shape == "negexp":
        assert d == pytest.approx(fraction * length / (20 * math.log(1.2)))


@pytest.mark.parametrize("changes,match", [
    ({"shape": "global_step"}, "falling position shapes"),
    ({"shape": "negexp_rev"}, "falling position shapes"),
    ({"tau_max": 1.0}, "crosses 1.0 only"),
])
def test_length_rule_refuses_what_it_cannot_size(changes, match):
    with pytest.raises(ValueError, match=match):
        decay_for_length(Schedule().replace(**changes), 30)
    with pytest.raises(ValueError, match="length > 0"):
        decay_for_length(Schedule(), 0)


def test_unknown_shape_is_an_error_naming_the_shapes():
    with pytest.raises(ValueError, match=r"Schedule.shape must be one of \['negexp'"):
        Schedule(shape="linear")


def test_dict_round_trip_and_default_shape_left_out():
    assert "shape" not in Schedule().to_dict()  # records from before shapes compare equal
    s = _schedule("both_v_1_5")
    assert s.to_dict()["shape"] == "both_v_1_5" and Schedule.from_dict(s.to_dict()) == s
