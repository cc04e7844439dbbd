"""The countdown task: solver, generator, splits, branching, and the verifier's rule (adversarial cases)."""
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ead_ext.apps import tasks as T
from ead_ext.apps.tasks import countdown as C

SPEC = "3 5 7 2 -> 24"


def _brute_force_reachable(numbers):
    """Every value reachable using each number once (independent of the module's solver)."""
    if len(numbers) == 1:
        return {numbers[0]}
    out = set()
    for i, j in itertools.combinations(range(len(numbers)), 2):
        rest = [x for k, x in enumerate(numbers) if k not in (i, j)]
        a, b = numbers[i], numbers[j]
        for c in {a + b, a * b, abs(a - b), (a // b if a % b == 0 else 0), (b // a if b % a == 0 else 0)}:
            if c > 0:
                out |= _brute_force_reachable(rest + [c])
    return out


def test_worked_answer_format_and_score():
    p = C.make_problem([3, 5, 7, 2], 24)
    assert p.prompt == "3 5 7 2 -> 24\n" and p.answer == SPEC
    lines = p.solution.splitlines()
    assert len(lines) == 4 and lines[-1] == "#### 24" and p.solution.endswith("\n")
    got, r = C.score(p.solution, p.answer)
    assert r == 1.0 and got.endswith("=24")


def test_verifier_accepts_any_valid_derivation():
    # a valid derivation of another target: wrong, not malformed (an answer Majority@N can count)
    assert C.score("7-5=2\n2*3=6\n6*2=12\n#### 12\n", SPEC) == ("(((7-5)*3)*2)=12", 0.0)
    good = ["7+5=12\n3-2=1\n12*1=12\n#### 12\n"]  # target 12 for the same numbers
    assert C.score(good[0], "3 5 7 2 -> 12")[1] == 1.0
    # operand order, spaces and a missing final newline do not matter; the same derivation is one answer
    a = C.score("5*3=15\n15+7=22\n22+2=24\n#### 24", SPEC)
    b = C.score("3 * 5 = 15\n7 + 15 = 22\n2+22=24\n####   24  \n", SPEC)
    assert a[1] == b[1] == 1.0 and a[0] == b[0]
    # a different route to the same target is a different answer
    c = C.score("7-3=4\n5+2=7\n4*7=28\n#### 28\n", "3 5 7 2 -> 28")
    d = C.score("7*2=14\n5*3=15\n15+14=29\n#### 29\n", "3 5 7 2 -> 29")
    assert c[1] == d[1] == 1.0 and c[0] != d[0]


@pytest.mark.parametrize("text", [
    "5*3=15\n15+7=22\n22+2=24\n",                      # no marker
    "5*3=15\n15+7=22\n22+2=24\n#### 24\n#### 24\n",    # two markers
    "5*3=15\n15+7=22\n22+2=24\n#### 24\nso 24\n",      # text after the answer
    "5*3=15\n15+7=22\n22+2=24\n#### twenty-four\n",    # not an integer
    "5*3=15\n15+7=22\n22+2=24\n#### 25\n",             # marked value is not the derived one
    "5*3=15\n15+7=22\n#### 22\n",                      # a number left unused
    "5*3=15\n15+7=22\n22+2=24\n24*1=24\n#### 24\n",    # a number that was not given
    "5*3=15\n15+7=22\n22+3=25\n#### 25\n",             # 3 used twice
    "5*3=16\n16+7=23\n23+1=24\n#### 24\n",             # wrong arithmetic
    "3-5=-2\n7*2=14\n14+2=16\n#### 16\n",              # negative intermediate
    "7/2=3\n5*3=15\n15+3=18\n#### 18\n",               # inexact division
    "7-7=0\n5*3=15\n15+0=15\n#### 15\n",               # 7 not given twice (and zero results are not allowed)
    "the answer\n5*3=15\n15+7=22\n22+2=24\n#### 24\n", # a line that is not a step
    "5*3=15\n\n15+7=22\n22+2=24\n#### 24\n",           # a blank line among the steps
    "5x3=15\n15+7=22\n22+2=24\n#### 24\n",             # unknown operator
    "(5*3)+7+2=24\n#### 24\n",                         # an expression instead of steps
    "",
])
def test_verifier_rejects(text):
    assert C.score(text, SPEC) == (None, 0.0)


def test_reference_spec_is_checked():
    for bad in ["", "3 5 7 2", "3 5 7 2 -> ", "3 -> 3", "0 5 -> 5", "a b -> 3", "3,5,7,2 -> 24"]:
        with pytest.raises(ValueError):
            C.parse_spec(bad)
        with pytest.raises(ValueError):
            T.get_task("countdown").validate_answer(bad)
    assert C.parse_spec(" 3 5  7 2->24 ") == ((3, 5, 7, 2), 24)


def test_unreachable_problem_is_refused():
    with pytest.raises(ValueError):
        C.make_problem([1, 1, 1, 1], 97)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=4, max_size=4))
def test_solver_matches_brute_force_and_every_solution_verifies(numbers):
    reach = _brute_force_reachable(list(numbers))
    for target in sorted(reach)[:3] + sorted(reach)[-2:]:
        sols = C.solutions(numbers, target)
        assert sols, (numbers, target)
        for steps in sols[:20]:
            text = "".join(f"{a}{op}{b}={c}\n" for a, op, b, c in steps) + f"#### {target}\n"
            assert C.reward(text, C._format(numbers, target)) == 1.0, text
    for target in (max(reach) + 1, 10_000):
        assert not C.solutions(numbers, target)


def test_generator_is_seeded_splits_are_disjoint_and_targets_in_range():
    a = C.generate(200, "test", seed=0)
    assert [p.prompt for p in a] == [p.prompt for p in C.generate(200, "test", seed=0)]
    assert [p.prompt for p in a] != [p.prompt for p in C.generate(200, "test", seed=1)]
    train = C.generate(2000, "train", seed=0)
    key = lambda p: (tuple(sorted(p.numbers)), p.target)  # noqa: E731
    assert not {key(p) for p in a} & {key(p) for p in train}
    assert len({key(p) for p in a}) == 200
    for p in a + train[:300]:
        assert C.TARGETS[0] <= p.target <= C.TARGETS[1] and len(p.numbers) == 4
        assert all(C.VALUES[0] <= x <= C.VALUES[1] for x in p.numbers)
        assert C.reward(p.solution, p.answer) == 1.0
        # the split does not depend on the order the numbers are shown in
        assert C.split_of(p.numbers[::-1], p.target) == C.split_of(p.numbers, p.target)
    for p in a:
        assert C.split_of(p.numbers, p.target) == "test"
    frac = sum(C.split_of([x, y, 3, 4], t) == "test" for x in range(1, 10) for y in range(1, 10)
               for t in range(10, 100)) / (81 * 90)
    assert 0.07 < frac < 0.13


def test_worked_solutions_are_drawn_across_routes():
    # the same problem, met twice in the stream, is taught through different routes
    p = C.make_problem([2, 3, 4, 6], 24)
    assert len(C.solutions(p.numbers, 24)) > 5
    import random

    rng = random.Random(0)
    seen = {C.make_problem([2, 3, 4, 6], 24, rng).solution.splitlines()[0] for _ in range(50)}
    assert len(seen) > 3


def test_the_first_step_chooses_the_route():
    # most legal openings dead-end: the branching the task is there to show
    problems = C.generate(300, "train", seed=0)
    stats = [C.opening_stats(p.numbers, p.target) for p in problems]
    share = sum(good / legal for legal, good in stats) / len(stats)
    assert 0.1 < share < 0.5, share
    assert all(good >= 1 for _, good in stats)
    assert sum(good < legal for legal, good in stats) / len(stats) > 0.9


def test_schedules_follow_the_stated_rule():
    for name, task in T.TASKS.items():
        assert T.schedule_for_length(T.median_answer_tokens(task)) == T.SCHEDULES[name], name
    with pytest.raises(ValueError, match="unknown task"):
        T.get_task("sudoku")
