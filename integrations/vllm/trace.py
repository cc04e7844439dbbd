"""An opt-in record of what the EAD sampler did, for checking a whole pipeline from outside.

``EAD_VLLM_TRACE=<directory>``: every vLLM process that samples EAD rows appends, for each of its
first :data:`MAX_ROWS` EAD rows of each training step (each resolved ``(step, decay)``: a quota per
step, so that every step of a run is seen, not only the first), one JSON line to ``<directory>/ead-trace-<pid>.jsonl``:
``{"step", "decay", "schedule", "seed", "position", "tau", "prompt_ids", "output_ids", "token",
"logprob"}`` -- the request's global training step and resolved decay d_s as the shim read them, the
sampled token, its behaviour log-prob (the one returned to the caller) and the token ids that came
before it, so a test can recompute ``log softmax(logits / tau)[token]`` with the same weights.
Off (no cost beyond one check per sampling step) when the variable is unset.
"""
from __future__ import annotations

import json
import os
from typing import Optional

__all__ = ["ENV", "MAX_ROWS", "Tracer", "tracer"]

ENV = "EAD_VLLM_TRACE"
MAX_ROWS = 512  # per (step, decay)

_tracer: list = []


class Tracer:
    def __init__(self, directory: str):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"ead-trace-{os.getpid()}.jsonl")
        self.left: dict = {}  # (step, decay) -> rows still to record

    def record(self, rows, positions, tau, tokens, logprobs) -> None:
        """``rows``: the EAD rows' state objects (``ead``, ``seed``, ``prompt_ids``, ``out_ids``) in batch order."""
        keys = [(r.ead.step, r.ead.decay) for r in rows]
        if all(self.left.get(k, MAX_ROWS) <= 0 for k in keys):
            return
        pos, ta, tok = positions.tolist(), tau.tolist(), tokens.tolist()
        lps = logprobs.tolist() if logprobs is not None else [None] * len(rows)
        with open(self.path, "a") as f:
            for key, r, p, t, k, lp in zip(keys, rows, pos, ta, tok, lps):
                if self.left.setdefault(key, MAX_ROWS) <= 0:
                    continue
                self.left[key] -= 1
                f.write(json.dumps({"step": r.ead.step, "decay": r.ead.decay, "schedule": r.ead.schedule.to_dict(),
                                    "seed": r.seed, "position": p, "tau": t,
                                    "prompt_ids": list(r.prompt_ids or []), "output_ids": list(r.out_ids[:p]),
                                    "token": k, "logprob": lp}) + "\n")


def tracer() -> Optional[Tracer]:
    """This process's tracer, or None when ``EAD_VLLM_TRACE`` is unset."""
    if not _tracer:
        directory = os.environ.get(ENV, "").strip()
        _tracer.append(Tracer(directory) if directory else None)
    return _tracer[0]
