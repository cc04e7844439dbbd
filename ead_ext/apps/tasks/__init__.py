"""Verifiable tasks for evaluating EAD: problems with a checkable final answer.

Each task module has the same interface: ``NAME``, ``generate(n, split, seed)`` and
``iter_problems(split, seed)`` (problems with ``prompt``, ``solution``, ``answer``; train and test
splits disjoint by construction), ``score(completion, answer) -> (extracted answer or None,
reward)``, ``reward`` and ``validate_answer``.

- :mod:`.arithmetic`: multi-digit addition / subtraction worked column by column: one correct
  path, nothing to explore;
- :mod:`.countdown`: reach a target from four numbers; the first step chooses the route and most
  routes dead-end.

:data:`SCHEDULES` holds the EAD schedule each task's tiny model runs with, chosen by one rule from
the length of the task's reference answers (:func:`schedule_for_length`), never from test results.
"""
import statistics
from types import ModuleType
from typing import Dict

from ead_ext.schedule import PRESETS, Schedule, decay_for_length
from . import arithmetic, countdown
from .arithmetic import (ANSWER_MARKER, Problem, extract_answer, generate, make_problem, normalize_answer, reward,
                         score, split_of)

__all__ = ["ANSWER_MARKER", "Problem", "extract_answer", "generate", "make_problem", "normalize_answer", "reward",
           "score", "split_of", "TASKS", "get_task", "SCHEDULES", "schedule_for_length", "median_answer_tokens"]

TASKS: Dict[str, ModuleType] = {arithmetic.NAME: arithmetic, countdown.NAME: countdown}


def get_task(name: str) -> ModuleType:
    """The task module called ``name`` (ValueError naming the choices otherwise)."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}: choose one of {sorted(TASKS)}") from None


def median_answer_tokens(task: ModuleType, n: int = 2000, seed: int = 0) -> float:
    """Median length in tokens of ``n`` train-split reference answers (character tokens + EOS)."""
    return statistics.median(len(p.solution) + 1 for p in task.generate(n, "train", seed=seed))


def schedule_for_length(median_tokens: float, base: Schedule = PRESETS["small"]) -> Schedule:
    """The rule that sizes EAD's schedule to a task's answers.

    * the hot phase (tau > 1) spans the first third of a median answer: tau crosses 1.0 at
      t = k * d0 * ln(tau_max) (k the token scale), so d0 = (median / 3) / (k ln tau_max), rounded
      to the nearest 0.5;
    * the decay grows by the paper's ratio, growth / d0 = 5 / 25;
    * no cutoff: the cutoff exempts a template's fixed opening (the paper's ``<think>`` prefix),
      and these answers have none: their first token is already a choice;
    * tau_max, tau_min and the token scale stay the preset's (1.2, 0.1, 20).
    """
    d0 = max(0.5, round(2 * decay_for_length(base, median_tokens, 1 / 3)) / 2)
    return base.replace(d0=d0, growth=d0 / 5, cutoff=0)


#: the schedule of each task's tiny model (checked against the rule by the tests): arithmetic answers
#: have a median of 57 tokens (d0 5), countdown answers 30 (d0 2.5)
SCHEDULES: Dict[str, Schedule] = {
    "arithmetic": PRESETS["small"].replace(d0=5.0, growth=1.0, cutoff=0),
    "countdown": PRESETS["small"].replace(d0=2.5, growth=0.5, cutoff=0),
}
