"""The EAD schedule: exact values at chosen positions and steps (computed by hand with
math.exp), validation errors, and the op's in-kernel schedule against Schedule.temperature."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from ead_ext import PRESETS, Schedule
from sampling_helpers import op, realistic_logits, row_ids


def by_hand(t, step=0, tau_max=1.2, tau_min=0.1, d0=25.0, growth=5.0, cap=40000.0, cutoff=10, k=20.0):
    """tau_t in float64, rounded once to float32 (what schedule.py and schedule.h promise)."""
    if t < cutoff:
        return np.float32(1.0)
    d = min(d0 + growth * step, cap)
    return np.float32(max(1.0 + tau_max - math.exp(t / (k * d)), tau_min))


def test_defaults_are_the_released_code_values():
    s = Schedule()
    assert (s.tau_max, s.tau_min, s.d0, s.growth, s.cap, s.cutoff, s.token_scale) == (
        1.2, 0.1, 25.0, 5.0, 40000.0, 10, 20.0)
    assert PRESETS["small"] == Schedule() and PRESETS["large"] == Schedule(tau_min=0.8)


def test_positions_before_cutoff_are_exactly_one():
    tau = Schedule().temperature(torch.arange(10))
    assert tau.dtype == torch.float32 and torch.equal(tau, torch.ones(10))
    assert torch.equal(Schedule(cutoff=0).temperature([0]), torch.tensor([np.float32(2.2 - 1.0)]))


@pytest.mark.parametrize("t,expected", [
    (10, 1.2 + 1 - math.exp(10 / 500)),   # first annealed token: 1.17980
    (50, 2.2 - math.exp(0.1)),            # 1.09483
    (91, 2.2 - math.exp(91 / 500)),       # just above 1.0 (the crossing near t = 91)
    (92, 2.2 - math.exp(92 / 500)),       # just below 1.0
    (200, 2.2 - math.exp(0.4)),
    (370, 2.2 - math.exp(370 / 500)),     # 0.10395: still above tau_min
    (371, 0.1),                           # 2.2 - exp(0.742) = 0.0998 < tau_min: clamped
    (5000, 0.1),
])
def test_values_at_step0_match_hand_computation(t, expected):
    tau = Schedule().temperature(torch.tensor([t]))
    assert float(tau[0]) == np.float32(expected) == by_hand(t)


def test_crossings_at_step0():
    tau = Schedule().temperature(torch.arange(1000))
    assert float(tau[91]) > 1.0 > float(tau[92])
    assert float(tau[370]) > 0.1 and torch.all(tau[371:] == np.float32(0.1))
    assert float(tau[10]) == pytest.approx(1.1798, abs=1e-4)


@pytest.mark.parametrize("step,decay", [(0, 25.0), (1, 30.0), (100, 525.0), (7995, 40000.0), (7996, 40000.0),
                                        (10000, 40000.0)])
def test_decay_at_step_grows_linearly_to_the_cap(step, decay):
    assert Schedule().at_step(step) == decay


@pytest.mark.parametrize("step", [0, 1, 100, 10000])
@pytest.mark.parametrize("t", [9, 10, 91, 371, 1234, 30000])
def test_values_at_steps_match_hand_computation(step, t):
    assert float(Schedule().temperature([t], step=step)[0]) == by_hand(t, step=step)


def test_token_scale_one_is_the_papers_literal_reading():
    s = Schedule(token_scale=1.0)
    tau = s.temperature(torch.arange(40))
    assert float(tau[10]) == by_hand(10, k=1.0)
    # exp(t / 25) > 2.2 - 0.1 from t = 19 on: collapsed to tau_min within ~18 tokens
    assert float(tau[18]) > 0.1 and float(tau[19]) == np.float32(0.1)


def test_temperature_is_vectorized_and_monotone_after_cutoff():
    s = Schedule()
    t = torch.arange(0, 2002, 7)  # 286 positions
    tau = s.temperature(t, step=3)
    assert tau.shape == t.shape and tau.dtype == torch.float32
    assert [float(v) for v in tau] == [float(by_hand(int(v), step=3)) for v in t]
    after = tau[t >= 10]
    assert torch.all(after[1:] <= after[:-1])
    assert torch.equal(s.temperature(t.reshape(2, -1), step=3).flatten(), tau)  # any shape
    assert float(s.temperature(91)) == by_hand(91)  # a plain int


def test_schedule_is_frozen_and_round_trips_through_dict():
    s = Schedule(tau_min=0.3, cutoff=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.tau_min = 0.5
    assert Schedule.from_dict(s.to_dict()) == s
    assert s.replace(cutoff=7).cutoff == 7 and s.cutoff == 4


@pytest.mark.parametrize("kwargs,match", [
    (dict(tau_min=0.0), r"tau_min must be > 0"),
    (dict(tau_min=-0.1), r"tau_min must be > 0"),
    (dict(tau_max=0.5, tau_min=0.6), r"tau_max \(0.5\) must be >= tau_min \(0.6\)"),
    (dict(d0=0.0), r"d0 must be > 0"),
    (dict(d0=-5.0, cap=10.0), r"d0 must be > 0"),
    (dict(token_scale=0.0), r"token_scale must be > 0"),
    (dict(token_scale=-20.0), r"token_scale must be > 0"),
    (dict(cutoff=-1), r"cutoff must be >= 0"),
    (dict(cap=24.0), r"cap \(24.0\) must be >= d0 \(25.0\)"),
    (dict(growth=-1.0), r"growth must be >= 0"),
    (dict(tau_max=math.nan), r"tau_max must be finite"),
    (dict(d0=math.inf), r"d0 must be finite"),
])
def test_invalid_schedule_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Schedule(**kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(cutoff=10.0), r"cutoff must be an int, got float"),
    (dict(cutoff=True), r"cutoff must be an int, got bool"),
    (dict(tau_max="1.2"), r"tau_max must be a number, got str"),
    (dict(d0=None), r"d0 must be a number, got NoneType"),
    (dict(tau_min=False), r"tau_min must be a number, got bool"),
])
def test_schedule_wrong_types_raise_type_error(kwargs, match):
    with pytest.raises(TypeError, match=match):
        Schedule(**kwargs)


def test_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown EAD schedule field\(s\) \['decay', 'taumax'\]"):
        Schedule.from_dict({"tau_max": 1.0, "taumax": 1.0, "decay": 3})
    assert Schedule.from_dict({"tau_min": 0.8}) == PRESETS["large"]
    with pytest.raises(ValueError, match=r"tau_min must be > 0"):
        Schedule.from_dict({"tau_min": 0})


@pytest.mark.parametrize("step", [-1, 1.5, True, "3"])
def test_at_step_rejects_bad_steps(step):
    with pytest.raises(ValueError, match=r"step must be an int >= 0"):
        Schedule().at_step(step)


def test_temperature_rejects_negative_or_float_positions():
    with pytest.raises(ValueError, match=r"positions must be >= 0"):
        Schedule().temperature(torch.tensor([3, -1]))
    with pytest.raises(TypeError, match=r"positions must be integers, got torch.float32"):
        Schedule().temperature(torch.tensor([3.0]))


@pytest.mark.parametrize("step", [0, 1, 100, 10000])
@pytest.mark.parametrize("sched", [Schedule(), PRESETS["large"], Schedule(tau_max=1.5, cutoff=0, token_scale=1.0)],
                         ids=["small", "large", "custom"])
def test_op_positions_equal_op_with_schedule_temperature(sched, step):
    """positions + schedule in the kernel == Schedule.temperature(positions, step) passed as temperature:
    same tokens and bit-identical statistics (the kernel's float tau is the same float)."""
    B, V = 64, 700
    x = realistic_logits(B, V, seed=11)
    seeds, offsets = row_ids(B, seed=12)
    positions = torch.cat([torch.arange(0, 12), torch.tensor([90, 91, 92, 370, 371, 5000, 10**6, 2**40]),
                           torch.randint(0, 3000, (B - 20,), generator=torch.Generator().manual_seed(step))])
    sargs = (sched.tau_max, sched.tau_min, sched.at_step(step), sched.cutoff, sched.token_scale)
    by_pos = op(x, positions=positions, seeds=seeds, offsets=offsets, sched=sargs)
    by_tau = op(x, temperature=sched.temperature(positions, step), seeds=seeds, offsets=offsets, sched=sargs)
    for a, b in zip(by_pos, by_tau):
        assert torch.equal(a, b)
    assert (by_pos.tokens >= 0).all()


def test_as_step_is_the_one_check_of_a_training_step():
    """ead_ext.schedule.as_step: ints and what stands for one (integral floats from JSON, integer
    tensors); at_step, a vLLM request's "step" and verl's rollout step all go through it."""
    from ead_ext.schedule import as_step

    assert [as_step(v) for v in (0, 3, 3.0, torch.tensor(7))] == [0, 3, 3, 7]
    for bad in (-1, 1.5, True, "3", None, torch.tensor(1.5), -2.0):
        with pytest.raises(ValueError, match=r"^step must be an int >= 0, got "):
            as_step(bad)
    assert Schedule().at_step(2.0) == Schedule().at_step(2)
