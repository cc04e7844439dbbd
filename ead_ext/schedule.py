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
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import torch

__all__ = ["Schedule", "PRESETS", "schedule_temperature", "as_step"]


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
    """

    tau_max: float = 1.2
    tau_min: float = 0.1
    d0: float = 25.0
    growth: float = 5.0
    cap: float = 40000.0
    cutoff: int = 10
    token_scale: float = 20.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "cutoff":
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
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def replace(self, **changes: Any) -> "Schedule":
        return replace(self, **changes)

    def at_step(self, step: int) -> float:
        """The decay d_s = min(d0 + growth * step, cap) of global training step ``step``."""
        return float(min(self.d0 + self.growth * as_step(step), self.cap))

    def temperature(self, positions: torch.Tensor | int | list, step: int = 0) -> torch.Tensor:
        """Vectorized tau_t (float32) for token positions t (>= 0) at training step ``step``.

        Bit-for-bit the value the kernels compute from the same position.
        """
        t = torch.as_tensor(positions)
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
            raise TypeError(f"positions must be integers, got {t.dtype}")
        if t.numel() and int(t.min()) < 0:
            raise ValueError("positions must be >= 0")
        return schedule_temperature(t, self.tau_max, self.tau_min, self.at_step(step), self.cutoff, self.token_scale)


def schedule_temperature(t: torch.Tensor, tau_max, tau_min, decay, cutoff, token_scale) -> torch.Tensor:
    """tau(t) with an explicit decay, in float64 then rounded once to float32 (as schedule.h).

    The one implementation of the formula in Python: :meth:`Schedule.temperature`, the reference
    op and both vLLM shims call it. Each parameter is a number or a tensor that broadcasts against
    ``t`` (per-row schedules: float64 for the real-valued ones), on ``t``'s device; no host sync.
    """
    td = t.to(torch.float64)
    tau = (1.0 + tau_max) - torch.exp(td / (token_scale * decay))
    tau = torch.clamp(tau, min=tau_min)
    tau = torch.where(td < cutoff, torch.ones_like(tau), tau)
    return tau.to(torch.float32)


PRESETS: dict[str, Schedule] = {
    # The paper's defaults: tau_min 0.1 for models up to ~2B parameters, 0.8 for 7B+.
    "small": Schedule(),
    "large": Schedule(tau_min=0.8),
}
