"""One named, reversible replacement of a module attribute: the unit every ead-ext patch is made of.

A :class:`Patch` replaces ``module.attr`` with ``make(original)`` and, because callers often bind the
name at import (``from verl.utils.distributed import initialize_global_process_group_ray``), also
rebinds every already-imported module of the same package that holds the original object.
:meth:`Patch.revert` restores all of them. Importing the target module is the patch's job: apply a
patch before the code that binds the name is imported and later imports bind the replacement.
"""
from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, List, Tuple

__all__ = ["Patch"]


@dataclass
class Patch:
    """``module.attr = make(original)``, undone by :meth:`revert`. ``why`` is the failure it fixes."""

    name: str
    module: str
    attr: str
    make: Callable[[Any], Any]
    why: str
    _applied: List[Tuple[Any, Any]] = field(default_factory=list, repr=False)  # (module object, original)

    @property
    def applied(self) -> bool:
        return bool(self._applied)

    def apply(self) -> "Patch":
        if self._applied:
            return self
        mod = importlib.import_module(self.module)
        orig = getattr(mod, self.attr)
        new = self.make(orig)
        try:
            new._ead_patch = self.name
        except (AttributeError, TypeError):  # pragma: no cover - builtins without a __dict__
            pass
        root = self.module.split(".")[0] + "."
        holders = [mod] + [m for n, m in list(sys.modules.items())
                           if m is not None and m is not mod and n.startswith(root)
                           and getattr(m, self.attr, None) is orig]
        for m in holders:
            setattr(m, self.attr, new)
            self._applied.append((m, orig))
        return self

    def revert(self) -> None:
        """Restores the original everywhere the replacement is bound, including modules imported since."""
        if not self._applied:
            return
        mod, orig = self._applied[0]
        new = getattr(mod, self.attr)
        root = self.module.split(".")[0] + "."
        for n, m in list(sys.modules.items()):
            if m is not None and n.startswith(root) and getattr(m, self.attr, None) is new:
                setattr(m, self.attr, orig)
        for m, o in self._applied:
            setattr(m, self.attr, o)
        self._applied.clear()

    @contextmanager
    def state(self, applied: bool):
        """Applied (or reverted) inside the block, back to how it was after: for tests of both sides."""
        was = self.applied
        self.apply() if applied else self.revert()
        try:
            yield self
        finally:
            self.apply() if was else self.revert()
