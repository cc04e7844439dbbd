"""The step-aware EAD schedule in verl's rollouts: agent-loop worker and manager subclasses.

Hook: ``actor_rollout_ref.rollout.agent.agent_loop_manager_class`` — the fully qualified class name
verl 0.9.x loads for its ``AgentLoopManager`` (``ray_trainer.py`` / ``main_ppo.py``). Every rollout
request of every agent loop (single-turn, tool, custom) goes through
``AgentLoopWorker._run_agent_loop(sampling_params, trajectory, ...)``, where ``trajectory["step"]``
is the trainer's global step (``meta_info["global_steps"]``) and ``trajectory["validate"]`` marks
validation. The EAD worker overrides that one method to add
``extra_args={"ead": {<schedule>, "step": s}}`` to the request's sampling parameters (and, with
``custom.ead.val_seed``, a per-request ``seed`` to validation requests: :mod:`.seeding`), which verl's
vLLM server passes to ``vllm.SamplingParams(**sampling_params)`` unchanged. The EAD manager runs
:func:`check_ead_config` on the driver before any rollout and swaps in the EAD worker.

- ``EADAgentLoopManager`` (this module): verl's legacy trainer (``trainer.use_v1=false``).
- ``EADAgentLoopManagerTQ`` (``agent_loop_tq.py``): verl's default V1 trainer (TransferQueue).
"""
from __future__ import annotations

from typing import Any, Optional

import ray
from verl.experimental.agent_loop.agent_loop import AgentLoopManager, AgentLoopWorker

from .seeding import repeat_index, with_validation_seed
from .settings import EADSettings, check_ead_config, with_ead_sampling_params

__all__ = ["EADAgentLoopWorkerMixin", "EADAgentLoopWorker", "EADAgentLoopManager"]


class EADAgentLoopWorkerMixin:
    """Adds the EAD schedule at the global step to every rollout request of an agent-loop worker."""

    _ead_settings_cache: Optional[EADSettings] = None
    _ead_settings_parsed: bool = False

    @property
    def ead_settings(self) -> Optional[EADSettings]:
        if not self._ead_settings_parsed:
            self._ead_settings_cache = EADSettings.from_verl_config(self.config)
            self._ead_settings_parsed = True
        return self._ead_settings_cache

    def ead_sampling_params(self, sampling_params: dict[str, Any], trajectory: dict[str, Any],
                            repeat: int = 0) -> dict[str, Any]:
        settings = self.ead_settings
        params = with_ead_sampling_params(
            sampling_params, settings, step=trajectory["step"], validate=bool(trajectory["validate"])
        )
        return with_validation_seed(params, settings.val_seed if settings else None, trajectory, repeat)

    async def _run_agent_loop(self, sampling_params: dict[str, Any], trajectory: dict[str, Any], **kwargs):
        params = self.ead_sampling_params(sampling_params, trajectory, repeat_index(trajectory, kwargs))
        return await super()._run_agent_loop(params, trajectory, **kwargs)


class EADAgentLoopWorker(EADAgentLoopWorkerMixin, AgentLoopWorker):
    """verl's ``AgentLoopWorker`` with EAD rollout requests."""


def _config_of(args: tuple, kwargs: dict) -> Any:
    return kwargs["config"] if "config" in kwargs else args[0]


class EADAgentLoopManager(AgentLoopManager):
    """verl's ``AgentLoopManager`` (legacy trainer) that checks the EAD config and runs EAD workers."""

    def __init__(self, *args, **kwargs):
        check_ead_config(_config_of(args, kwargs))
        self.agent_loop_workers_class = ray.remote(EADAgentLoopWorker)
        super().__init__(*args, **kwargs)
