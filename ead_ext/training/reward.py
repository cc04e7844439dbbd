"""The verifier as verl's custom reward function (``custom_reward_function.path`` = this file).

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per
response and logs the dict's extra keys next to the score.
"""
from __future__ import annotations

from ead_ext.tasks.arithmetic import score

__all__ = ["compute_score"]


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """1.0 iff the response's final ``#### answer`` equals ``ground_truth`` (see ``tasks.arithmetic``)."""
    answer, value = score(solution_str, str(ground_truth))
    return {"score": value, "malformed": float(answer is None)}
