"""The per-position EAD temperature in every logged verl step, automatically.

verl 0.9 offers no route from the rollout side into a step's metrics dict (the agent-loop
worker's outputs reach only timing metrics in the legacy trainer and nothing in the V1 trainer).
Both trainers log each step through ``verl.utils.tracking.Tracking(..., config=<the full config>)``
and ``Tracking.log(data, step)``, in the process that drives the rollouts, with ``step`` = the
global step the step's rollouts carried. :data:`PATCH` swaps in a ``Tracking`` that reads the EAD
schedule from that config and adds what the schedule sampled each response position at that step:
``ead/temperature/pos_{a}-{b}`` (mean tau_t over the positions of each of :data:`N_BUCKETS`
buckets of ``data.max_response_length``), ``ead/temperature/mean`` (over all positions) and
``ead/temperature/decay`` (d_s). Runs without an EAD section log exactly what verl logs.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

import torch

from ..patching import Patch
from .temperature_metrics import temperature_bucket_metrics
from .settings import EADSettings, _get

__all__ = ["PATCH", "N_BUCKETS", "schedule_metrics"]

logger = logging.getLogger("ead_ext.integrations.verl")

N_BUCKETS = 8


def schedule_metrics(settings: Optional[EADSettings], step: Any, response_length: int) -> dict:
    """The ``ead/temperature/*`` metrics of ``settings`` at global step ``step`` ({} when EAD is off)."""
    if settings is None or not settings.enable or response_length <= 0:
        return {}
    try:
        step = int(step)
    except (TypeError, ValueError):
        return {}
    if step < 0:
        return {}
    bucket = max(1, -(-response_length // N_BUCKETS))
    return temperature_bucket_metrics(settings.schedule, step, torch.ones(1, response_length), bucket_size=bucket)


def _ead_tracking(tracking_cls):
    class EADTracking(tracking_cls):
        """verl's ``Tracking`` that adds the EAD schedule's per-position temperature to each step."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            config = kwargs.get("config", args[3] if len(args) > 3 else None)
            try:
                self._ead_settings = EADSettings.from_verl_config(config) if config is not None else None
                self._ead_length = int(_get(config, "data.max_response_length", 0) or 0)
            except Exception as e:  # noqa: BLE001 - a config the EAD checks reject fails elsewhere, loudly
                logger.warning("ead_ext: no EAD temperature metrics (%s)", e)
                self._ead_settings, self._ead_length = None, 0

        def log(self, data, step, backend=None):
            extra = schedule_metrics(self._ead_settings, step, self._ead_length)
            if extra:
                data = {**data, **extra}
            return super().log(data=data, step=step, backend=backend)

    EADTracking.__qualname__ = EADTracking.__name__ = "Tracking"
    EADTracking.__module__ = tracking_cls.__module__
    return EADTracking


PATCH = Patch("ead_temperature_metrics", "verl.utils.tracking", "Tracking", _ead_tracking,
              why="verl has no route from the rollout into a step's metrics: log the schedule's tau_t per position")
