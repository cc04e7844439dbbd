"""The per-request EAD arguments: ``SamplingParams(extra_args={"ead": {...}})``, parsed and validated.

No vLLM import here: the verl side and the tests use it without an engine.

The ``"ead"`` entry is a dict (offline: ``SamplingParams(extra_args=...)``; over HTTP it travels in
``vllm_xargs``, see below) holding any of

================  =======  ==========================================================
key               type     meaning
================  =======  ==========================================================
``preset``        str      ``"small"`` (the paper's <= 2B defaults) or ``"large"``
                           (tau_min 0.8, 7B+); the base the other keys override.
                           Default: ``"small"`` (= ``Schedule()``).
``tau_max``       number   peak temperature after the cutoff (1.2)
``tau_min``       number   floor of the annealed temperature (0.1)
``d0``            number   decay at training step 0 (25)
``growth``        number   decay increase per global training step (5)
``cap``           number   upper bound of the decay (40000)
``cutoff``        int      leading tokens sampled at tau = 1 (10)
``token_scale``   number   k in exp(t / (k * d_s)) (20, the released code)
``shape``         str      the formula: ``"negexp"`` (the paper's, default) or another of
                           the authors' decay modes (``ead_ext.schedule.SHAPES``)
``step``          int      global training step s >= 0: d_s = min(d0 + growth * s, cap)
                           (default 0)
``decay``         number   an explicit d_s > 0, instead of ``step`` (not both); not for
                           the shapes that read the step (``both``, ``global_step``,
                           ``steps_variant(_rev)``) or have no position term (``none``)
================  =======  ==========================================================

``"ead": true`` means the default schedule, ``"ead": "large"`` a preset; ``"ead": null``,
``false`` or no entry mean a plain (stock) request. Over HTTP JSON ``true``/``false`` arrive as the
ints 1/0 (vLLM's ``vllm_xargs`` type), and mean the same.

Over HTTP, vLLM's ``vllm_xargs`` holds only flat values (str, int, float, lists of them), so the
same fields travel either as one JSON string, ``"vllm_xargs": {"ead": "{\"tau_min\": 0.1, \"step\": 3}"}``,
or as flat keys ``"vllm_xargs": {"ead.tau_min": 0.1, "ead.step": 3}`` (any ``ead.<field>`` key turns
EAD on; ``{"ead.preset": "small"}`` for the defaults). Anything else (an unknown key, a wrong
type, an invalid schedule) is an :class:`EADParamsError` naming the field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

from ead_ext.schedule import PRESETS, SHAPES, STEP_FACTOR_SHAPES, STEP_ONLY_SHAPES, Schedule, as_step

from ..flags import parse_flag

__all__ = ["EAD_KEY", "EADParams", "EADParamsError", "parse_ead_args", "ALLOWED_KEYS"]

#: key of the EAD entry in ``SamplingParams.extra_args``
EAD_KEY = "ead"
_SCHEDULE_KEYS = tuple(f.name for f in fields(Schedule))
_FLAT_PREFIX = EAD_KEY + "."
ALLOWED_KEYS = ("preset",) + _SCHEDULE_KEYS + ("step", "decay")


class EADParamsError(ValueError):
    """A request's ``extra_args["ead"]`` is invalid (a ValueError: vLLM answers HTTP 400)."""


@dataclass(frozen=True)
class EADParams:
    """One request's EAD schedule, resolved: ``tau(t)`` uses ``decay`` (= d_s) directly."""

    schedule: Schedule
    decay: float  # d_s: schedule.at_step(step), or the explicit "decay"
    step: Optional[int]

    @property
    def shape_code(self) -> int:
        """The index of the schedule's shape in ``SHAPES`` (the samplers' per-row code)."""
        return SHAPES.index(self.schedule.shape)

    @property
    def step_factor(self) -> float:
        """g = exp(-step / d0) of the shapes that read the step (1.0 with an explicit decay,
        which those shapes refuse)."""
        return 1.0 if self.step is None else self.schedule.step_factor(self.step)

    def temperature(self, positions):
        """tau_t (float32 tensor) for 0-based output positions, as the sampler computes it."""
        import torch

        from ead_ext.schedule import schedule_temperature

        s = self.schedule
        return schedule_temperature(torch.as_tensor(positions), s.tau_max, s.tau_min, self.decay, s.cutoff,
                                    s.token_scale, self.shape_code, self.step_factor)


def _err(msg: str) -> EADParamsError:
    return EADParamsError(f"extra_args['ead']: {msg}")


def parse_ead_args(extra_args: Optional[Mapping[str, Any]]) -> Optional[EADParams]:
    """The EAD parameters of a request's ``extra_args``, or None for a plain request.

    Raises :class:`EADParamsError` (a ValueError) naming the offending field. In steps: the EAD
    entry (:func:`_ead_entry`), its fields (:func:`_fields_of`), the schedule (:func:`_schedule_of`),
    the decay (:func:`_params_of`).
    """
    raw = _ead_entry(extra_args)
    if raw is None or raw is False:
        return None
    fields = _fields_of(raw)
    unknown = sorted(k for k in fields if k not in ALLOWED_KEYS)
    if unknown:
        raise _err(f"unknown field(s) {unknown}; allowed: {list(ALLOWED_KEYS)}")
    return _params_of(fields, _schedule_of(fields))


def _ead_entry(extra_args: Optional[Mapping[str, Any]]) -> Any:
    """The request's EAD entry: ``extra_args["ead"]`` or the flat ``ead.<field>`` keys (None if neither)."""
    if not extra_args:
        return None
    if not isinstance(extra_args, Mapping):
        raise EADParamsError(f"extra_args must be a dict, got {type(extra_args).__name__}")
    raw = extra_args.get(EAD_KEY)
    flat = {k[len(_FLAT_PREFIX):]: v for k, v in extra_args.items()
            if isinstance(k, str) and k.startswith(_FLAT_PREFIX)}
    if flat:
        if raw is not None:
            raise _err(f"give the EAD fields either in '{EAD_KEY}' or as flat '{_FLAT_PREFIX}<field>' keys, not both")
        raw = flat
    # Over HTTP, vllm_xargs values are typed str | int | float (| list): pydantic turns JSON true
    # and false into the ints 1 and 0 before they reach us, so 1 and 0 (not bools) mean the same.
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw in (0, 1):
        raw = bool(raw)
    return raw


def _fields_of(raw: Any) -> Mapping[str, Any]:
    """The entry as a mapping of fields: ``true`` (defaults), a preset name, a JSON object, a dict."""
    if raw is True:
        return {}
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("{"):
            return {} if parse_flag(text) is True else {"preset": text}
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise _err(f"not a valid JSON object: {e}") from None
        if not isinstance(raw, Mapping):
            raise _err("the JSON text must be an object")
        return raw
    if not isinstance(raw, Mapping):
        raise _err(f"must be a dict of schedule fields (or true, or a preset name), got {type(raw).__name__}")
    return raw


def _int_field(key: str, v: Any) -> int:
    # JSON clients may send 10.0 for 10: accept integral floats, nothing else.
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _err(f"field '{key}' must be an int, got {type(v).__name__} {v!r}")
    return v


def _number_field(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _err(f"field '{key}' must be a number, got {type(v).__name__} {v!r}")
    return float(v)


def _shape_field(key: str, v: Any) -> str:
    if not isinstance(v, str) or v not in SHAPES:
        raise _err(f"field '{key}' must be one of {list(SHAPES)}, got {v!r}")
    return v


#: how each schedule field's value is read (every field not named here: a number)
_FIELD_READERS = {"cutoff": _int_field, "shape": _shape_field}


def _schedule_of(fields: Mapping[str, Any]) -> Schedule:
    """The preset (default ``small``) with the request's schedule fields."""
    preset = fields.get("preset", "small")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise _err(f"field 'preset' must be one of {sorted(PRESETS)}, got {preset!r}")
    changes = {key: _FIELD_READERS.get(key, _number_field)(key, fields[key]) for key in _SCHEDULE_KEYS
               if key in fields}
    try:
        return PRESETS[preset].replace(**changes) if changes else PRESETS[preset]
    except (TypeError, ValueError) as e:
        raise _err(f"invalid schedule: {e}") from None


def _params_of(fields: Mapping[str, Any], schedule: Schedule) -> EADParams:
    """The decay: an explicit ``decay`` d_s, else the schedule's at the training ``step`` (default 0)."""
    step = fields.get("step")
    decay = fields.get("decay")
    if step is not None and decay is not None:
        raise _err("give either field 'step' (decay from the schedule) or field 'decay' (explicit d_s), not both")
    if decay is not None:
        if isinstance(decay, bool) or not isinstance(decay, (int, float)):
            raise _err(f"field 'decay' must be a number, got {type(decay).__name__} {decay!r}")
        if not (math.isfinite(decay) and decay > 0):
            raise _err(f"field 'decay' must be a finite number > 0, got {decay!r}")
        if schedule.shape in STEP_FACTOR_SHAPES or schedule.shape in STEP_ONLY_SHAPES:
            raise _err(f"shape {schedule.shape!r} has no position decay for field 'decay' to set"
                       if schedule.shape in STEP_ONLY_SHAPES else
                       f"shape {schedule.shape!r} reads the training step: give field 'step', not 'decay'")
        return EADParams(schedule, float(decay), None)
    if step is None:
        step = 0
    try:
        step = as_step(step)
    except ValueError:
        raise _err(f"field 'step' must be an int >= 0, got {type(step).__name__} {step!r}") from None
    return EADParams(schedule, schedule.at_step(step), step)
