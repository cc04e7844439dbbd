"""Seeded validation rollouts: one vLLM per-request seed per (run seed, prompt, repeat).

verl draws its validation samples from the rollout engine's shared random state, in whatever order
the asynchronous agent loop submits them, so two validations of the same model differ (by up to
0.05 in a held-out Pass@1 here) and a run's held-out numbers cannot be reproduced. With
``custom.ead.val_seed`` set, each validation request carries ``seed`` = a hash of the seed, the
prompt's dataset index and the repeat index: vLLM then samples that request from its own generator,
independent of batching and order. The step is not in the hash: the same prompt and repeat get the
same random numbers at every evaluation and in every run with the same seed, so differences between
steps or methods are paired (common random numbers).
"""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

__all__ = ["repeat_index", "validation_seed", "with_validation_seed"]


def validation_seed(val_seed: int, sample_index: Any, repeat: int) -> int:
    """A 31-bit seed, stable across processes and Python versions (no ``hash()`` randomisation)."""
    digest = hashlib.blake2b(f"{val_seed}:{sample_index}:{repeat}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def repeat_index(trajectory: Mapping[str, Any], loop_kwargs: Mapping[str, Any]) -> int:
    """Which of a prompt's n samples a request is. verl's legacy worker repeats the prompt in the
    batch and numbers the copies (``trajectory["rollout_n"]``); its V1 (TransferQueue) worker runs
    one trajectory n times and numbers the runs (``session_id``), leaving ``rollout_n`` 0 for all."""
    if loop_kwargs.get("session_id") is not None:
        return int(loop_kwargs["session_id"])
    return int(trajectory["rollout_n"])


def with_validation_seed(sampling_params: Mapping[str, Any], val_seed: Any, trajectory: Mapping[str, Any],
                         repeat: int) -> dict:
    """A copy of ``sampling_params`` with the request's seed set for a validation trajectory
    (``val_seed`` not None); training rollouts and requests that already carry a seed are left as they are."""
    params = dict(sampling_params)
    if val_seed is None or not trajectory.get("validate") or params.get("seed") is not None:
        return params
    params["seed"] = validation_seed(val_seed, trajectory["sample_index"], repeat)
    return params
