"""ead-ext's ``verl.plugins`` entry point: verl imports it in every process, at ``import verl``.

It turns on the CPU mode where no accelerator is present (:mod:`.cpu_mode`) and the automatic
per-position temperature metrics (:mod:`.tracking`), where asked the batch trace
(:mod:`.batch_trace`, ``EAD_VERL_BATCH_TRACE``), and registers the EAD policy losses (importing
this package does). verl swallows plugin errors at debug level, so failures are logged here.
``VERL_USE_EXTERNAL_PLUGINS=none`` (verl's switch) skips every plugin.
"""
from __future__ import annotations

import logging

logger = logging.getLogger("ead_ext.integrations.verl")


def _load() -> None:
    from . import batch_trace, cpu_mode, tracking

    try:
        if cpu_mode.wanted():
            cpu_mode.activate()
    except Exception as e:  # noqa: BLE001
        logger.warning("ead_ext: verl CPU mode could not start (%s: %s)", type(e).__name__, e)
    try:
        tracking.PATCH.apply()
    except Exception as e:  # noqa: BLE001
        logger.warning("ead_ext: EAD temperature metrics not installed (%s: %s)", type(e).__name__, e)
    if batch_trace.wanted():  # opt-in (EAD_VERL_BATCH_TRACE): a record of the log-probs TIS used
        try:
            batch_trace.PATCH.apply()
        except Exception as e:  # noqa: BLE001
            logger.warning("ead_ext: verl batch trace not installed (%s: %s)", type(e).__name__, e)


_load()
