"""The arithmetic task: generator, splits and the verifier's rule."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ead_ext.apps.tasks import arithmetic as A


def test_worked_answers():
    p = A.make_problem(2345, 678, "+")
    assert p.prompt == "2345+678=?\n"
    assert p.solution == "5+8+0=13|3\n4+7+1=12|23\n3+6+1=10|023\n2+0+1=3|3023\n#### 3023\n"
    assert p.answer == "3023"
    p = A.make_problem(2345, 678, "-")
    assert p.solution == "15-8-0=7|7\n14-7-1=6|67\n13-6-1=6|667\n2-0-1=1|1667\n#### 1667\n"
    assert A.make_problem(999, 1, "+").solution.endswith("0+0+1=1|1000\n#### 1000\n")
    assert A.make_problem(1000, 1, "-").answer == "999"
    assert A.make_problem(55, 55, "-").answer == "0"


@settings(max_examples=300)
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from("+-"))
def test_every_solution_verifies(a, b, op):
    if op == "-" and a < b:
        a, b = b, a
    p = A.make_problem(a, b, op)
    assert int(p.answer) == (a + b if op == "+" else a - b)
    assert A.reward(p.solution, p.answer) == 1.0
    assert A.extract_answer(p.solution) == p.answer


def test_make_problem_rejects():
    with pytest.raises(ValueError):
        A.make_problem(1, 2, "-")
    with pytest.raises(ValueError):
        A.make_problem(1, 2, "*")
    with pytest.raises(ValueError):
        A.make_problem(-1, 2, "+")


def test_generator_is_seeded_and_splits_are_disjoint():
    a = A.generate(300, "test", seed=0)
    assert [p.prompt for p in a] == [p.prompt for p in A.generate(300, "test", seed=0)]
    assert [p.prompt for p in a] != [p.prompt for p in A.generate(300, "test", seed=1)]
    train = A.generate(3000, "train", seed=0)
    canon = lambda p: (min(p.a, p.b), max(p.a, p.b), p.op) if p.op == "+" else (p.a, p.b, p.op)  # noqa: E731
    assert not {canon(p) for p in a} & {canon(p) for p in train}
    assert len({p.prompt for p in a}) == 300  # unique
    for p in a:
        assert A.split_of(p.a, p.b, p.op) == "test"
        assert A.split_of(p.b, p.a, "+") == A.split_of(p.a, p.b, "+")  # a+b and b+a share a split
        assert 2 <= len(str(p.a)) <= 4
    frac = sum(A.split_of(a, b, "+") == "test" for a in range(100, 160) for b in range(200, 260)) / 3600
    assert 0.07 < frac < 0.13


def test_train_stream_never_yields_test_problems():
    it = A.iter_problems("train", seed=5)
    for _ in range(500):
        p = next(it)
        assert A.split_of(p.a, p.b, p.op) == "train"
    with pytest.raises(ValueError):
        next(A.iter_problems("dev", seed=0))


@pytest.mark.parametrize("completion,expected", [
    ("1+2+0=3|3\n#### 3\n", 1.0),                 # correct
    ("#### 3", 1.0),                              # no worked steps, no newline: still correct
    ("#### 3  \n\n  ", 1.0),                      # trailing whitespace is fine
    ("####3\n", 1.0),                             # no space after the marker
    ("#### 003\n", 1.0),                          # integers compare by value
    ("#### +3\n", 1.0),
    ("#### 4\n", 0.0),                            # wrong
    ("#### -3\n", 0.0),
    ("the answer is 3\n", 0.0),                   # malformed: no marker
    ("", 0.0),
    ("####\n", 0.0),                              # malformed: empty answer
    ("#### three\n", 0.0),                        # malformed: not an integer
    ("#### 3.0\n", 0.0),
    ("#### 3 4\n", 0.0),                          # two numbers on the answer line
    ("#### 3\n#### 4\n", 0.0),                    # adversarial: several final answers
    ("#### 3\n#### 3\n", 0.0),                    # even when they agree
    ("#### 4\n#### 3\n", 0.0),
    ("#### 3\nsorry, it is 4\n", 0.0),            # text after the final answer
    ("#### 3\n1+1=2\n", 0.0),
    ("#### 3 ####\n", 0.0),
    ("# 3\n", 0.0), ("### 3\n", 0.0),             # wrong marker
])
def test_verifier_rule(completion, expected):
    assert A.reward(completion, "3") == expected


def test_extract_answer():
    assert A.extract_answer("x\n#### 0042\n") == "42"
    assert A.extract_answer("#### -0\n") == "0"
    assert A.extract_answer("#### 1\n#### 1") is None
    assert A.extract_answer("#### Paris \n", integer=False) == "Paris"
    assert A.extract_answer("#### Paris\n", integer=True) is None


def test_non_integer_reference_answers():
    assert A.reward("#### New  York\n", "New York") == 1.0
    assert A.reward("#### new york\n", "New York") == 0.0
    assert A.reward("#### 12\n", " 12 ") == 1.0
    with pytest.raises(ValueError):
        A.reward("#### 1", "  ")


def test_normalize_answer():
    assert A.normalize_answer(None) is None
    assert A.normalize_answer("  ") is None
    assert A.normalize_answer("-007") == "-7"
    assert A.normalize_answer(" a   b ") == "a b"


def test_score():
    assert A.score("#### 12\n", "12") == ("12", 1.0)
    assert A.score("#### 13\n", "12") == ("13", 0.0)
    assert A.score("#### x\n", "12") == (None, 0.0)
    assert A.score("#### x\n", "x") == ("x", 1.0)


@pytest.mark.parametrize("completion,expected", [
    ("#### \u0663\n", 0.0),                       # Arabic-Indic 3: Python's int() would read it as 3
    ("#### \uff13\n", 0.0),                       # fullwidth 3
    ("#### 3\u200b\n", 0.0),                      # zero-width space after the answer
    ("##### 3\n", 0.0),                           # a longer marker leaves "# 3": malformed
    ("######## 3\n", 0.0),                        # two markers back to back
    ("#### 3\r\n", 1.0),                          # a CRLF line ending is fine
    ("#### 3 # 4\n", 0.0),
    ("#### 3\n\x00", 0.0),                        # a NUL after the answer is text, not whitespace
    ("1+2+0=3|3\n#### 3\n<s></s>", 0.0),          # leftover text after the answer
])
def test_verifier_adversarial(completion, expected):
    assert A.reward(completion, "3") == expected


def test_verifier_handles_huge_integers():
    # int() refuses strings over 4300 digits (CPython's limit): the verifier compares by value without it
    big = "9" * 6000
    assert A.reward(f"#### 000{big}\n", big) == 1.0
    assert A.reward(f"#### {big}8\n", big) == 0.0
    assert A.normalize_answer("-" + "0" * 5000) == "0"
    assert A.normalize_answer("-000" + big) == "-" + big
