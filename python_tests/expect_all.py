"""A pytest plugin, loaded by conftest.py: no silent skips.

``EAD_EXPECT_ALL=1`` (set by .ci/run for every test session): a skipped test or module is a failure,
unless its reason says it needs a CUDA device this machine lacks. A broken install (verl, vLLM, Ray,
Triton not importable) then fails CI instead of turning into skips. Tests that do not apply to a
session are not collected there: the session's script names what it leaves out, and why.
"""
import os

import pytest

ENV_EXPECT_ALL = "EAD_EXPECT_ALL"
ALLOWED_SKIP = "no CUDA device"


def _expect_all() -> bool:
    return os.environ.get(ENV_EXPECT_ALL, "") == "1"


def _skip_reason(rep) -> str:
    lr = rep.longrepr
    return str(lr[2]) if isinstance(lr, tuple) and len(lr) == 3 else str(lr)


def _fail_skip(rep, what: str) -> None:
    reason = _skip_reason(rep)
    if ALLOWED_SKIP in reason:
        return
    rep.outcome = "failed"
    rep.longrepr = (f"{what} skipped under {ENV_EXPECT_ALL}=1, where only '{ALLOWED_SKIP}' may skip: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if _expect_all() and rep.skipped and not hasattr(rep, "wasxfail"):
        _fail_skip(rep, f"test {item.nodeid}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if _expect_all() and rep.skipped:
        _fail_skip(rep, f"module {collector.nodeid}")
