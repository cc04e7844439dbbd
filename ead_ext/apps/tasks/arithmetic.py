"""Multi-digit addition and subtraction with a short worked answer and a marked final answer.

A problem is ``a+b`` or ``a-b`` (``a >= b`` for subtraction, so results are >= 0) with
operands of 2 to 4 digits by default. The prompt and the worked answer look like::

    prompt:    "2345+678=?\n"
    response:  "5+8+0=13|3\n"        one line per column, least significant first: digit
               "4+7+1=12|23\n"       of a, digit of b (0 past its end), carry in = the
               "3+6+1=10|023\n"      previous line's tens digit, the column's value, and
               "2+0+1=3|3023\n"      the digits of the result so far after the bar
               "#### 3023\n"         the final answer, after the marker ANSWER_MARKER

Subtraction columns read ``15-8-0=7|7``: the digit of a (plus the borrowed 10, shown as
a leading 1, when the column borrows) minus the digit of b minus the borrow in. Leading
zeros are dropped from the final answer. Answers are 20-60 characters long.

Splits: a problem belongs to ``"test"`` when a SHA-256 hash of its canonical form falls
in the lowest ``TEST_FRACTION`` of the hash range, else to ``"train"``. The canonical
form sorts the operands of an addition (``a+b`` and ``b+a`` are the same problem), so the
train and test sets are disjoint by construction, whatever seed or count generated them.

Verifier (:func:`reward`, :func:`extract_answer`): the completion earns 1.0 iff
  * the marker ``####`` occurs exactly once (several final answers -> 0, no hedging);
  * the rest of the marker's line, stripped of spaces and tabs, is a well-formed answer
    (for integers: optional ``-`` then digits; anything else on the line -> malformed);
  * nothing but whitespace follows that line (text after the final answer -> 0);
  * the answer equals the reference: integers (ASCII digits, any length) by value (``007`` == ``7``, ``-0`` == ``0``),
    other answers (user task files) by exact string match after whitespace collapsing.
Otherwise the reward is 0.0 (wrong, malformed or ambiguous).
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional

from ._stream import first_n

__all__ = ["NAME", "ANSWER_MARKER", "TEST_FRACTION", "Problem", "make_problem", "split_of", "generate", "iter_problems",
           "extract_answer", "normalize_answer", "reward", "score", "format_prompt", "validate_answer"]

NAME = "arithmetic"
ANSWER_MARKER = "####"
TEST_FRACTION = 0.1
_INT_RE = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: "٣" (Arabic-Indic 3) is no answer


@dataclass(frozen=True)
class Problem:
    """One problem: ``prompt`` for the model, the worked ``solution`` (the training target,
    ending in the marked answer and a newline) and the reference ``answer``."""

    a: int
    b: int
    op: str  # "+" or "-"
    prompt: str
    solution: str
    answer: str

    def to_json(self) -> dict:
        return {"prompt": self.prompt, "answer": self.answer, "solution": self.solution}


def format_prompt(a: int, b: int, op: str) -> str:
    return f"{a}{op}{b}=?\n"


def _worked(a: int, b: int, op: str) -> tuple:
    da, db = str(a)[::-1], str(b)[::-1]
    lines, digits, carry = [], "", 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        if op == "+":
            v = x + y + carry
            out, new = v % 10, v // 10
            lines.append(f"{x}+{y}+{carry}={v}")
        else:
            v = x - y - carry
            new = 1 if v < 0 else 0
            out = v + 10 * new
            lines.append(f"{x + 10 * new}-{y}-{carry}={out}")
        carry = new
        digits = str(out) + digits
        lines[-1] += f"|{digits}"
    if carry:  # addition overflow: one more digit
        digits = "1" + digits
        lines.append(f"0+0+1=1|{digits}")
    result = a + b if op == "+" else a - b
    assert int(digits) == result
    return "\n".join(lines) + f"\n{ANSWER_MARKER} {result}\n", str(result)


def make_problem(a: int, b: int, op: str) -> Problem:
    """The problem ``a op b`` (``op`` in "+-"; non-negative operands, ``a >= b`` for "-")."""
    if op not in "+-" or len(op) != 1:
        raise ValueError(f"op must be '+' or '-', got {op!r}")
    if a < 0 or b < 0:
        raise ValueError("operands must be >= 0")
    if op == "-" and a < b:
        raise ValueError("subtraction needs a >= b (non-negative results)")
    solution, answer = _worked(a, b, op)
    return Problem(a, b, op, format_prompt(a, b, op), solution, answer)


def _canonical(a: int, b: int, op: str) -> str:
    if op == "+":
        a, b = min(a, b), max(a, b)
    return f"{a}{op}{b}"


def split_of(a: int, b: int, op: str, test_fraction: float = TEST_FRACTION) -> str:
    """``"test"`` or ``"train"``, from a hash of the canonical problem (seed-independent)."""
    h = int.from_bytes(hashlib.sha256(_canonical(a, b, op).encode()).digest()[:8], "big")
    return "test" if h < test_fraction * 2**64 else "train"


def iter_problems(split: str, seed: int, min_digits: int = 2, max_digits: int = 4,
                  test_fraction: float = TEST_FRACTION) -> Iterator[Problem]:
    """An endless seeded stream of problems of ``split`` (may repeat on long runs)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 1 <= min_digits <= max_digits:
        raise ValueError("need 1 <= min_digits <= max_digits")
    rng = random.Random(f"ead-arith:{split}:{seed}")
    while True:
        na, nb = rng.randint(min_digits, max_digits), rng.randint(min_digits, max_digits)
        a = rng.randint(10 ** (na - 1) if na > 1 else 0, 10**na - 1)
        b = rng.randint(10 ** (nb - 1) if nb > 1 else 0, 10**nb - 1)
        op = rng.choice("+-")
        if op == "-" and a < b:
            a, b = b, a
        if split_of(a, b, op, test_fraction) == split:
            yield make_problem(a, b, op)


def generate(n: int, split: str = "test", seed: int = 0, unique: bool = True, **kw) -> List[Problem]:
    """``n`` problems of ``split``, deterministic for ``seed`` (distinct canonical forms if ``unique``)."""
    key = (lambda p: _canonical(p.a, p.b, p.op)) if unique else None
    return first_n(iter_problems(split, seed, **kw), n, key)


def normalize_answer(text: Optional[str]) -> Optional[str]:
    """Canonical form of an answer: integers as ``str(int)``; other text with runs of
    whitespace collapsed to one space and stripped; None (or empty) stays None."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    if not text:
        return None
    if _INT_RE.fullmatch(text):  # by value, without int(): no limit on the number of digits
        digits = text.lstrip("+-").lstrip("0") or "0"
        return digits if text[0] != "-" or digits == "0" else "-" + digits
    return text


def extract_answer(completion: str, integer: bool = True) -> Optional[str]:
    """The normalized final answer of ``completion``, or None when it is malformed.

    None when the marker is missing or repeated, when the answer on the marker's line
    is empty (or, with ``integer``, not an integer), or when anything but whitespace
    follows the marker's line.
    """
    if completion.count(ANSWER_MARKER) != 1:
        return None
    tail = completion.split(ANSWER_MARKER, 1)[1]
    line, _, rest = tail.partition("\n")
    if rest.strip():
        return None
    ans = line.strip(" \t\r")
    if not ans:
        return None
    if integer and not _INT_RE.fullmatch(ans):
        return None
    return normalize_answer(ans)


def score(completion: str, answer: str) -> tuple:
    """``(extracted answer or None, reward)`` of ``completion`` against the reference ``answer``.

    The answer is parsed as an integer when the reference is one, else as text."""
    ref = normalize_answer(answer)
    if ref is None:
        raise ValueError("the reference answer is empty")
    got = extract_answer(completion, integer=bool(_INT_RE.fullmatch(ref)))
    return got, (1.0 if got is not None and got == ref else 0.0)


def validate_answer(answer: str) -> None:
    """ValueError unless ``answer`` can be a reference answer (not empty)."""
    if normalize_answer(str(answer)) is None:
        raise ValueError("empty answer")


def reward(completion: str, answer: str) -> float:
    """1.0 when ``completion``'s final answer equals ``answer`` under the rule above, else 0.0."""
    return score(completion, answer)[1]
