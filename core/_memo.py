"""One bounded-memo rule for every per-process memo in interlingua (issue 19's hot-path caches).

A memo maps a key that recurs on every request (a model string, a config's id, a request body) to
what a pure function made of it. The same few keys recur, so the bound is simple: when the memo is
full it is cleared and refills with the keys in use — no LRU bookkeeping on the hit path, which
stays an inline ``dict.get`` at each call site.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, bound: int = 256) -> V:
    """Store ``value`` under ``key`` in ``memo`` (cleared first when it holds ``bound`` entries) and
    return it.

    >>> m: dict[str, int] = {"a": 1, "b": 2}
    >>> remember(m, "c", 3, bound=2), m
    (3, {'c': 3})
    """
    if len(memo) >= bound:
        memo.clear()
    memo[key] = value
    return value
