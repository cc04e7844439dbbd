"""The EAD policy losses, one row each: the one table the losses' registration in verl
(``verl/losses.py``), the EAD config checks (``verl/settings.py``), ``ead-ext train --loss`` and the
recipes (``verl/config/ead_<name>.yaml``) are made from or checked against (``test_verl_losses.py``).

Adding a loss is a row here and, for a ``--loss`` choice, its recipe yaml. The module needs
neither verl nor vLLM (the train CLI and the result readers read it without them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = ["LossMode", "LOSS_MODES", "by_mode", "cli_losses"]


@dataclass(frozen=True)
class LossMode:
    mode: str  # verl's actor_rollout_ref.actor.policy_loss.loss_mode
    wraps: str  # verl's built-in loss it delegates to (and that a run without TIS uses)
    required_agg: Optional[str] = None  # the loss_agg_mode it insists on (None: any)
    cli: Optional[str] = None  # its `ead-ext train --loss` name and recipe ead_<cli>.yaml (None: neither)
    cli_agg: Optional[str] = None  # the loss_agg_mode of that recipe and of the train CLI


LOSS_MODES: Tuple[LossMode, ...] = (
    LossMode("ead_vanilla", "vanilla"),  # verl's clipped PPO objective, any aggregation
    LossMode("ead_dapo", "vanilla", "token-mean", cli="dapo", cli_agg="token-mean"),
    LossMode("ead_grpo", "vanilla", "seq-mean-token-mean", cli="grpo", cli_agg="seq-mean-token-mean"),
    LossMode("ead_clip_cov", "clip_cov", cli="clip_cov", cli_agg="token-mean"),  # EntropyMech's Clip-Cov
    LossMode("ead_kl_cov", "kl_cov", cli="kl_cov", cli_agg="token-mean"),  # EntropyMech's KL-Cov
)


def by_mode() -> Dict[str, LossMode]:
    return {m.mode: m for m in LOSS_MODES}


def cli_losses() -> Dict[str, LossMode]:
    """``--loss`` name -> row, for the rows that have a recipe."""
    return {m.cli: m for m in LOSS_MODES if m.cli}
