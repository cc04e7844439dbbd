"""The two kinds of change the plugin makes to vLLM, as reversible :class:`~..patching.Patch` es."""
from __future__ import annotations

from ..patching import Patch

__all__ = ["plugin_loader_patch", "sampler_patch"]


def plugin_loader_patch(module: str, loader_name: str, cache_name: str, cls, why: str) -> Patch:
    """Makes vLLM's loader of plugin logits processors, ``module.<loader_name>`` (which feeds the
    admission checks and the runner), also return ``cls``; clears its cached result
    ``module.<cache_name>`` when applied and reverted. The V1 runner's and the V2 runner's loaders
    follow this pattern under different names.

    Why the private loader is wrapped, not the ``vllm.logits_processors`` entry-point group used: vLLM
    loads that group whenever the package is installed, with no off switch and no version check; a
    processor registered there would accept EAD requests in a process where the sampler is not
    installed (``EAD_VLLM_DISABLE=1``, an unsupported vLLM) and they would run at temperature 1.0
    without an error. Added here, processor and sampler go in together, or the refusal goes in."""

    def make(orig):
        def load_with_ead():
            classes = orig()
            return classes if cls in classes else list(classes) + [cls]

        load_with_ead.__name__ = loader_name
        load_with_ead._ead_adds = cls
        return load_with_ead

    return _CacheClearingPatch(name=f"{module}.{loader_name} + {cls.__name__}", module=module, attr=loader_name,
                               make=make, why=why, cache_name=cache_name)


def sampler_patch(module: str, cls, why: str) -> Patch:
    """Rebinds ``Sampler`` in vLLM's sampler module and in every imported vLLM module bound to it
    (the model runner binds the name at import)."""
    return Patch(name=f"{module}.Sampler -> {cls.__name__}", module=module, attr="Sampler", make=lambda _: cls,
                 why=why)


class _CacheClearingPatch(Patch):
    def __init__(self, cache_name: str, **kw):
        super().__init__(**kw)
        self.cache_name = cache_name

    def _clear(self) -> None:
        import sys

        cache = getattr(sys.modules.get(self.module), self.cache_name, None)
        if cache is not None and hasattr(cache, "cache_clear"):
            cache.cache_clear()

    def apply(self) -> Patch:
        super().apply()
        self._clear()
        return self

    def revert(self) -> None:
        super().revert()
        self._clear()
