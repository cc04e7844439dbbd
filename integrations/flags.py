"""Yes/no switches, parsed one way everywhere: ead-ext's environment variables (``EAD_VLLM_DISABLE``,
``EAD_VERL_CPU_MODE``, the CPU live-weights switch) and a request's ``"ead": "true"``.

``1 / true / on / yes`` is on, ``0 / false / off / no`` is off (any case, surrounding spaces
ignored); anything else, or nothing, is neither (None), which each caller maps to its default.
Variables that belong to vLLM or verl are read as those projects read them, not here.
"""
from __future__ import annotations

import os
from typing import Optional

__all__ = ["ON_WORDS", "OFF_WORDS", "parse_flag", "env_flag"]

ON_WORDS = ("1", "true", "on", "yes")
OFF_WORDS = ("0", "false", "off", "no")


def parse_flag(text: object) -> Optional[bool]:
    """True, False, or None where ``text`` is neither an on nor an off word."""
    t = str(text).strip().lower()
    if t in ON_WORDS:
        return True
    if t in OFF_WORDS:
        return False
    return None


def env_flag(name: str) -> Optional[bool]:
    """:func:`parse_flag` of the environment variable ``name`` (None when unset)."""
    return parse_flag(os.environ.get(name, ""))
