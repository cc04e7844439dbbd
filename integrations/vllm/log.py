"""The EAD sampler's logger and its start-up line (no vLLM import until a line is made)."""
from __future__ import annotations

import logging

__all__ = ["LOGGER_NAME", "logger", "vllm_version_text", "startup_line", "announce"]

# A child of vLLM's "vllm" logger, the one logger vLLM configures in each of its processes (its
# handler, format and VLLM_LOGGING_LEVEL): our lines appear in the server and engine logs, among
# vLLM's own. Under another name INFO lines would be dropped (no handler above them).
LOGGER_NAME = "vllm.ead_ext"
logger = logging.getLogger(LOGGER_NAME)


def vllm_version_text() -> str:
    import vllm

    return str(getattr(vllm, "__version__", "0"))


def startup_line(runner: str, device_type: str) -> str:
    """The line a sampler logs when vLLM builds it: which vLLM, which model runner, where the op runs."""
    import ead_ext

    op = ("fused op on " + device_type if ead_ext.has_compiled_op(device_type)
          else f"no compiled op for {device_type}: the PyTorch reference samples (slow)")
    return f"ead_ext: EAD sampler active: vLLM {vllm_version_text()}, model runner {runner}, {op}"


def announce(runner: str) -> None:
    """Logs :func:`startup_line` for the platform's device; called by each EAD sampler vLLM builds
    (once per engine: the line says which runner actually serves, not which were patched)."""
    from vllm.platforms import current_platform

    logger.info("%s", startup_line(runner, current_platform.device_type))
