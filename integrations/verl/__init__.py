"""EAD for verl (0.9.x): TIS-corrected policy losses and the step-aware EAD schedule in rollouts.

``import ead_ext.integrations.verl`` registers the EAD losses in verl's policy-loss registry
(``ead_vanilla``, ``ead_dapo``, ``ead_grpo``, ``ead_clip_cov``, ``ead_kl_cov``). The workers that
compute the loss must import it too: set ``actor_rollout_ref.model.external_lib=ead_ext.integrations.verl``
(verl imports it in every process that builds the model config), or ``VERL_USE_EXTERNAL_MODULES``.

The rollout side is an agent-loop manager class (``agent_loop.EADAgentLoopManager`` for the legacy
trainer, ``agent_loop_tq.EADAgentLoopManagerTQ`` for the default V1 trainer), imported by verl from
``actor_rollout_ref.rollout.agent.agent_loop_manager_class``; they are not imported here, so this
module does not need Ray's agent-loop stack or TransferQueue. See README.md next to this file.
"""
from __future__ import annotations

import os as _os
import warnings as _warnings

import verl as _verl
from packaging.version import Version as _Version

SUPPORTED_VERL_VERSIONS = (">=0.9.0", "<0.10")

_VERL_VERSION = _Version(_verl.__version__)
if _VERL_VERSION < _Version("0.9.0") and _os.environ.get("EAD_VERL_SKIP_VERSION_CHECK", "0") != "1":
    raise ImportError(
        f"ead_ext.integrations.verl supports verl 0.9.x, found verl {_verl.__version__}: older verl passes "
        "rollout log-probs to policy losses differently and has no agent_loop_manager_class hook "
        "(set EAD_VERL_SKIP_VERSION_CHECK=1 to import anyway)"
    )
if _VERL_VERSION >= _Version("0.10.0"):
    _warnings.warn(f"ead_ext.integrations.verl is tested with verl 0.9.x, found {_verl.__version__}", stacklevel=2)

from .losses import (  # noqa: E402
    EAD_LOSS_MODES,
    compute_policy_loss_ead_clip_cov,
    compute_policy_loss_ead_dapo,
    compute_policy_loss_ead_grpo,
    compute_policy_loss_ead_kl_cov,
    compute_policy_loss_ead_vanilla,
    ead_tis_weights,
    tis_metrics,
)
from .temperature_metrics import temperature_bucket_metrics  # noqa: E402
from .settings import (  # noqa: E402
    EAD_EXTRA_ARGS_KEY,
    EAD_STEP_KEY,
    EADConfigError,
    EADSettings,
    check_ead_config,
    ead_request_args,
    with_ead_sampling_params,
)

__all__ = [
    "EAD_LOSS_MODES",
    "EAD_EXTRA_ARGS_KEY",
    "EAD_STEP_KEY",
    "EADConfigError",
    "EADSettings",
    "SUPPORTED_VERL_VERSIONS",
    "check_ead_config",
    "compute_policy_loss_ead_clip_cov",
    "compute_policy_loss_ead_dapo",
    "compute_policy_loss_ead_grpo",
    "compute_policy_loss_ead_kl_cov",
    "compute_policy_loss_ead_vanilla",
    "ead_request_args",
    "ead_tis_weights",
    "temperature_bucket_metrics",
    "tis_metrics",
    "with_ead_sampling_params",
]
