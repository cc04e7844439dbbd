"""The admission guard: EAD requests that this engine would not sample with the EAD sampler are
refused at admission (vLLM's validation error, HTTP 400 naming the reason), before they reach a
runner; plain requests pass untouched.

vLLM's front end checks every request in ``InputProcessor._validate_params(params, supported_tasks)``
(``vllm/v1/engine/input_processor.py``, the same method from 0.24 to 0.34), on an object that holds the
engine's ``VllmConfig``. The guard wraps that method, so it judges each engine by its own config
(:func:`engine_facts`): the runner it uses and whether the EAD sampler is installed there, speculative
decoding, watermarking, the standalone CPU runner (:func:`.rules.unserved_reason`). A processor's
``validate_params`` could not do this: it sees the request only.
"""
from __future__ import annotations

from typing import Mapping

from ..patching import Patch
from .features import engine_uses_v2, uses_standalone_cpu_runner, validation_error
from .rules import EngineFacts, is_ead_request, unserved_reason

__all__ = ["engine_facts", "guard_patch", "MODULE"]

MODULE = "vllm.v1.engine.input_processor"


def engine_facts(vllm_config, not_installed: Mapping[str, str]) -> EngineFacts:
    """The facts :func:`.rules.unserved_reason` judges, read from an engine's config."""
    runner = "V2" if engine_uses_v2(vllm_config) else "V1"
    return EngineFacts(
        runner=runner,
        speculative=getattr(vllm_config, "speculative_config", None) is not None,
        watermark=getattr(vllm_config, "watermark_config", None) is not None,
        standalone_cpu=runner == "V2" and uses_standalone_cpu_runner(),
        not_installed=dict(not_installed))


def guard_patch(not_installed: Mapping[str, str]) -> Patch:
    """The patch of ``InputProcessor._validate_params``; ``not_installed`` (runner -> reason) is read
    live, so refusals registered after the patch count."""

    def make(orig):
        def _validate_params(self, params, *args, **kwargs):
            if is_ead_request(getattr(params, "extra_args", None)):
                reason = unserved_reason(engine_facts(self.vllm_config, not_installed))
                if reason is not None:
                    raise validation_error(f"ead_ext: EAD requests are refused by this engine: {reason}")
            return orig(self, params, *args, **kwargs)

        _validate_params.__wrapped__ = orig
        return _validate_params

    return _ClassAttrPatch(name="InputProcessor._validate_params + EAD admission guard", module=MODULE,
                           attr="_validate_params", make=make,
                           why="EAD requests the engine's sampler would not serve must fail at admission")


class _ClassAttrPatch(Patch):
    """A :class:`Patch` of a method of ``InputProcessor`` (the class, not the module, holds it)."""

    def apply(self) -> Patch:
        if self._applied:
            return self
        import importlib

        cls = importlib.import_module(self.module).InputProcessor
        orig = cls.__dict__[self.attr]
        setattr(cls, self.attr, self.make(orig))
        self._applied.append((cls, orig))
        return self

    def revert(self) -> None:
        for cls, orig in self._applied:
            setattr(cls, self.attr, orig)
        self._applied.clear()
