"""The environment of a child Python that imports the tests' helper modules (sampling_helpers,
engine_cases, vllm_helpers), as pytest lets the test modules do: this folder first on PYTHONPATH
(instead of the child editing its own sys.path)."""
from __future__ import annotations

import os

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def child_env(**changes) -> dict:
    path = os.pathsep.join(p for p in (TESTS_DIR, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **changes)
