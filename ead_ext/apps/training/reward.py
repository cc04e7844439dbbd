"""The verifiers as verl's custom reward function (``custom_reward_function.path`` = this file).

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per
response and logs the dict's extra keys next to the score. ``data_source`` ``ead_ext/<task>``
(:func:`ead_ext.apps.training.data.data_source`) picks that task's verifier; any other source (a user's
verl parquet) is scored by the arithmetic task's ``####`` answer rule.
"""
from __future__ import annotations

from ead_ext.apps.tasks import TASKS, arithmetic
from ead_ext.apps.training.data import DATA_SOURCE_PREFIX

__all__ = ["compute_score", "verifier_of"]


def verifier_of(data_source) -> object:
    """The task module that scores rows of ``data_source``."""
    source = str(data_source or "")
    name = source[len(DATA_SOURCE_PREFIX):] if source.startswith(DATA_SOURCE_PREFIX) else ""
    return TASKS.get(name, arithmetic)


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """1.0 iff the response solves the row (see the task's verifier in ``ead_ext.apps.tasks``)."""
    answer, value = verifier_of(data_source).score(solution_str, str(ground_truth))
    return {"score": value, "malformed": float(answer is None)}
