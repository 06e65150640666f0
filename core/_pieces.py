"""An append-only run of pieces with value semantics and O(1) amortised ``push`` (a Go-slice trick).

The stream decoders are pure folds over frozen states, yet a partial line or frame may arrive in
thousands of slices. Re-joining ``buffer + chunk`` on every read is quadratic (a 32 MB line in
4 KiB slices cost 18.6 s of CPU); a tuple of pieces is quadratic too (each ``(*t, x)`` copies).
h11's ``ReceiveBuffer`` keeps one mutable buffer and a scan offset; this is the same idea behind
a value: a :class:`Pieces` is a *view* of the first ``n`` items of a list that only ever grows. A
push onto the newest view appends in place; a push onto an older view (a forked state) copies the
first ``n`` items first, so every view keeps meaning exactly what it meant when it was made.

>>> a = Pieces[bytes]().push(b"ab").push(b"c")
>>> b = a.push(b"d")
>>> c = a.push(b"X")  # a fork: a and b are unchanged
>>> a.join(b""), b.join(b""), c.join(b""), c.size, len(c)
(b'abc', b'abcd', b'abcX', 4, 3)
"""

from __future__ import annotations

from itertools import islice
from typing import Generic, TypeVar

__all__ = ["Pieces"]

T = TypeVar("T", bytes, str)


class Pieces(Generic[T]):
    """The first ``len(self)`` pieces of a shared list; ``size`` is their total length."""

    __slots__ = ("_n", "_store", "size")

    def __init__(self, store: list[T] | None = None, n: int = 0, size: int = 0) -> None:
        self._store: list[T] = store if store is not None else []
        self._n = n
        self.size = size

    def push(self, piece: T) -> Pieces[T]:
        store = self._store
        if self._n == 0:
            store = []
        elif len(store) != self._n:
            store = store[: self._n]  # someone pushed onto this view already: fork
        store.append(piece)
        return Pieces(store, self._n + 1, self.size + len(piece))

    def last(self) -> T:
        """The newest piece (the list must not be empty)."""
        return self._store[self._n - 1]

    def items(self) -> list[T]:
        return self._store[: self._n]

    def join(self, sep: T) -> T:
        if self._n == len(self._store):
            return sep.join(self._store)
        return sep.join(islice(self._store, self._n))

    def join_with(self, tail: T) -> T:
        """The pieces and then ``tail``, in one copy (``join() + tail`` would copy twice)."""
        parts = self._store[: self._n]
        parts.append(tail)
        return tail[:0].join(parts)

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pieces):
            return NotImplemented
        return self._n == other._n and self.size == other.size and self.items() == other.items()

    def __hash__(self) -> int:
        return hash((self._n, self.size))

    def __repr__(self) -> str:
        # never the content: a partial line may hold anything, and states get logged
        return f"Pieces(n={self._n}, size={self.size})"
