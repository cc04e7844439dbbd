"""The sampling methods a training run can use, as the verl settings that make each one.

- ``ead``: EAD rollouts (``rollout.custom.ead``, step-aware decay) with TIS through verl's rollout
  correction (``rollout_is: token``, cap C) and an EAD loss (``ead_grpo`` etc.);
- ``ead-notis``: the same rollouts trained without the importance weight (``custom.ead.tis: false``,
  ``rollout_is: null``, verl's own loss of the same family): the ablation;
- ``tau=<x>``: verl's ordinary fixed-temperature rollouts (``rollout.temperature = x``, no EAD, no
  correction; verl recomputes ``old_log_prob`` at that temperature, as it always does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

from ead_ext.integrations.loss_modes import cli_losses

__all__ = ["Method", "parse_method", "LOSSES", "VERL_LOSS_OF"]

#: ``--loss`` choices -> (EAD loss mode, loss aggregation), from the one table (integrations/loss_modes.py)
LOSSES = {name: (m.mode, m.cli_agg) for name, m in cli_losses().items()}
#: verl's built-in loss each EAD loss wraps (used where no TIS weight is applied)
VERL_LOSS_OF = {m.mode: m.wraps for m in cli_losses().values()}


@dataclass(frozen=True)
class Method:
    name: str
    ead: bool
    tis: bool = False
    temperature: float = 1.0

    def overrides(self, loss: str, tis_cap: float) -> List[str]:
        """Hydra overrides that select this method on top of an EAD recipe (``ead_grpo.yaml`` etc.)."""
        ead_mode, agg = LOSSES[loss]
        ro = "actor_rollout_ref.rollout"
        out = [f"actor_rollout_ref.actor.loss_agg_mode={agg}"]
        if self.ead and self.tis:
            out += [f"{ro}.custom.ead.enable=true", f"{ro}.custom.ead.tis=true", f"{ro}.temperature=1.0",
                    f"actor_rollout_ref.actor.policy_loss.loss_mode={ead_mode}",
                    "algorithm.rollout_correction.rollout_is=token",
                    f"algorithm.rollout_correction.rollout_is_threshold={tis_cap}"]
        elif self.ead:
            out += [f"{ro}.custom.ead.enable=true", f"{ro}.custom.ead.tis=false", f"{ro}.temperature=1.0",
                    f"actor_rollout_ref.actor.policy_loss.loss_mode={VERL_LOSS_OF[ead_mode]}",
                    "algorithm.rollout_correction.rollout_is=null"]
        else:
            out += [f"{ro}.custom.ead.enable=false", f"{ro}.temperature={self.temperature}",
                    f"actor_rollout_ref.actor.policy_loss.loss_mode={VERL_LOSS_OF[ead_mode]}",
                    "algorithm.rollout_correction.rollout_is=null"]
        return out


def parse_method(text: str) -> Method:
    """``ead``, ``ead-notis`` or ``tau=<x>`` (x > 0)."""
    t = text.strip().lower()
    if t == "ead":
        return Method("ead", ead=True, tis=True)
    if t in ("ead-notis", "ead_notis"):
        return Method("ead-notis", ead=True, tis=False)
    if t.startswith("tau="):
        try:
            tau = float(t[4:])
        except ValueError:
            tau = -1.0
        if tau > 0:
            return Method(f"tau={tau:g}", ead=False, temperature=tau)
    raise ValueError(f"unknown method {text!r}: use ead, ead-notis or tau=<x> with x > 0")


def default_compare_methods() -> List[Method]:
    return [parse_method(m) for m in ("ead", "ead-notis", "tau=0.6", "tau=1.0", "tau=1.2")]
