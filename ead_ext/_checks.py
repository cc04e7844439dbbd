"""Argument checks of ``ead::sample`` for the Python side (fake implementation and
reference). They mirror ``csrc/op_checks.h`` message for message, so an error is
the same whether the compiled op, the fake op under torch.compile or the
reference fallback runs. Metadata only: no data-dependent check, no device sync.
"""
from __future__ import annotations

from typing import Optional

import torch

_LOGITS_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_INT32_MAX = 2**31 - 1


def _fail(msg: str) -> None:
    raise RuntimeError(f"ead::sample: {msg}")


def _check_row_tensor(t: torch.Tensor, name: str, dtype: torch.dtype, logits: torch.Tensor) -> None:
    if t.device != logits.device:
        _fail(f"{name} is on {t.device} but logits are on {logits.device}")
    if t.dim() != 1 or t.shape[0] != logits.shape[0]:
        _fail(f"{name} must have shape [{logits.shape[0]}] (one entry per row of logits), got {list(t.shape)}")
    if t.dtype != dtype:
        _fail(f"{name} must be {dtype}, got {t.dtype}")
    if not t.is_contiguous():
        _fail(f"{name} must be contiguous")


def check_schedule_args(tau_max: float, tau_min: float, decay: float, cutoff: int, token_scale: float) -> None:
    if not tau_min > 0:
        _fail(f"schedule tau_min must be > 0, got {tau_min}")
    if not tau_max >= tau_min:
        _fail(f"schedule tau_max ({tau_max}) must be >= tau_min ({tau_min})")
    if not decay > 0:
        _fail(f"schedule decay must be > 0, got {decay}")
    if not token_scale > 0:
        _fail(f"schedule token_scale must be > 0, got {token_scale}")
    if cutoff < 0:
        _fail(f"schedule cutoff must be >= 0, got {cutoff}")


def check_sample_inputs(logits: torch.Tensor, temperature: Optional[torch.Tensor], positions: Optional[torch.Tensor],
                        seeds: torch.Tensor, offsets: torch.Tensor, tau_max: float, tau_min: float, decay: float,
                        cutoff: int, token_scale: float) -> None:
    if logits.dim() != 2:
        _fail(f"logits must be 2-D [batch, vocab], got {logits.dim()}-D")
    if logits.dtype not in _LOGITS_DTYPES:
        _fail(f"logits must be float32, bfloat16 or float16, got {logits.dtype}")
    B, V = logits.shape
    if V < 1:
        _fail("logits have an empty vocabulary (V = 0)")
    if V > _INT32_MAX:
        _fail(f"vocabularies above 2^31 - 1 entries are not supported, got {V}")
    if B != 0 and V != 1 and logits.stride(1) != 1:
        _fail(f"logits rows must be contiguous (stride(1) == 1), got strides {list(logits.stride())}")
    if (temperature is None) == (positions is None):
        _fail("pass exactly one of temperature or positions")
    if temperature is not None:
        _check_row_tensor(temperature, "temperature", torch.float32, logits)
    if positions is not None:
        _check_row_tensor(positions, "positions", torch.int64, logits)
        check_schedule_args(tau_max, tau_min, decay, cutoff, token_scale)
    _check_row_tensor(seeds, "seeds", torch.int64, logits)
    _check_row_tensor(offsets, "offsets", torch.int64, logits)
