"""EAD-TIS policy losses, registered in verl's policy-loss registry.

How the TIS correction reaches the loss (verl 0.9.x, decoupled rollout correction)
----------------------------------------------------------------------------------
verl already has rollout importance-sampling correction (``verl.trainer.ppo.rollout_corr_helper``).
With ``algorithm.rollout_correction.rollout_is=token`` and ``rollout_is_threshold=C`` (and
``bypass_mode=false``) the trainer computes, once per batch,

    rollout_is_weights = min(exp(clamp(old_log_prob - rollout_log_probs, -20, 20)), C) * response_mask

detached, which is exactly EAD's TIS weight (the +-20 clamp only matters below e^-20 ~ 2e-9), and the
actor passes it to the registered policy loss as its ``rollout_is_weights`` argument. verl's built-in
losses multiply the per-token policy-gradient term by it once. The EAD losses build on that: they
delegate to verl's own ``vanilla`` / ``clip_cov`` / ``kl_cov`` losses with the weights verl computed,
and never compute or multiply a weight themselves, so the correction is applied exactly once.
What they add: they refuse to run without the weights (rollout log-probs missing or rollout
correction off, which would silently drop TIS), check GRPO's / DAPO's aggregation, and report TIS
metrics (``ead/tis_weight_mean``, ``ead/tis_weight_max``, ``ead/tis_truncated_frac``) next to
verl's clip fractions.

Registered modes (``actor_rollout_ref.actor.policy_loss.loss_mode``):

- ``ead_vanilla``: verl's clipped PPO objective (clip_ratio_low / clip_ratio_high, so DAPO's
  clip-higher), any aggregation, TIS-weighted;
- ``ead_dapo``: the same, and it requires DAPO's ``loss_agg_mode=token-mean``;
- ``ead_grpo``: the same clipped objective with GRPO's aggregation, ``seq-mean-token-mean`` (required);
- ``ead_clip_cov`` / ``ead_kl_cov``: EntropyMech's Clip-Cov and KL-Cov (verl's ``clip_cov`` /
  ``kl_cov``), TIS-weighted.

The signatures are verl's ``PolicyLossFn``:
``(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode="token-mean", config=None,
rollout_is_weights=None) -> (loss, metrics)``.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn, register_policy_loss

from ..loss_modes import LOSS_MODES
from .settings import EADConfigError, tis_cap_from

__all__ = [
    "EAD_LOSS_MODES",
    "REGISTERED",
    "ead_tis_weights",
    "tis_metrics",
    "compute_policy_loss_ead_vanilla",
    "compute_policy_loss_ead_dapo",
    "compute_policy_loss_ead_grpo",
    "compute_policy_loss_ead_clip_cov",
    "compute_policy_loss_ead_kl_cov",
]

#: EAD loss mode -> (verl's built-in loss it wraps, required loss_agg_mode or None), from the one table
EAD_LOSS_MODES: dict[str, tuple[str, Optional[str]]] = {m.mode: (m.wraps, m.required_agg) for m in LOSS_MODES}

_MISSING_WEIGHTS = (
    "EAD loss '{mode}' got no rollout_is_weights: the TIS correction would silently be skipped. verl "
    "computes them only when the batch has rollout log-probs (actor_rollout_ref.rollout.calculate_log_probs"
    "=true, logprobs_mode=processed_logprobs) and rollout correction is on in decoupled mode "
    "(algorithm.rollout_correction.rollout_is=token, rollout_is_threshold=C, bypass_mode=false)"
)


def ead_tis_weights(
    old_log_prob: torch.Tensor, rollout_log_probs: torch.Tensor, response_mask: torch.Tensor, cap: float = 2.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """EAD's TIS weights ``min(exp(old_log_prob - rollout_log_probs), C)`` through verl's own code.

    Calls ``verl.trainer.ppo.rollout_corr_helper.compute_rollout_correction_weights`` with
    ``rollout_is="token"`` and ``rollout_is_threshold=cap`` — the function verl's trainer runs for
    ``algorithm.rollout_correction`` — so offline users and tests get the very weights verl would feed
    the loss. Returns (weights, verl's ``rollout_is_*`` metrics).
    """
    from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_weights

    if tis_cap_from(cap) is None:
        raise ValueError(f"the TIS cap C must be a number > 0, got {cap!r}")
    with torch.no_grad():
        return compute_rollout_correction_weights(
            log_ratio=old_log_prob - rollout_log_probs,
            response_mask=response_mask,
            rollout_is="token",
            rollout_is_threshold=float(cap),
        )


def _cap_from_actor_config(config: Any) -> Optional[float]:
    """C as the actor sees it: ``policy_loss.rollout_correction`` when it is token-level TIS."""
    policy_loss = getattr(config, "policy_loss", None)
    if policy_loss is None:
        return None
    corr = policy_loss.get("rollout_correction", None) if hasattr(policy_loss, "get") else None
    if corr is None or corr.get("rollout_is", None) != "token":
        return None
    return tis_cap_from(corr.get("rollout_is_threshold", None))


def tis_metrics(
    rollout_is_weights: torch.Tensor, response_mask: torch.Tensor, cap: Optional[float] = None
) -> dict[str, float]:
    """Mean/max TIS weight over valid tokens and, when C is known, the fraction truncated at C."""
    mask = response_mask.bool()
    n = int(mask.sum())
    if n == 0:
        out = {"ead/tis_weight_mean": 0.0, "ead/tis_weight_max": 0.0}
        if cap is not None:
            out["ead/tis_truncated_frac"] = 0.0
        return out
    w = rollout_is_weights.detach().float()[mask]
    out = {"ead/tis_weight_mean": w.mean().item(), "ead/tis_weight_max": w.max().item()}
    if cap is not None:
        # verl truncates with clamp(max=C): a truncated weight is exactly C (float32(C)).
        c = torch.tensor(cap, dtype=rollout_is_weights.dtype).float().item()
        out["ead/tis_truncated_frac"] = (w >= c).float().mean().item()
    return out


def _make_ead_loss(mode: str):
    base_name, required_agg = EAD_LOSS_MODES[mode]

    def loss_fn(
        old_log_prob: torch.Tensor,
        log_prob: torch.Tensor,
        advantages: torch.Tensor,
        response_mask: torch.Tensor,
        loss_agg_mode: str = "token-mean",
        config: Optional[Any] = None,
        rollout_is_weights: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        if config is None:
            raise ValueError(f"EAD loss '{mode}' needs the actor config (verl's ActorConfig), got None")
        if rollout_is_weights is None:
            raise EADConfigError(_MISSING_WEIGHTS.format(mode=mode))
        if rollout_is_weights.shape != log_prob.shape:
            raise ValueError(
                f"rollout_is_weights shape {tuple(rollout_is_weights.shape)} != log_prob shape {tuple(log_prob.shape)}"
            )
        if rollout_is_weights.requires_grad:
            raise ValueError("rollout_is_weights must be detached (TIS weights change the measure, not the objective)")
        if required_agg is not None and loss_agg_mode != required_agg:
            raise EADConfigError(
                f"EAD loss '{mode}' uses {required_agg!r} aggregation, got loss_agg_mode={loss_agg_mode!r} "
                f"(set actor_rollout_ref.actor.loss_agg_mode={required_agg}, or use loss_mode=ead_vanilla)"
            )
        # verl's built-in loss applies the weights once (pg_losses * rollout_is_weights).
        base = get_policy_loss_fn(base_name)
        pg_loss, metrics = base(
            old_log_prob=old_log_prob,
            log_prob=log_prob,
            advantages=advantages,
            response_mask=response_mask,
            loss_agg_mode=loss_agg_mode,
            config=config,
            rollout_is_weights=rollout_is_weights,
        )
        metrics = dict(metrics)
        metrics.update(tis_metrics(rollout_is_weights, response_mask, _cap_from_actor_config(config)))
        return pg_loss, metrics

    loss_fn.__name__ = f"compute_policy_loss_{mode}"
    loss_fn.__qualname__ = loss_fn.__name__
    loss_fn.__doc__ = (
        f"EAD-TIS policy loss '{mode}': verl's '{base_name}' loss with verl's token-level TIS weights "
        f"(rollout_is_weights) applied once" + (f"; requires loss_agg_mode={required_agg!r}." if required_agg else ".")
    )
    return register_policy_loss(mode)(loss_fn)


#: every row of the table, registered in verl's registry under its mode
REGISTERED = {mode: _make_ead_loss(mode) for mode in EAD_LOSS_MODES}
compute_policy_loss_ead_vanilla = REGISTERED["ead_vanilla"]
compute_policy_loss_ead_dapo = REGISTERED["ead_dapo"]
compute_policy_loss_ead_grpo = REGISTERED["ead_grpo"]
compute_policy_loss_ead_clip_cov = REGISTERED["ead_clip_cov"]
compute_policy_loss_ead_kl_cov = REGISTERED["ead_kl_cov"]
