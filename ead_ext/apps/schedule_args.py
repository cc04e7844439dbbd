"""The EAD schedule on the command line: one flag per :class:`ead_ext.Schedule` field, for
``ead-ext eval``, ``generate`` and ``train`` (flags and parsing derived from the dataclass)."""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Optional

from ead_ext.schedule import SHAPES, Schedule

__all__ = ["add_schedule_args", "apply_schedule_args", "describe_schedule"]

PREFIX = "sched_"


def add_schedule_args(group) -> None:
    """``--tau-max``, ``--tau-min``, ``--d0``, ... (one per Schedule field, default None: keep the base)."""
    for f in fields(Schedule):
        choices = SHAPES if f.name == "shape" else None
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=PREFIX + f.name, type=type(f.default),
                           default=None, choices=choices,
                           help=f"Schedule.{f.name} (base: {f.default!r} in the paper's preset)")


def apply_schedule_args(base: Schedule, args: argparse.Namespace) -> Schedule:
    """``base`` with the fields given on the command line; a ``--d0`` above the cap raises the cap too."""
    changes = {f.name: getattr(args, PREFIX + f.name) for f in fields(Schedule)
               if getattr(args, PREFIX + f.name, None) is not None}
    if "d0" in changes and "cap" not in changes and changes["d0"] > base.cap:
        changes["cap"] = changes["d0"]
    return base.replace(**changes)


def describe_schedule(sched: Schedule, step: int = 0, length: Optional[int] = None, sep: str = "; ") -> str:
    """The fields and the decay at ``step``, then (after ``sep``) where tau crosses 1 and reaches tau_min
    (within ``length`` tokens when given)."""
    fields_txt = ", ".join(f"{k} {v:g}" if not isinstance(v, str) else f"{k} {v}"
                           for k, v in sched.to_dict().items())
    T = length or 4096
    taus = sched.temperature(list(range(T)), step=step).tolist()
    below = next((t for t in range(sched.cutoff, T) if taus[t] <= 1.0), None)
    floor = next((t for t in range(T) if taus[t] <= sched.tau_min * (1 + 1e-6)), None)  # float32 tau
    path = [f"tau {taus[0]:.2f} at t=0"]
    if below is not None:
        path.append(f"<= 1 from t={below}")
    path.append(f"tau_min {sched.tau_min:g} from t={floor}" if floor is not None
                else f"{taus[-1]:.2f} at t={T - 1}")
    return f"{fields_txt}; step {step}: decay {sched.at_step(step):g}{sep}" + ", ".join(path)
