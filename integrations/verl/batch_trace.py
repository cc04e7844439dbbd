"""An opt-in record of the rollout log-probs verl's trainer corrects with, for checking a run from outside.

``EAD_VERL_BATCH_TRACE=<directory>``: each call of verl's
``rollout_corr_helper.compute_rollout_correction_and_add_to_batch`` (the trainer's TIS step, once
per training step, in the process that drives the rollouts: both trainers call it) appends one JSON
line to ``<directory>/batch-<pid>.jsonl``:
``{"call", "rollout_log_probs", "responses", "rollout_is_weights"}`` -- per response of the batch,
the values over its ``response_mask`` positions; ``responses`` (the token ids) where the batch has
them (the legacy trainer; the V1 trainer fetches only the fields the step needs). ``call`` counts
the calls of the process from 1, i.e. the training step. With ``EAD_VLLM_TRACE``
(:mod:`ead_ext.integrations.vllm.trace`) a test can then check that the log-probs verl used are
the ones the EAD sampler returned. Nothing is patched while the variable is unset.
"""
from __future__ import annotations

import functools
import json
import os
from typing import Any, List, Optional

from ..patching import Patch

__all__ = ["ENV", "PATCH", "wanted", "rows_of"]

ENV = "EAD_VERL_BATCH_TRACE"


def wanted() -> Optional[str]:
    return os.environ.get(ENV, "").strip() or None


def rows_of(values: Any, mask: Any) -> List[list]:
    """Per row, ``values`` at the positions where ``mask`` is set (a response's own positions)."""
    return [v[m.bool()].tolist() for v, m in zip(values, mask)]


def _traced(orig):
    calls = [0]

    @functools.wraps(orig)
    def compute_rollout_correction_and_add_to_batch(batch, rollout_corr_config, *args, **kwargs):
        mask = batch.batch["response_mask"]  # before rejection sampling replaces it: every sampled token
        out, metrics = orig(batch, rollout_corr_config, *args, **kwargs)
        directory = wanted()
        if directory:
            calls[0] += 1
            t = batch.batch
            rec = {"call": calls[0], "rollout_log_probs": rows_of(t["rollout_log_probs"], mask),
                   "responses": rows_of(t["responses"], mask) if "responses" in t.keys() else None,
                   "rollout_is_weights": (rows_of(out.batch["rollout_is_weights"], mask)
                                          if "rollout_is_weights" in out.batch.keys() else None)}
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, f"batch-{os.getpid()}.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
        return out, metrics

    return compute_rollout_correction_and_add_to_batch


PATCH = Patch("ead_batch_trace", "verl.trainer.ppo.rollout_corr_helper", "compute_rollout_correction_and_add_to_batch",
              _traced, why="verl writes no rollout log-probs out: record what its TIS step read, when asked")
