"""``Success(value)`` as the hot paths build it (issue 19).

``returns``' containers are frozen slots objects whose ``__init__`` stores ``_inner_value`` through two
Python-level frames and ``object.__setattr__``, which first walks ``Success``'s 25-class MRO. :func:`ok`
stores it through the slot's own setter: the same object (type, value, equality, hash, pickling), for
about half the cost. Used where a result is built per request or per chunk; anywhere else ``Success``
reads better.
"""

from __future__ import annotations

from typing import TypeVar

from returns.primitives.container import BaseContainer
from returns.result import Success

__all__ = ["ok"]

T = TypeVar("T")

# ``ok``'s two steps, for a loop that builds one per item without a Python call (the client's stream loop)
_new = object.__new__
_set_inner = BaseContainer.__dict__["_inner_value"].__set__


def ok(value: T) -> Success[T]:
    """``Success(value)``.

    >>> ok(3) == Success(3), type(ok(3)) is Success, ok("a").unwrap()
    (True, True, 'a')
    """
    s: Success[T] = _new(Success)
    _set_inner(s, value)
    return s
