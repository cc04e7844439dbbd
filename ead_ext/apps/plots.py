"""Plots of the EAD schedule and of a demo run (matplotlib, imported lazily)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch

from ead_ext.schedule import Schedule


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - exercised only without the [plot] extra
        raise RuntimeError("plotting needs matplotlib: pip install 'ead-ext[plot]'") from e
    return plt


def plot_schedule(path: str | Path, schedule: Optional[Schedule] = None, steps: Sequence[int] = (0, 20, 100, 400),
                  max_position: int = 1024, entropy: Optional[torch.Tensor] = None) -> Path:
    """Writes a PNG of tau_t against position t for several training steps.

    With ``entropy`` ([T] mean entropy per position from a run), a second panel shows it.
    """
    plt = _pyplot()
    schedule = schedule or Schedule()
    t = torch.arange(max_position)
    panels = 2 if entropy is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4), squeeze=False)
    ax = axes[0][0]
    for s in steps:
        ax.plot(t.numpy(), schedule.temperature(t, step=s).numpy(), label=f"step {s} (d = {schedule.at_step(s):g})")
    ax.axhline(1.0, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("t (tokens generated so far)")
    ax.set_ylabel("temperature")
    ax.set_title(f"EAD schedule: tau_max {schedule.tau_max}, tau_min {schedule.tau_min}, "
                 f"cutoff {schedule.cutoff}, k {schedule.token_scale:g}", fontsize=9)
    ax.legend(fontsize=8)
    if entropy is not None:
        ax2 = axes[0][1]
        ax2.plot(torch.arange(len(entropy)).numpy(), entropy.numpy(), color="C3")
        ax2.set_xlabel("t (tokens generated so far)")
        ax2.set_ylabel("entropy of the tempered distribution (nats)")
        ax2.set_title("demo run: mean entropy per position", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
