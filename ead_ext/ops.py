"""Python API of the fused EAD sampling op (``torch.ops.ead.sample``).

Loads the compiled library when it is present, registers the op's fake
implementation for torch.compile, and wraps the op in :func:`sample`. Where the
library was not built (or lacks the input's device), the pure-PyTorch reference
serves instead, with a warning once.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple, Optional, Union

import torch

from . import reference
from ._checks import check_sample_inputs
from .schedule import Schedule

__all__ = ["SampleOutput", "sample", "backend_info", "has_compiled_op", "InvalidRowError"]

try:
    from . import _C  # noqa: F401  (loading it registers torch.ops.ead.*)

    _LOAD_ERROR: Optional[str] = None
except ImportError as e:  # not built, or built against another torch
    _LOAD_ERROR = f"{type(e).__name__}: {e}"

_WARNED: set = set()
_DEFAULT_SCHEDULE = Schedule()
_DISPATCH_KEYS = {"cpu": "CPU", "cuda": "CUDA"}


def has_compiled_op(device_type: str = "cpu") -> bool:
    """Whether the compiled ``ead::sample`` kernel exists for ``device_type``."""
    if _LOAD_ERROR is not None or device_type not in _DISPATCH_KEYS:
        return False
    return torch._C._dispatch_has_kernel_for_dispatch_key("ead::sample", _DISPATCH_KEYS[device_type])


# Device types the compiled op serves, fixed at import: a plain dict lookup in the
# hot path, which torch.compile also traces. 'meta' runs the fake implementation.
_OP_DEVICES = frozenset([d for d in _DISPATCH_KEYS if has_compiled_op(d)] + (["meta"] if _LOAD_ERROR is None else []))


def backend_info() -> dict:
    """What serves :func:`sample`: the compiled op (and for which devices) or the reference."""
    devices = [d for d in _DISPATCH_KEYS if d in _OP_DEVICES]
    return {
        "compiled": _LOAD_ERROR is None,
        "devices": devices,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "load_error": _LOAD_ERROR,
    }


if _LOAD_ERROR is None:

    @torch.library.register_fake("ead::sample")
    def _sample_fake(logits, temperature, positions, seeds, offsets, tau_max, tau_min, decay, cutoff,
                     token_scale, return_target_logprobs, return_entropy):
        check_sample_inputs(logits, temperature, positions, seeds, offsets, tau_max, tau_min, decay, cutoff,
                            token_scale)
        B = logits.shape[0]
        f32 = dict(dtype=torch.float32, device=logits.device)
        return (
            logits.new_empty((B,), dtype=torch.int64),
            logits.new_empty((B,), **f32),
            logits.new_empty((B if return_target_logprobs else 0,), **f32),
            logits.new_empty((B if return_entropy else 0,), **f32),
        )


class SampleOutput(NamedTuple):
    """Results of :func:`sample`, one entry per row."""

    tokens: torch.Tensor  # int64 [B]
    logprobs: torch.Tensor  # float32 [B]: behaviour log-prob, log softmax(logits / tau)[token]
    target_logprobs: Optional[torch.Tensor]  # float32 [B]: log softmax(logits)[token] (tau = 1), if asked
    entropy: Optional[torch.Tensor]  # float32 [B]: entropy of softmax(logits / tau) in nats, if asked


class InvalidRowError(ValueError):
    """Rows the op flagged (token -1): NaN/+inf logits, no finite logit, bad tau or position."""

    def __init__(self, rows: list, reasons: list):
        self.rows = rows
        self.reasons = reasons
        shown = "; ".join(f"row {r}: {why}" for r, why in zip(rows[:8], reasons[:8]))
        more = f" (and {len(rows) - 8} more rows)" if len(rows) > 8 else ""
        super().__init__(f"ead.sample: cannot sample {len(rows)} row(s): {shown}{more}")


def _row_tensor(value, batch: int, device: torch.device, name: str, floating: bool) -> torch.Tensor:
    """Turns a scalar or a per-row tensor into the op's [B] tensor of the right dtype."""
    dtype = torch.float32 if floating else torch.int64
    if isinstance(value, torch.Tensor):
        ok = value.dtype.is_floating_point if floating else (
            not value.dtype.is_floating_point and not value.dtype.is_complex and value.dtype != torch.bool)
        if not ok:
            kind = "a floating-point" if floating else "an integer"
            raise TypeError(f"ead.sample: {name} must be {kind} tensor, got {value.dtype}")
        return value if value.dtype == dtype else value.to(dtype)  # the op checks shape and device
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (not floating and isinstance(value, float)):
        raise TypeError(f"ead.sample: {name} must be a tensor or {'a float' if floating else 'an int'}, "
                        f"got {type(value).__name__}")
    return torch.full((batch,), value, dtype=dtype, device=device)


def _explain_rows(logits, temperature, positions, tau) -> tuple:
    """Names each flagged row and why (error path only: the cost does not matter here)."""
    x = logits.detach().float().cpu()
    rows, reasons = [], []
    for r in range(x.shape[0]):
        row, t = x[r], float(tau[r])
        if positions is not None and int(positions[r]) < 0:
            why = f"position {int(positions[r])} is negative"
        elif temperature is not None and not (t >= 0 and math.isfinite(t)):
            why = f"temperature {t} is not a finite value >= 0 (0 means greedy)"
        elif torch.isnan(row).any():
            why = f"logits contain NaN (first at index {int(torch.isnan(row).nonzero()[0])})"
        elif torch.isposinf(row).any():
            why = f"logits contain +inf (first at index {int(torch.isposinf(row).nonzero()[0])})"
        elif torch.isneginf(row).all():
            why = "no finite logit (every entry is -inf)"
        else:
            why = f"logits / temperature ({t}) overflows float32"
        rows.append(r)
        reasons.append(why)
    return rows, reasons


# The schedule arguments of the op when per-row temperatures are given (it reads none of them).
_UNUSED_SCHEDULE = (1.0, 1.0, 1.0, 0, 1.0)


def sample_at_temperatures(logits, tau, seeds, offsets, want_target=False, want_entropy=False):
    """The op at given per-row temperatures, compiled where it exists for the device, else the
    reference; no argument conversion and no host sync. The vLLM shims' entry point (flagged rows
    come back as token -1, as from ``torch.ops.ead.sample``)."""
    return _run(logits, tau, None, seeds, offsets, _UNUSED_SCHEDULE, want_target, want_entropy)


def _run(logits, temperature, positions, seeds, offsets, sched_args, want_target, want_entropy):
    device_type = logits.device.type
    if device_type in _OP_DEVICES:
        return torch.ops.ead.sample(logits, temperature, positions, seeds, offsets, *sched_args, want_target,
                                    want_entropy)
    if device_type not in _WARNED:
        _WARNED.add(device_type)
        why = _LOAD_ERROR or f"it was built without {device_type} support"
        warnings.warn(f"ead_ext: the compiled op is not available for {device_type} ({why}); using the "
                      "pure-PyTorch reference, which is much slower.", RuntimeWarning, stacklevel=3)
    return reference.sample(logits, temperature, positions, seeds, offsets, *sched_args, want_target,
                            want_entropy)


def sample(
    logits: torch.Tensor,
    *,
    temperature: Union[torch.Tensor, float, None] = None,
    positions: Union[torch.Tensor, int, None] = None,
    schedule: Optional[Schedule] = None,
    step: int = 0,
    seeds: Union[torch.Tensor, int],
    offsets: Union[torch.Tensor, int, None] = None,
    return_target_logprobs: bool = False,
    return_entropy: bool = False,
    validate: bool = True,
) -> SampleOutput:
    """Draws one token per row from softmax(logits / tau_row) in one fused pass.

    Args:
        logits: [B, V] float32, bfloat16 or float16, rows contiguous.
        temperature: per-row tau ([B] tensor or one float for all rows); 0 means greedy
            (argmax, with tau = 1 statistics, as vLLM reports greedy rows).
        positions: per-row count of tokens generated so far ([B] int tensor or one int);
            tau is then the EAD schedule at that position, computed in the kernel.
            Pass exactly one of ``temperature`` and ``positions``.
        schedule: the :class:`Schedule` used with ``positions`` (default: ``Schedule()``). The
            kernels compute the ``negexp`` shape; another shape's temperatures are computed
            first (``schedule.temperature``) and given to the op per row.
        step: global training step: the decay is ``schedule.at_step(step)``.
        seeds: per-row Philox seed ([B] int64 tensor, or one int for all rows).
        offsets: per-row Philox offset; it must change from one token of a sequence to
            the next. Defaults to ``positions`` when given, else it is required.
        return_target_logprobs: also return log softmax(logits)[token] (tau = 1).
        return_entropy: also return the entropy of softmax(logits / tau) (nats).
        validate: raise :class:`InvalidRowError` naming rows the op flagged. On CUDA this
            reads the tokens back (a host sync); with ``validate=False`` flagged rows keep
            token -1 and NaN statistics.

    The token drawn for a row depends only on its logits, tau, seed and offset: not on
    the batch, the row order, the thread count or the device (up to float near-ties).
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"ead.sample: logits must be a torch.Tensor, got {type(logits).__name__}")
    B = logits.shape[0] if logits.dim() >= 1 else 0
    dev = logits.device
    if (temperature is None) == (positions is None):
        raise ValueError("ead.sample: pass exactly one of temperature= or positions=")
    if positions is None and schedule is not None:
        raise ValueError("ead.sample: schedule= is used with positions=, not with temperature=")
    schedule = _DEFAULT_SCHEDULE if schedule is None else schedule
    if not isinstance(schedule, Schedule):
        raise TypeError(f"ead.sample: schedule must be an ead_ext.Schedule, got {type(schedule).__name__}")
    temp_t = None if temperature is None else _row_tensor(temperature, B, dev, "temperature", True)
    pos_t = None if positions is None else _row_tensor(positions, B, dev, "positions", False)
    if offsets is None:
        if pos_t is None:
            raise ValueError("ead.sample: offsets= is required with temperature= (use the token position)")
        offsets = pos_t
    seeds_t = _row_tensor(seeds, B, dev, "seeds", False)
    offsets_t = _row_tensor(offsets, B, dev, "offsets", False)
    if pos_t is not None and schedule.shape != "negexp":
        # The kernels compute the paper's shape only; the others arrive as per-row temperatures
        # (a negative position gets tau NaN, which the op flags like any bad row).
        tau = schedule.temperature(pos_t.clamp_min(0), step)
        temp_t, pos_t = torch.where(pos_t < 0, torch.full_like(tau, float("nan")), tau), None
    sched_args = (float(schedule.tau_max), float(schedule.tau_min), schedule.at_step(step), int(schedule.cutoff),
                  float(schedule.token_scale))

    tokens, logprobs, target, entropy = _run(logits, temp_t, pos_t, seeds_t, offsets_t, sched_args,
                                             return_target_logprobs, return_entropy)
    if validate and tokens.numel() and int(tokens.min()) < 0:
        tau = reference.op_temperatures(temp_t, pos_t, *sched_args)
        bad = (tokens < 0).nonzero()[:, 0].tolist()
        rows, reasons = _explain_rows(logits[bad], None if temp_t is None else temp_t[bad],
                                      None if pos_t is None else pos_t[bad], tau[bad])
        raise InvalidRowError([bad[r] for r in rows], reasons)
    return SampleOutput(tokens, logprobs, target if return_target_logprobs else None,
                        entropy if return_entropy else None)
