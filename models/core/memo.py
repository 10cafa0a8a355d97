"""A bounded memo for values derived from the rules alone (deadline instants, working-day counts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


def memoised(cache: dict[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    """``cache[key]``, made on first use. Keyed by instants; the cache is emptied when it holds 100,000 of them,
    which bounds a process that runs for years."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= 100_000:
            cache.clear()
        value = cache[key] = make()
    return value
