"""The EAD temperature schedule (arXiv 2510.05251), as the authors' code computes it.

    tau_t = 1.0                                              for t <  cutoff
    tau_t = max(1 + tau_max - exp(t / (token_scale * d_s)), tau_min)  for t >= cutoff
    d_s   = min(d_0 + growth * s, cap)                       at global training step s

``t`` is the number of response tokens generated before the one being sampled
(0-based; not restarted at the cutoff). The paper writes the exponent as t/d; the
released code divides by 20*d_s (``token_scale`` = 20), so at step 0 the
temperature crosses 1.0 near t = 91 and reaches tau_min = 0.1 near t = 371. Set
``token_scale=1`` for the paper's literal reading (which collapses within ~18
tokens at d_0 = 25).

The same formula, evaluated in float64 and rounded once to float32, is in
``csrc/include/ead/schedule.h`` for the kernels.

Shapes
------
That formula is the shape ``"negexp"`` (the paper's, the default). The authors' released verl fork
has more decay modes; each is a named :attr:`Schedule.shape` here, one formula each, in
:func:`schedule_temperature` (the one place a temperature is computed from a schedule). With
``x = t / (k * d)`` (``d`` the decay of :meth:`Schedule.at_step`) and ``g = exp(-s / d0)`` at
training step ``s`` (:meth:`Schedule.step_factor`), for ``t >= cutoff`` (before it: 1.0, every shape):

=====================  ===================================================  ======================
shape                  tau                                                  decay d at step s
=====================  ===================================================  ======================
``negexp``             max(1 + tau_max - e^x, tau_min)                       min(d0 + growth s, cap)
``negexp_rev``         tau_min + e^x if x < ln(tau_max - tau_min), else      min(d0 + growth s, cap)
                       tau_max (rises)
``token_length``       tau_min + (tau_max - tau_min) e^-x                    d0
``both_v_1_5``         tau_min + (tau_max - tau_min) e^-x                    min(d0 + growth s, cap)
``both_v_1_5_rev``     tau_max + (tau_min - tau_max) e^-x (rises)            min(d0 + growth s, cap)
``both``               tau_min + (tau_max g - tau_min) e^-x                  d0
``global_step``        tau_min + (tau_max - tau_min) g (no position term)    none
``steps_variant``      min(tau_max + (tau_min - tau_max) g, 1)               none
``steps_variant_rev``  max(tau_min + (tau_max - tau_min) g, 0.1)             none
``none``               tau_max                                               none
=====================  ===================================================  ======================

The authors cap ``both_v_1_5``'s decay at 2000 (their ``decay_freq_cap_small``): give ``cap=2000``
to reproduce it (the ``cap`` default, 40000, is their ``negexp`` cap). Only ``negexp`` is computed
inside the kernels; the other shapes reach the op as per-row temperatures.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import torch

__all__ = ["Schedule", "PRESETS", "SHAPES", "STEP_ONLY_SHAPES", "STEP_FACTOR_SHAPES", "schedule_temperature",
           "as_step", "decay_for_length"]

#: the shapes, in the order of their codes (the per-row ``shape`` argument of schedule_temperature)
SHAPES = ("negexp", "negexp_rev", "token_length", "both_v_1_5", "both_v_1_5_rev", "both", "global_step",
          "steps_variant", "steps_variant_rev", "none")
#: shapes whose position decay is d0 at every step (the authors' fixed decay_freq)
_FIXED_DECAY = ("token_length", "both")
#: shapes with no position term: tau depends on the training step only (a request's explicit
#: decay has nothing to act on)
STEP_ONLY_SHAPES = ("global_step", "steps_variant", "steps_variant_rev", "none")
#: shapes that read the training step through g = exp(-s / d0) (an explicit decay cannot stand
#: in for the step)
STEP_FACTOR_SHAPES = ("both", "global_step", "steps_variant", "steps_variant_rev")


def as_step(value: Any) -> int:
    """``value`` as a global training step, an int >= 0: the one check of a step, behind
    :meth:`Schedule.at_step`, a request's ``"step"`` (vLLM side) and verl's step (rollout side).

    Accepts ints and what stands for one: numpy / torch integers (``__index__``) and integral floats
    (JSON numbers); ValueError ``step must be an int >= 0, got ...`` for anything else (bools, other
    floats, strings, negatives)."""
    step = value
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    elif not isinstance(step, (bool, int)):
        try:
            step = operator.index(step)
        except TypeError:
            pass
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {value!r}")
    return step


@dataclass(frozen=True)
class Schedule:
    """Frozen, validated EAD schedule parameters.

    Args:
        tau_max: peak temperature reached right after the cutoff (1.2 in the paper).
        tau_min: floor of the annealed temperature (0.1 for <= 2B models, 0.8 for 7B+).
        d0: decay at training step 0.
        growth: increase of the decay per global training step.
        cap: upper bound of the decay.
        cutoff: number of leading tokens sampled at tau = 1 (a template's prefix).
        token_scale: divisor k of the exponent t / (k * d_s); 20 in the released code.
        shape: the formula (module docstring): ``"negexp"`` (the paper's) or one of the
            authors' other decay modes, :data:`SHAPES`.
    """

    tau_max: float = 1.2
    tau_min: float = 0.1
    d0: float = 25.0
    growth: float = 5.0
    cap: float = 40000.0
    cutoff: int = 10
    token_scale: float = 20.0
    shape: str = "negexp"

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "shape":
                if v not in SHAPES:
                    raise ValueError(f"Schedule.shape must be one of {list(SHAPES)}, got {v!r}")
            elif f.name == "cutoff":
                if isinstance(v, bool) or not isinstance(v, int):
                    raise TypeError(f"Schedule.cutoff must be an int, got {type(v).__name__}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"Schedule.{f.name} must be a number, got {type(v).__name__}")
            elif not math.isfinite(v):
                raise ValueError(f"Schedule.{f.name} must be finite, got {v}")
        if self.tau_min <= 0:
            raise ValueError(f"Schedule.tau_min must be > 0, got {self.tau_min}")
        if self.tau_max < self.tau_min:
            raise ValueError(f"Schedule.tau_max ({self.tau_max}) must be >= tau_min ({self.tau_min})")
        if self.d0 <= 0:
            raise ValueError(f"Schedule.d0 must be > 0, got {self.d0}")
        if self.growth < 0:
            raise ValueError(f"Schedule.growth must be >= 0, got {self.growth}")
        if self.token_scale <= 0:
            raise ValueError(f"Schedule.token_scale must be > 0, got {self.token_scale}")
        if self.cutoff < 0:
            raise ValueError(f"Schedule.cutoff must be >= 0, got {self.cutoff}")
        if self.cap < self.d0:
            raise ValueError(f"Schedule.cap ({self.cap}) must be >= d0 ({self.d0})")

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> "Schedule":
        """Builds a schedule from a mapping, naming any unknown key in the error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown EAD schedule field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**dict(params))

    def to_dict(self) -> dict:
        """The fields as a dict; ``shape`` only when it is not the default ``"negexp"`` (so records
        written before shapes existed compare equal to today's)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "shape" or self.shape != "negexp"}

    def replace(self, **changes: Any) -> "Schedule":
        return replace(self, **changes)

    def at_step(self, step: int) -> float:
        """The decay d_s = min(d0 + growth * step, cap) of global training step ``step`` (d0 at
        every step for the shapes ``token_length`` and ``both``)."""
        step = as_step(step)
        if self.shape in _FIXED_DECAY:
            return float(self.d0)
        return float(min(self.d0 + self.growth * step, self.cap))

    def step_factor(self, step: int) -> float:
        """g = exp(-step / d0), the training-step term of the shapes in :data:`STEP_FACTOR_SHAPES`."""
        return math.exp(-as_step(step) / self.d0)

    def temperature(self, positions: torch.Tensor | int | list, step: int = 0) -> torch.Tensor:
        """Vectorized tau_t (float32) for token positions t (>= 0) at training step ``step``.

        Bit-for-bit the value the kernels compute from the same position.
        """
        t = torch.as_tensor(positions)
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
            raise TypeError(f"positions must be integers, got {t.dtype}")
        if t.numel() and int(t.min()) < 0:
            raise ValueError("positions must be >= 0")
        return schedule_temperature(t, self.tau_max, self.tau_min, self.at_step(step), self.cutoff, self.token_scale,
                                    SHAPES.index(self.shape), self.step_factor(step))


def _full(x: torch.Tensor, value) -> torch.Tensor:
    return torch.zeros_like(x) + value  # a number or a per-row tensor, broadcast to x


def _negexp(x, tau_max, tau_min, g):
    # max(1 + tau_max - e^x, tau_min), operation for operation as schedule.h (bit-equal to the kernels)
    return torch.clamp((1.0 + tau_max) - torch.exp(x), min=tau_min)


def _negexp_rev(x, tau_max, tau_min, g):
    limit = torch.log(torch.as_tensor(tau_max - tau_min, dtype=torch.float64, device=x.device))
    return torch.where(x < limit, tau_min + torch.exp(x), _full(x, tau_max))


def _exp_fall(x, tau_max, tau_min, g):
    return tau_min + (tau_max - tau_min) * torch.exp(-x)


def _exp_rise(x, tau_max, tau_min, g):
    return tau_max + (tau_min - tau_max) * torch.exp(-x)


def _both(x, tau_max, tau_min, g):
    return tau_min + (tau_max * g - tau_min) * torch.exp(-x)


def _global_step(x, tau_max, tau_min, g):
    return _full(x, tau_min + (tau_max - tau_min) * g)


def _steps_variant(x, tau_max, tau_min, g):
    return torch.clamp(_full(x, tau_max + (tau_min - tau_max) * g), max=1.0)


def _steps_variant_rev(x, tau_max, tau_min, g):
    return torch.clamp(_full(x, tau_min + (tau_max - tau_min) * g), min=0.1)


def _constant(x, tau_max, tau_min, g):
    return _full(x, tau_max)


#: one formula per shape, in the order of SHAPES
_FORMULAS = (_negexp, _negexp_rev, _exp_fall, _exp_fall, _exp_rise, _both, _global_step, _steps_variant,
             _steps_variant_rev, _constant)


def schedule_temperature(t: torch.Tensor, tau_max, tau_min, decay, cutoff, token_scale, shape=0,
                         step_factor=1.0, present=None) -> torch.Tensor:
    """tau(t) with an explicit decay, in float64 then rounded once to float32 (as schedule.h).

    The one implementation of the schedule in Python: :meth:`Schedule.temperature`, the reference
    op and both vLLM shims call it. Each parameter is a number or a tensor that broadcasts against
    ``t`` (per-row schedules: float64 for the real-valued ones), on ``t``'s device; no host sync.
    ``shape`` is the index of the shape in :data:`SHAPES` (an int, or an int tensor per row: every
    shape present is computed and each row takes its own; ``present``, the codes that occur, saves
    finding them on the device); ``step_factor`` is g = exp(-s / d0).
    """
    td = t.to(torch.float64)
    x = td / (token_scale * decay)
    if isinstance(shape, torch.Tensor):
        codes = torch.unique(shape).tolist() if present is None else present
        tau = torch.zeros_like(x)
        for code in codes:
            tau = torch.where(shape == code, _FORMULAS[int(code)](x, tau_max, tau_min, step_factor), tau)
    else:
        tau = _FORMULAS[shape](x, tau_max, tau_min, step_factor)
    tau = torch.where(td < cutoff, torch.ones_like(tau), tau)
    return tau.to(torch.float32)


def decay_for_length(schedule: Schedule, length: float, fraction: float = 1 / 3) -> float:
    """The decay d at which ``schedule``'s tau crosses 1.0 at t = ``fraction * length``: the length
    rule that sizes a schedule to an answer (the hot phase spans that fraction of it).

    For the falling position shapes (``negexp``: x* = ln tau_max; ``token_length`` and
    ``both_v_1_5``: x* = ln((tau_max - tau_min) / (1 - tau_min))), d = fraction * length / (k x*).
    ValueError for shapes without a falling crossing of 1.0, and for tau_max <= 1 or tau_min >= 1.
    """
    if not (length > 0 and math.isfinite(length)) or not (0 < fraction <= 1):
        raise ValueError(f"decay_for_length needs length > 0 and 0 < fraction <= 1, got {length!r}, {fraction!r}")
    if schedule.tau_max <= 1.0 or schedule.tau_min >= 1.0:
        raise ValueError(f"a schedule crosses 1.0 only with tau_max > 1 > tau_min, got {schedule.tau_max}, "
                         f"{schedule.tau_min}")
    if schedule.shape == "negexp":
        crossing = math.log(schedule.tau_max)
    elif schedule.shape in ("token_length", "both_v_1_5"):
        crossing = math.log((schedule.tau_max - schedule.tau_min) / (1.0 - schedule.tau_min))
    else:
        raise ValueError(f"the length rule sizes the falling position shapes (negexp, token_length, "
                         f"both_v_1_5), not {schedule.shape!r}")
    return fraction * length / (schedule.token_scale * crossing)


PRESETS: dict[str, Schedule] = {
    # The paper's defaults: tau_min 0.1 for models up to ~2B parameters, 0.8 for 7B+.
    "small": Schedule(),
    "large": Schedule(tau_min=0.8),
}
