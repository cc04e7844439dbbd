"""EAD settings in a verl config, the request arguments sent to vLLM, and the misconfiguration checks.

Where things live in a verl (0.9.x) config
------------------------------------------
- the EAD schedule: ``actor_rollout_ref.rollout.custom.ead`` (``RolloutConfig.custom`` is verl's
  extension point for custom rollout settings), a mapping of :class:`ead_ext.Schedule` fields
  (``tau_max, tau_min, d0, growth, cap, cutoff, token_scale``) plus three switches:
  ``enable`` (default true), ``validate`` (default false: validation rollouts keep verl's
  ``val_kwargs`` sampling) and ``tis`` (default true; false: EAD rollouts trained without the
  importance correction, an ablation, which then requires ``rollout_correction.rollout_is: null``).
  One option: ``val_seed`` (an integer; default none): validation rollouts get vLLM per-request
  seeds derived from it, the prompt's index and the sample's repeat index (:mod:`.seeding`), so a
  run's held-out numbers are reproducible and runs with the same ``val_seed`` draw the same random
  numbers for the same prompt (paired comparisons). It applies with EAD on or off.
- the TIS cap C: verl's own ``algorithm.rollout_correction.rollout_is_threshold`` with
  ``rollout_is: token`` (decoupled mode). verl computes the weight
  ``min(exp(old_log_prob - rollout_log_probs), C)`` once per batch in the trainer and hands it to the
  policy loss as ``rollout_is_weights``; the EAD losses apply it exactly once.

What a rollout request carries
------------------------------
``SamplingParams(extra_args={"ead": {<all Schedule fields>, "step": s}})`` where ``s`` is verl's
global training step (``meta_info["global_steps"]``; verl counts training steps from 1). The vLLM
side builds ``Schedule`` from the schedule fields and takes the decay ``Schedule.at_step(s)`` =
``min(d0 + growth * s, cap)``. :func:`ead_request_args` builds that dict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

from ead_ext.schedule import Schedule, as_step

from ..loss_modes import LOSS_MODES
from ..vllm.params import EAD_KEY

__all__ = [
    "EADConfigError",
    "EADSettings",
    "EAD_EXTRA_ARGS_KEY",
    "EAD_STEP_KEY",
    "ead_request_args",
    "with_ead_sampling_params",
    "check_ead_config",
]

#: key of the EAD entry in ``SamplingParams.extra_args`` (the vLLM shim's interface).
EAD_EXTRA_ARGS_KEY = EAD_KEY
#: key of the global training step inside ``extra_args["ead"]``.
EAD_STEP_KEY = "step"

_SCHEDULE_FIELDS = tuple(f.name for f in fields(Schedule))
_SWITCHES = ("enable", "validate", "tis")
_OPTIONS = ("val_seed",)


class EADConfigError(ValueError):
    """A verl configuration that would make EAD's truncated importance sampling silently wrong."""


def _get(cfg: Any, dotted: str, default: Any = None) -> Any:
    """``cfg.a.b.c`` for DictConfig, dataclass configs and plain dicts; ``default`` when absent/None."""
    node = cfg
    for part in dotted.split("."):
        if node is None:
            return default
        if isinstance(node, Mapping) or hasattr(node, "get"):
            try:
                node = node.get(part, None)
            except Exception:  # pragma: no cover - exotic config objects
                node = getattr(node, part, None)
        else:
            node = getattr(node, part, None)
    return default if node is None else node


def _plain(value: Any) -> Any:
    """OmegaConf containers to plain Python (no-op for plain values)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return value


@dataclass(frozen=True)
class EADSettings:
    """The EAD section of a verl config: the schedule, three switches and the validation seed."""

    schedule: Schedule
    enable: bool = True
    validate: bool = False
    tis: bool = True
    val_seed: Optional[int] = None

    @classmethod
    def from_mapping(cls, section: Optional[Mapping[str, Any]]) -> Optional["EADSettings"]:
        """Parses ``actor_rollout_ref.rollout.custom.ead``; ``None`` when the section is absent."""
        if section is None:
            return None
        section = _plain(section)
        if not isinstance(section, Mapping):
            raise EADConfigError(
                f"actor_rollout_ref.rollout.custom.ead must be a mapping of schedule fields, got {type(section).__name__}"
            )
        unknown = sorted(set(section) - set(_SCHEDULE_FIELDS) - set(_SWITCHES) - set(_OPTIONS))
        if unknown:
            raise EADConfigError(
                f"unknown key(s) {unknown} in actor_rollout_ref.rollout.custom.ead; "
                f"known: {sorted(_SCHEDULE_FIELDS + _SWITCHES + _OPTIONS)}"
            )
        switches = {}
        for name in _SWITCHES:
            if name in section:
                if not isinstance(section[name], bool):
                    raise EADConfigError(f"actor_rollout_ref.rollout.custom.ead.{name} must be true/false")
                switches[name] = section[name]
        val_seed = section.get("val_seed")
        if val_seed is not None and (isinstance(val_seed, bool) or not isinstance(val_seed, int) or val_seed < 0):
            raise EADConfigError(
                f"actor_rollout_ref.rollout.custom.ead.val_seed must be a non-negative integer, got {val_seed!r}"
            )
        switches["val_seed"] = val_seed
        params = {k: v for k, v in section.items() if k in _SCHEDULE_FIELDS}
        try:
            schedule = Schedule.from_dict(params)
        except (TypeError, ValueError) as exc:
            raise EADConfigError(f"invalid EAD schedule in actor_rollout_ref.rollout.custom.ead: {exc}") from exc
        return cls(schedule=schedule, **switches)

    @classmethod
    def from_verl_config(cls, config: Any) -> Optional["EADSettings"]:
        """The settings of a full verl config (``None`` when it has no EAD section)."""
        custom = _get(config, "actor_rollout_ref.rollout.custom")
        section = _get(custom, "ead") if custom is not None else None
        return cls.from_mapping(section)


def ead_request_args(schedule: Schedule, step: int) -> dict:
    """``extra_args`` for one rollout request at global training step ``step``.

    ``{"ead": {tau_max, tau_min, d0, growth, cap, cutoff, token_scale, "step": step}}``: the full
    schedule plus the explicit step, so the vLLM side computes ``Schedule.at_step(step)`` itself.
    """
    try:
        step = as_step(step)  # the check the vLLM side applies to the same field
    except ValueError:
        raise EADConfigError(
            f"EAD needs the global training step to anneal the schedule, got {step!r}: verl passes it as "
            "meta_info['global_steps'] (a trainer that does not set it sends -1)"
        ) from None
    return {EAD_EXTRA_ARGS_KEY: {**schedule.to_dict(), EAD_STEP_KEY: step}}


def with_ead_sampling_params(
    sampling_params: Mapping[str, Any], settings: Optional[EADSettings], step: Any, validate: bool
) -> dict:
    """A copy of verl's per-request ``sampling_params`` with the EAD ``extra_args`` merged in.

    Left as is (a copy) when EAD is off, for validation rollouts unless ``validate`` is set, and for
    greedy requests (temperature 0: verl's REMAX baseline and greedy validation).
    """
    params = dict(sampling_params)
    if settings is None or not settings.enable:
        return params
    if validate and not settings.validate:
        return params
    temperature = params.get("temperature", 1.0)
    if temperature == 0:
        return params
    if temperature != 1.0:
        raise EADConfigError(
            f"rollout temperature is {temperature}; with EAD it must be 1.0 (the schedule sets the sampling "
            "temperature, and verl divides the logits by this value when it recomputes old_log_prob)"
            + (" — validation with EAD needs actor_rollout_ref.rollout.val_kwargs.temperature=1.0" if validate else "")
        )
    extra = dict(params.get("extra_args") or {})
    extra.update(ead_request_args(settings.schedule, step))
    params["extra_args"] = extra
    return params


# ----------------------------------------------------------------------------------------------
# Misconfiguration checks
# ----------------------------------------------------------------------------------------------
#: policy-loss modes that the EAD checks accept (the EAD losses, and verl's built-ins they wrap,
#: which also apply ``rollout_is_weights`` exactly once in decoupled mode).
_ACCEPTED_LOSS_MODES = tuple(m.mode for m in LOSS_MODES)  # the one table: integrations/loss_modes.py


@dataclass(frozen=True)
class _Checked:
    """What the rules read: the whole config, its rollout section, the parsed EAD settings."""

    config: Any
    rollout: Any
    settings: EADSettings

    @property
    def correction(self) -> Any:
        return _get(self.config, "algorithm.rollout_correction")


# Each rule returns why the config is refused (naming the key), or None when it passes. The tables at
# the end say which rules a config meets, in order; the first refusal is raised.

def _rollout_temperature(c: _Checked) -> Optional[str]:
    temperature = _get(c.rollout, "temperature", 1.0)
    if float(temperature) != 1.0:
        return (f"actor_rollout_ref.rollout.temperature={temperature}: with EAD it must be 1.0. verl divides the "
                "logits by this temperature when it recomputes old_log_prob, which is the target policy (tau = 1) "
                "of the TIS ratio; the annealed temperature goes to vLLM through the EAD schedule "
                "(actor_rollout_ref.rollout.custom.ead)")
    return None


def _validation_temperature(c: _Checked) -> Optional[str]:
    val_temperature = _get(c.rollout, "val_kwargs.temperature", 1.0)
    if c.settings.validate and float(val_temperature) != 1.0:
        return (f"actor_rollout_ref.rollout.val_kwargs.temperature={val_temperature} with "
                "custom.ead.validate=true: EAD validation rollouts need it at 1.0 (the schedule sets tau_t)")
    return None


def _rollout_log_probs_on(c: _Checked) -> Optional[str]:
    if not bool(_get(c.rollout, "calculate_log_probs", False)):
        return ("actor_rollout_ref.rollout.calculate_log_probs=false: EAD's TIS needs the rollout (behaviour) "
                "log-probs; set it to true")
    return None


def _processed_log_probs(c: _Checked) -> Optional[str]:
    mode = _get(c.rollout, "logprobs_mode", None)
    engine_mode = _get(c.rollout, "engine_kwargs.vllm.logprobs_mode", None)
    for where, value in (("actor_rollout_ref.rollout.logprobs_mode", mode),
                         ("actor_rollout_ref.rollout.engine_kwargs.vllm.logprobs_mode", engine_mode)):
        if value is not None and value != "processed_logprobs":
            return (f"{where}={value!r}: EAD's TIS needs the behaviour log-probs, i.e. log-probs after the EAD "
                    "temperature (vLLM's 'processed_logprobs'); with raw (tau = 1) log-probs the TIS ratio is "
                    "~1 and the correction silently does nothing")
    if mode is None and engine_mode is None:
        return ("actor_rollout_ref.rollout.logprobs_mode is unset (vLLM's default is 'raw_logprobs', taken at "
                "tau = 1): set it to 'processed_logprobs' so the rollout log-probs are the annealed ones")
    return None


def _vllm_engine(c: _Checked) -> Optional[str]:
    name = _get(c.rollout, "name", None)
    if name is not None and name != "vllm":
        return f"actor_rollout_ref.rollout.name={name!r}: EAD rollouts need the vLLM engine"
    return None


def _correction_present(c: _Checked) -> Optional[str]:
    if c.correction is None:
        return ("algorithm.rollout_correction is missing: EAD needs verl's rollout correction with per-token TIS "
                "(rollout_is: token, rollout_is_threshold: C, bypass_mode: false)")
    return None


def _decoupled_mode(c: _Checked) -> Optional[str]:
    if not bool(_get(c.correction, "bypass_mode", False)):
        return None
    if not c.settings.tis:
        return ("algorithm.rollout_correction.bypass_mode=true: bypass mode uses the annealed rollout log-probs as "
                "old_log_prob; EAD needs decoupled mode (bypass_mode: false), with or without TIS")
    return ("algorithm.rollout_correction.bypass_mode=true: bypass mode uses the rollout log-probs as "
            "old_log_prob, so the PPO ratio would compare the tau = 1 policy with the annealed behaviour "
            "policy and clip almost every token; EAD needs decoupled mode (bypass_mode: false)")


def _per_token_weights(c: _Checked) -> Optional[str]:
    rollout_is = _get(c.correction, "rollout_is", None)
    if rollout_is != "token":
        return (f"algorithm.rollout_correction.rollout_is={rollout_is!r}: EAD's TIS weight is per token "
                "(min(exp(old_log_prob - rollout_log_probs), C)); set rollout_is: token")
    return None


def _one_cap(c: _Checked) -> Optional[str]:
    threshold = _get(c.correction, "rollout_is_threshold", None)
    if tis_cap_from(threshold) is None:
        return (f"algorithm.rollout_correction.rollout_is_threshold={threshold!r}: EAD's TIS needs one number "
                "C > 0 (truncation), not an IcePop 'lower_upper' range")
    return None


def _weights_as_they_are(c: _Checked) -> Optional[str]:
    if bool(_get(c.correction, "rollout_is_batch_normalize", False)):
        return ("algorithm.rollout_correction.rollout_is_batch_normalize=true rescales the TIS weights to mean 1; "
                "EAD's TIS uses the truncated weights as they are: set it to false")
    return None


def _actor_cap_matches(c: _Checked) -> Optional[str]:
    cap = tis_cap_from(_get(c.correction, "rollout_is_threshold", None))
    actor_corr = _get(c.config, "actor_rollout_ref.actor.policy_loss.rollout_correction")
    if actor_corr is not None and _get(actor_corr, "rollout_is", None) == "token":
        actor_cap = tis_cap_from(_get(actor_corr, "rollout_is_threshold", None))
        if actor_cap != cap:
            return (f"actor_rollout_ref.actor.policy_loss.rollout_correction.rollout_is_threshold={actor_cap} "
                    f"differs from algorithm.rollout_correction.rollout_is_threshold={cap}: the EAD losses report "
                    "truncation against the actor's copy; interpolate it (${algorithm.rollout_correction})")
    return None


def _ead_loss(c: _Checked) -> Optional[str]:
    loss_mode = _get(c.config, "actor_rollout_ref.actor.policy_loss.loss_mode", "vanilla")
    if loss_mode not in _ACCEPTED_LOSS_MODES:
        return (f"actor_rollout_ref.actor.policy_loss.loss_mode={loss_mode!r}: with EAD use one of "
                f"{list(_ACCEPTED_LOSS_MODES)} (import ead_ext.integrations.verl in the workers, e.g. "
                "actor_rollout_ref.model.external_lib=ead_ext.integrations.verl)")
    return None


def _no_weights_without_tis(c: _Checked) -> Optional[str]:
    rollout_is = _get(c.correction, "rollout_is", None) if c.correction is not None else None
    if rollout_is is not None:
        return (f"actor_rollout_ref.rollout.custom.ead.tis=false but algorithm.rollout_correction.rollout_is="
                f"{rollout_is!r}: the no-TIS ablation trains on EAD rollouts without importance weights; set "
                "rollout_is: null (or tis: true)")
    return None


#: the rules every EAD config meets, then those of EAD with TIS (the default) or of the no-TIS ablation
#: (``custom.ead.tis: false``: no importance weight may reach the loss), in the order they are checked
RULES_ALWAYS = (_rollout_temperature, _validation_temperature)
RULES_WITH_TIS = (_rollout_log_probs_on, _processed_log_probs, _vllm_engine, _correction_present, _decoupled_mode,
                  _per_token_weights, _one_cap, _weights_as_they_are, _actor_cap_matches, _ead_loss)
RULES_WITHOUT_TIS = (_no_weights_without_tis, _decoupled_mode)


def check_ead_config(config: Any) -> Optional[EADSettings]:
    """Refuses the verl configurations that would silently break TIS with EAD rollouts.

    Returns the parsed :class:`EADSettings` (``None`` when the config has no EAD section, in which
    case nothing is checked). Raises :class:`EADConfigError` naming the offending key when:

    - ``actor_rollout_ref.rollout.temperature`` is not 1.0: verl recomputes ``old_log_prob`` (the
      target policy of the TIS ratio) at that temperature; EAD's temperature goes through the schedule;
    - rollout log-probs are missing: ``actor_rollout_ref.rollout.calculate_log_probs`` is false;
    - rollout log-probs would be taken raw (at tau = 1) instead of at tau_t: ``logprobs_mode`` (or an
      ``engine_kwargs.vllm.logprobs_mode`` override) is not ``processed_logprobs``;
    - the rollout engine is not vLLM (the EAD sampler is a vLLM shim);
    - verl's rollout correction is not per-token TIS in decoupled mode
      (``algorithm.rollout_correction``: ``rollout_is: token``, a single float
      ``rollout_is_threshold`` C > 0, ``bypass_mode: false``, ``rollout_is_batch_normalize: false``);
    - the actor's ``policy_loss.loss_mode`` is not one of the EAD losses (e.g. ``bypass_mode``).

    The rules are :data:`RULES_ALWAYS` then :data:`RULES_WITH_TIS` (or :data:`RULES_WITHOUT_TIS`).
    """
    settings = EADSettings.from_verl_config(config)
    if settings is None or not settings.enable:
        return settings
    rollout = _get(config, "actor_rollout_ref.rollout")
    if rollout is None:
        raise EADConfigError("EAD is on but the config has no actor_rollout_ref.rollout section")
    checked = _Checked(config, rollout, settings)
    for rule in RULES_ALWAYS + (RULES_WITH_TIS if settings.tis else RULES_WITHOUT_TIS):
        why = rule(checked)
        if why is not None:
            raise EADConfigError(why)
    return settings


def tis_cap_from(threshold: Any) -> Optional[float]:
    """C from verl's ``rollout_is_threshold`` (float or float-like string); ``None`` if not one number > 0."""
    if isinstance(threshold, bool) or threshold is None:
        return None
    try:
        cap = float(threshold)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(cap) or cap <= 0:
        return None
    return cap
