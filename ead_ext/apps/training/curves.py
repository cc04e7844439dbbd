"""Training curves: one run (``train.png``) and a comparison (``compare.png``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

from ..plots import _pyplot

__all__ = ["plot_run", "plot_compare"]

_CURVES = (("critic/score/mean", "training reward (mean)"), ("actor/entropy", "policy entropy (actor)"),
           ("actor/ead/tis_weight_mean", "TIS weight mean"), ("actor/ead/tis_weight_max", "TIS weight max"),
           ("actor/ead/tis_truncated_frac", "TIS truncated fraction"))


def _series(steps: List[dict], key: str):
    pts = [(r["step"], r[key]) for r in steps if isinstance(r.get(key), (int, float))]
    return [p[0] for p in pts], [p[1] for p in pts]


def _heldout_series(heldout: List[dict], metric: str):
    pts = [(h["step"], h["summary"][metric]) for h in heldout if metric in h["summary"]]
    return [p[0] for p in pts], [p[1]["mean"] for p in pts], [p[1]["lo"] for p in pts], [p[1]["hi"] for p in pts]


def plot_run(result, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    ax = axes.ravel()
    for a, (key, title) in zip(ax[:5], _CURVES):
        x, y = _series(result.steps, key)
        a.plot(x, y, marker=".")
        a.set_title(title, fontsize=9)
    for metric in ("pass@1", "pass@4", "pass@16", "worst@16", "maj@16"):
        x, y, lo, hi = _heldout_series(result.heldout, metric)
        if x:
            ax[5].plot(x, y, marker="o", label=metric)
            ax[5].fill_between(x, lo, hi, alpha=0.15)
    ax[5].set_title("held-out (95 % CI)", fontsize=9)
    ax[5].set_ylim(-0.02, 1.02)
    ax[5].legend(fontsize=8)
    pos = sorted({k for r in result.steps for k in r if k.startswith("ead/temperature/pos_")},
                 key=lambda k: int(k.rsplit("_", 1)[1].split("-")[0]))
    for k in pos:
        x, y = _series(result.steps, k)
        ax[6].plot(x, y, label=k.rsplit("/", 1)[1].replace("pos_", "t "))
    ax[6].set_title("EAD temperature per position over steps", fontsize=9)
    if pos:
        ax[6].legend(fontsize=7, ncol=2)
    x, y = _series(result.steps, "timing_s/step")
    ax[7].plot(x, y, marker=".")
    ax[7].set_title("seconds per step", fontsize=9)
    for a in ax:
        a.set_xlabel("step")
        a.grid(alpha=0.3)
    s = result.spec
    fig.suptitle(f"{s.out.name}: {s.method.name}, loss {s.loss}, verl {s.trainer}, {s.steps} steps x "
                 f"{s.prompts_per_step} x n={s.rollout_n}, seed {s.seed}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_compare(summaries: List[dict], out: Path, path: Path, run_dirs: Optional[Dict[str, Path]] = None) -> Path:
    """Held-out metrics, training reward and entropy over steps, one line per run; each run's files are
    in ``out / <run name>``, or in ``run_dirs[<method>]`` where given."""
    plt = _pyplot()
    run_dirs = run_dirs or {}
    fig, axes = plt.subplots(2, 3, figsize=(16, 8))
    ax = axes.ravel()
    for i, metric in enumerate(("pass@1", "pass@16", "worst@16", "maj@16")):
        for s in summaries:
            x, y, lo, hi = _heldout_series(s["heldout"], metric)
            if x:
                ax[i].plot(x, y, marker="o", label=s["method"], lw=2.2 if s["method"].startswith("ead") else 1.2)
                ax[i].fill_between(x, lo, hi, alpha=0.1)
        ax[i].set_title(f"held-out {metric} (95 % CI)", fontsize=9)
    for j, key in ((4, "critic/score/mean"), (5, "actor/entropy")):
        for s in summaries:
            run_dir = run_dirs[s["method"]] if s["method"] in run_dirs else out / s["name"]
            steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
            x, y = _series(steps, key)
            ax[j].plot(x, y, label=s["method"])
        ax[j].set_title({4: "training reward", 5: "policy entropy"}[j], fontsize=9)
    ax[0].legend(fontsize=8)
    for a in ax:
        a.set_xlabel("step")
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
