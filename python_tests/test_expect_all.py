"""The no-silent-skips switch (expect_all.py) itself: under EAD_EXPECT_ALL=1 a skipped test or module
fails, a "no CUDA device" skip stays a skip; without it, skips are skips."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(tmp_path, source, expect_all):
    (tmp_path / "test_demo.py").write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("EAD_EXPECT_ALL", None)
    if expect_all:
        env["EAD_EXPECT_ALL"] = "1"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "expect_all", "-p", "no:cacheprovider",
                        str(tmp_path / "test_demo.py")], env=env, capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    return r.returncode, r.stdout


TESTS = """
    import pytest
    def test_skipped():
        pytest.skip("verl is not importable")
    @pytest.mark.skipif(True, reason="no CUDA device")
    def test_cuda():
        pass
    def test_ok():
        pass
"""


def test_skips_fail_under_the_switch_except_no_cuda(tmp_path):
    rc, out = _run(tmp_path, TESTS, expect_all=True)
    assert rc == 1 and "1 failed, 1 passed, 1 skipped" in out, out
    assert "verl is not importable" in out


def test_skips_are_skips_without_it(tmp_path):
    rc, out = _run(tmp_path, TESTS, expect_all=False)
    assert rc == 0 and "1 passed, 2 skipped" in out, out


def test_a_module_level_skip_fails_too(tmp_path):
    rc, out = _run(tmp_path, """
        import pytest
        pytest.importorskip("a_module_that_is_not_installed")
        def test_never():
            pass
    """, expect_all=True)
    assert rc != 0 and "a_module_that_is_not_installed" in out, out
