"""One training run from its spec to its files: verl launched (:func:`.run.launch`), its logs merged,
the summary and the run record written, the progress and held-out lines printed. ``ead-ext train``
(:mod:`.cli`) calls it for one run, ``--compare`` (:mod:`.compare`) once per run.
"""
from __future__ import annotations

import json
import time
from typing import List

from ..provenance import provenance
from .record import make_record, write_record
from .run import RunSpec, collect, launch, prepare

__all__ = ["run_one", "KS", "MAJORITY"]

#: the Pass@k / Worst@k and Majority@N of the held-out evaluations
KS, MAJORITY = (1, 4, 16), (4, 16)

_PROGRESS_KEYS = (("reward", "critic/score/mean"), ("tis_w", "actor/ead/tis_weight_mean"),
                  ("tis_max", "actor/ead/tis_weight_max"), ("trunc", "actor/ead/tis_truncated_frac"),
                  ("entropy", "actor/entropy"), ("tau_mean", "ead/temperature/mean"))


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _progress(spec: RunSpec, t0: float):
    def show(steps: List[dict]) -> None:
        rec = steps[-1]
        s = rec["step"]
        done = max(0, min(s, spec.steps))
        bar = "#" * int(20 * done / max(1, spec.steps))
        parts = [f"{name} {_fmt(rec.get(key))}" for name, key in _PROGRESS_KEYS if key in rec]
        held = [k for k in rec if k.startswith("val-core/") and "/mean@" in k]
        if held:
            parts.append(f"held-out {held[0].split('/')[-2]}@{held[0].split('@')[-1]} {_fmt(rec[held[0]])}")
        print(f"  [{bar:<20s}] step {s}/{spec.steps} | " + " | ".join(parts)
              + f" | {time.monotonic() - t0:.0f} s", flush=True)

    return show


def run_one(spec: RunSpec, verbose: bool = False, plot: bool = True, cluster=None) -> dict:
    """Trains one run; returns its summary (also written as ``summary.json`` in its directory).
    ``cluster``: a started :class:`.ray_cluster.SharedRay` to run on (``--compare``), else its own."""
    from ead_ext.integrations.verl import cpu_mode

    cmd = prepare(spec, own_ray=cluster is None)
    where = "CPU mode (no accelerator)" if cpu_mode.wanted() else "accelerators"
    print(f"== {spec.out.name}: {spec.method.name}, task {spec.task}, loss {spec.loss}, verl {spec.trainer} trainer, {spec.steps} steps "
          f"x {spec.prompts_per_step} prompts x n = {spec.rollout_n}, {where}; log: {spec.out / 'verl.log'}",
          flush=True)
    t0 = time.monotonic()
    launch(spec, cmd, progress=_progress(spec, t0), verbose=verbose, cluster=cluster)
    seconds = time.monotonic() - t0
    result = collect(spec, seconds, ks=KS, majority=MAJORITY)
    timing = [r.get("timing_s/step") for r in result.steps if r.get("timing_s/step") is not None]
    summary = {"name": spec.out.name, "method": spec.method.name, "seconds": round(seconds, 1),
               "steps": spec.steps, "step_seconds_median": sorted(timing)[len(timing) // 2] if timing else None,
               "heldout": result.heldout, "spec": spec.to_json()}
    (spec.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_record(spec.out / "record.json", make_record(spec.out, summary, result.steps,
                                                        provenance(also=("verl",)), KS, MAJORITY))
    if result.heldout:
        last = result.heldout[-1]
        cells = ", ".join(f"{k} {v['mean']:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]" for k, v in last["summary"].items()
                          if k.startswith(("pass@", "worst@", "maj@")))
        print(f"   held-out at step {last['step']} ({last['prompts']} prompts x {last['n']}): {cells}", flush=True)
    if plot:
        from .curves import plot_run

        print(f"   wrote {spec.out / 'metrics.jsonl'}, {plot_run(result, spec.out / 'train.png')}", flush=True)
    print(f"   {seconds:.0f} s in all; median step {summary['step_seconds_median'] or float('nan'):.1f} s", flush=True)
    return summary
