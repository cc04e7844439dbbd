"""A CPU platform for verl, registered through verl's own platform registry.

verl 0.9.1 registers only accelerator platforms (``nvidia``, ``huawei``, ``amd``)
and, on a machine without one, falls back to ``nvidia``: its training worker then
fails in ``initialize_global_process_group_ray`` with
``RuntimeError: Distributed package doesn't have NCCL built in``. This module adds
a ``cpu`` platform (device ``"cpu"``, collective backend ``gloo``) through
``verl.plugin.platform.PlatformRegistry`` — the extension point verl documents for
new hardware — so verl's real training worker and FSDP engine run on a GPU-less
machine (CI tests, smoke runs). ead-ext's verl CPU mode (:mod:`.cpu_mode`, loaded by
verl's ``verl.plugins`` entry point) registers and selects it where no accelerator is
present; by hand: ``VERL_PLATFORM=cpu`` after this module is imported, or
:func:`use_cpu_platform` before verl's first ``get_platform()``.
"""
from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType
from typing import Any, Optional

import torch
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry, set_platform

__all__ = ["PlatformCPU", "use_cpu_platform"]


class _CPUDeviceModule(ModuleType):
    """``torch.cpu`` plus the memory-statistics calls verl makes on its device module (all 0)."""

    def __init__(self) -> None:
        super().__init__("ead_verl_cpu_device")

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    @staticmethod
    def _zero(*args: Any, **kwargs: Any) -> int:
        return 0

    memory_allocated = max_memory_allocated = memory_reserved = max_memory_reserved = _zero

    @staticmethod
    def reset_peak_memory_stats(*args: Any, **kwargs: Any) -> None:
        return None

    empty_cache = reset_peak_memory_stats

    @staticmethod
    def mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
        return 0, 0

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def get_device_name(*args: Any, **kwargs: Any) -> str:
        return "CPU"

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed


_DEVICE_MODULE = _CPUDeviceModule()


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    """Host CPU as a verl platform: no device memory, gloo collectives, no profiler."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return _DEVICE_MODULE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check=False) -> bool:
        # Never auto-detected: a CPU is always "available", so it is chosen only on request.
        return False

    def current_device(self) -> str:
        # verl passes this straight to ``tensor.to(...)`` / ``torch.device(...)``; an index would
        # name an accelerator, so the CPU answers with its device string.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: Optional[int] = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[Optional[int], Optional[int]]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        # verl places one worker per accelerator slot: placement bundles {"CPU": n, <name>: 1}, the
        # resource check counts only "GPU"/"NPU", and the vLLM replica indexes
        # ray.get_runtime_context().get_accelerator_ids() by this name (which knows GPU, not CPU).
        # On the CPU platform the slots are *logical* Ray GPUs (ray.init(num_gpus=N), see
        # cpu_mode.config_overrides): Ray only books them and sets CUDA_VISIBLE_DEVICES, which
        # CPU-only torch and vLLM ignore.
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        return {"num_gpus": num_gpus}

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def use_cpu_platform() -> PlatformCPU:
    """Makes the CPU platform verl's current platform (call before building workers)."""
    platform = PlatformCPU()
    set_platform(platform)
    return platform
