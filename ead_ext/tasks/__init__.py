"""Verifiable tasks for evaluating EAD: problems with a checkable final answer."""
from .arithmetic import (ANSWER_MARKER, Problem, extract_answer, generate, make_problem, normalize_answer, reward,
                         score, split_of)

__all__ = ["ANSWER_MARKER", "Problem", "extract_answer", "generate", "make_problem", "normalize_answer", "reward",
           "score", "split_of"]
