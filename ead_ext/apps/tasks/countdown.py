"""Countdown: reach a target from four numbers with + - * /, one step per line.

The first step chooses the route, and many routes dead-end: a task where exploring early pays.
A problem and a worked answer look like::

    prompt:    "3 5 7 2 -> 24\n"
    response:  "7-3=4\n"          each step combines two numbers of the pool (the given numbers,
               "5+2=7\n"          then the results so far; each used once) into a new one
               "4*7=28\n"         ...
               "#### 28\n"        the final answer, after ANSWER_MARKER

(that one is wrong: 28 is not 24). Every number is used exactly once, so a 4-number problem
takes exactly 3 steps. Results must be positive integers: ``a-b`` needs a > b, ``a/b`` needs
b to divide a. The worked answers the tiny model is trained on write the larger operand first
and are drawn uniformly from all the problem's solutions, so the first step's distribution is
the share of solutions through each opening; on average only about a third of the openings
that are legal can still reach the target (:func:`opening_stats`).

Problems: four numbers from 1 to 9 (with repetition), in random order, and a target drawn
uniformly from the values 10..99 that they can reach. The reference ``answer`` of a problem is
its prompt line without the newline (``"3 5 7 2 -> 24"``): the verifier needs the numbers, not
one solution, since every valid derivation counts.

Splits: ``"test"`` when a SHA-256 hash of the canonical problem (sorted numbers, target) falls
in the lowest ``TEST_FRACTION`` of the hash range, else ``"train"``: disjoint by construction,
whatever the seed or the order the numbers are shown in.

Verifier (:func:`score`): the completion earns 1.0 iff
  * the marker ``####`` occurs exactly once, with an integer on its line and nothing but
    whitespace after that line;
  * every line before the marker is one step ``a op b=c`` (spaces allowed; op in ``+-*/``),
    with a and b available in the pool, c the exact result, a positive integer;
  * the steps use every given number exactly once (len(numbers) - 1 steps), the last result
    is the target, and the marked answer is the target.
The extracted answer (for Majority@N) is the derivation as a canonical expression (commutative
operands sorted) with its marked value, e.g. ``"((3*4)+(7+5))=24"``: two answers are the same
when they compute the same way; None when the completion is malformed (a line that is not a
step, an operand not in the pool, a wrong result, too few or too many steps, no marker).
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ._stream import first_n
from .arithmetic import ANSWER_MARKER

__all__ = ["NAME", "ANSWER_MARKER", "TEST_FRACTION", "Problem", "make_problem", "split_of", "generate",
           "iter_problems", "solutions", "opening_stats", "parse_spec", "extract_answer", "score", "reward",
           "validate_answer"]

NAME = "countdown"
TEST_FRACTION = 0.1
N_NUMBERS = 4
VALUES = (1, 9)
TARGETS = (10, 99)
OPS = "+-*/"
_STEP_RE = re.compile(r"\s*([0-9]+)\s*([-+*/])\s*([0-9]+)\s*=\s*([0-9]+)\s*")
_SPEC_RE = re.compile(r"\s*([0-9]+(?:\s+[0-9]+)*)\s*->\s*([0-9]+)\s*")
_INT_RE = re.compile(r"[0-9]+")

Step = Tuple[int, str, int, int]  # a, op, b, result


@dataclass(frozen=True)
class Problem:
    """``numbers`` (in prompt order) and ``target``; ``solution`` is one worked answer (the
    training target, ending in the marked answer and a newline); ``answer`` the reference spec."""

    numbers: Tuple[int, ...]
    target: int
    prompt: str
    solution: str
    answer: str

    def to_json(self) -> dict:
        return {"prompt": self.prompt, "answer": self.answer, "solution": self.solution}


def _apply(a: int, op: str, b: int) -> Optional[int]:
    """``a op b`` when it is a positive integer, else None."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a > b else None
    if op == "/":
        return a // b if b > 0 and a % b == 0 else None
    raise ValueError(f"unknown op {op!r}")


def _moves(pool: Tuple[int, ...]) -> List[Tuple[Step, Tuple[int, ...]]]:
    """Every distinct legal step from a sorted pool, written larger operand first, with the pool after it."""
    out, seen = [], set()
    for i in range(len(pool)):
        for j in range(i + 1, len(pool)):
            a, b = max(pool[i], pool[j]), min(pool[i], pool[j])
            rest = pool[:i] + pool[i + 1:j] + pool[j + 1:]
            for op in OPS:
                c = _apply(a, op, b)
                if c is None or (a, op, b) in seen:
                    continue
                seen.add((a, op, b))
                out.append(((a, op, b, c), tuple(sorted(rest + (c,)))))
    return out


@lru_cache(maxsize=1 << 16)
def _solutions(pool: Tuple[int, ...], target: int) -> Tuple[Tuple[Step, ...], ...]:
    if len(pool) == 1:
        return ((),) if pool[0] == target else ()
    out = []
    for step, nxt in _moves(pool):
        out.extend((step,) + rest for rest in _solutions(nxt, target))
    return tuple(out)


def solutions(numbers: Sequence[int], target: int) -> Tuple[Tuple[Step, ...], ...]:
    """Every step sequence (larger operand first) that reaches ``target`` using each number once."""
    return _solutions(tuple(sorted(numbers)), int(target))


@lru_cache(maxsize=1 << 12)
def _reachable(pool: Tuple[int, ...]) -> frozenset:
    if len(pool) == 1:
        return frozenset(pool)
    return frozenset().union(*(_reachable(nxt) for _, nxt in _moves(pool)))


def opening_stats(numbers: Sequence[int], target: int) -> Tuple[int, int]:
    """``(legal first steps, first steps from which the target is still reachable)``."""
    moves = _moves(tuple(sorted(numbers)))
    return len(moves), sum(target in _reachable(nxt) for _, nxt in moves)


def _format(numbers: Sequence[int], target: int) -> str:
    return " ".join(map(str, numbers)) + f" -> {target}"


def _worked(steps: Sequence[Step], target: int) -> str:
    return "".join(f"{a}{op}{b}={c}\n" for a, op, b, c in steps) + f"{ANSWER_MARKER} {target}\n"


def make_problem(numbers: Sequence[int], target: int, rng: Optional[random.Random] = None) -> Problem:
    """The problem; its ``solution`` is the first solution in order, or a uniform one with ``rng``.

    Raises ValueError when the numbers cannot reach ``target`` (or are not positive integers)."""
    numbers = tuple(int(x) for x in numbers)
    if len(numbers) < 2 or any(x < 1 for x in numbers):
        raise ValueError("need at least two positive numbers")
    sols = solutions(numbers, target)
    if not sols:
        raise ValueError(f"{numbers} cannot reach {target}")
    sol = rng.choice(sols) if rng is not None else sols[0]
    spec = _format(numbers, target)
    return Problem(numbers, int(target), spec + "\n", _worked(sol, target), spec)


def split_of(numbers: Sequence[int], target: int, test_fraction: float = TEST_FRACTION) -> str:
    """``"test"`` or ``"train"``, from a hash of the canonical problem (seed- and order-independent)."""
    key = "countdown:" + _format(sorted(numbers), target)
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return "test" if h < test_fraction * 2**64 else "train"


def iter_problems(split: str, seed: int, test_fraction: float = TEST_FRACTION) -> Iterator[Problem]:
    """An endless seeded stream of problems of ``split``, each with a uniformly drawn worked solution."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = random.Random(f"ead-countdown:{split}:{seed}")
    while True:
        numbers = [rng.randint(*VALUES) for _ in range(N_NUMBERS)]
        targets = sorted(v for v in _reachable(tuple(sorted(numbers))) if TARGETS[0] <= v <= TARGETS[1])
        if not targets:
            continue
        target = rng.choice(targets)
        if split_of(numbers, target, test_fraction) == split:
            yield make_problem(numbers, target, rng)


def generate(n: int, split: str = "test", seed: int = 0, unique: bool = True, **kw) -> List[Problem]:
    """``n`` problems of ``split``, deterministic for ``seed`` (distinct canonical problems if ``unique``)."""
    key = (lambda p: (tuple(sorted(p.numbers)), p.target)) if unique else None
    return first_n(iter_problems(split, seed, **kw), n, key)


def parse_spec(answer: str) -> Tuple[Tuple[int, ...], int]:
    """``(numbers, target)`` of a reference answer ``"3 5 7 2 -> 24"``; ValueError when malformed."""
    m = _SPEC_RE.fullmatch(str(answer))
    if not m:
        raise ValueError(f"a countdown answer reads 'n1 n2 ... -> target', got {answer!r}")
    numbers = tuple(int(x) for x in m.group(1).split())
    if len(numbers) < 2 or any(x < 1 for x in numbers):
        raise ValueError(f"{answer!r}: need at least two positive numbers")
    return numbers, int(m.group(2))


def validate_answer(answer: str) -> None:
    parse_spec(answer)


def _derive(lines: List[str], numbers: Sequence[int]) -> Optional[Tuple[str, int]]:
    """``(canonical expression, value)`` of step lines over ``numbers``, or None when they are not a
    valid derivation using every number exactly once."""
    pool: Dict[int, List[str]] = {}
    for x in numbers:
        pool.setdefault(x, []).append(str(x))
    if len(lines) != len(numbers) - 1:
        return None
    for line in lines:
        m = _STEP_RE.fullmatch(line)
        if not m:
            return None
        a, op, b, c = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        if _apply(a, op, b) != c:
            return None
        if not pool.get(a):
            return None
        ea = pool[a].pop()
        if not pool.get(b):
            return None
        eb = pool[b].pop()
        if op in "+*":
            ea, eb = sorted((ea, eb))
        pool.setdefault(c, []).append(f"({ea}{op}{eb})")
    (value, exprs), = [(v, e) for v, e in pool.items() if e]
    return exprs[0], value


def extract_answer(completion: str, numbers: Sequence[int]) -> Optional[str]:
    """The canonical derivation and marked value (``"((3*4)+(7+5))=24"``), or None when malformed."""
    if completion.count(ANSWER_MARKER) != 1:
        return None
    body, tail = completion.split(ANSWER_MARKER, 1)
    line, _, rest = tail.partition("\n")
    marked = line.strip(" \t\r")
    if rest.strip() or not _INT_RE.fullmatch(marked):
        return None
    steps = body.split("\n")
    if steps and steps[-1].strip(" \t\r") == "":
        steps = steps[:-1]  # the newline that ends the last step
    derived = _derive(steps, numbers)
    if derived is None:
        return None
    expr, value = derived
    if value != int(marked):
        return None
    return f"{expr}={int(marked)}"


def score(completion: str, answer: str) -> tuple:
    """``(extracted answer or None, reward)`` of ``completion`` against the reference spec ``answer``."""
    numbers, target = parse_spec(answer)
    got = extract_answer(completion, numbers)
    return got, (1.0 if got is not None and got.rsplit("=", 1)[1] == str(target) else 0.0)


def reward(completion: str, answer: str) -> float:
    """1.0 when ``completion`` is a valid derivation of ``answer``'s target, else 0.0."""
    return score(completion, answer)[1]
