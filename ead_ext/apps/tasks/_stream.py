"""What every task's ``generate`` does with its endless problem stream."""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, List, Optional, TypeVar

T = TypeVar("T")


def first_n(stream: Iterable[T], n: int, key: Optional[Callable[[T], Hashable]] = None) -> List[T]:
    """The first ``n`` items of ``stream``; with ``key``, skipping items whose key was already taken."""
    out, seen = [], set()
    for item in stream:
        if len(out) >= n:
            break
        if key is not None:
            k = key(item)
            if k in seen:
                continue
            seen.add(k)
        out.append(item)
    return out
