"""Plain values describing an HTTP exchange. Dialects produce and consume these; only effects send them.

>>> h = Headers({"Authorization": "Bearer sk-1", "Content-Type": "application/json"})
>>> h["authorization"]
'Bearer sk-1'
>>> h
Headers({'Authorization': '[redacted]', 'Content-Type': 'application/json'})
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Protocol

import msgspec

__all__ = ["SENSITIVE_HEADERS", "Headers", "HttpRequest", "HttpResponse"]

# Headers that carry credentials for one provider or another. Their values never reach a repr.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
    }
)


class _Received(Protocol):
    """A case-insensitive multi-mapping of received headers, read in place (aiohttp's
    ``CIMultiDictProxy`` is one): all of its values for a name, and its pairs as received."""

    def getall(self, key: str, default: None, /) -> list[str] | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive header mapping that keeps the original spelling for sending."""

    __slots__ = ("_items", "_lower", "_received")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        # The concrete types first: isinstance against the Mapping ABC costs more than the copy (and a
        # process's first such check walks the ABC's registry), and dialects build a list per request.
        self._items: tuple[tuple[str, str], ...] | None = (
            items if type(items) is tuple
            else tuple(items) if type(items) is list
            else tuple(items.items()) if type(items) is dict or isinstance(items, Mapping)
            else tuple(items)
        )
        # The lower-cased index is built on the first lookup: most response headers are never read
        # (a successful decode looks at none), and building it costs more than the decode itself.
        self._lower: dict[str, str] | None = None
        self._received: _Received | None = None

    @classmethod
    def received(cls, headers: _Received) -> Headers:
        """The headers of a reply, over the transport's own case-insensitive multi-mapping of them,
        without copying it (issue 19: most replies have only a few of their headers read, by name).
        Reads exactly as ``Headers(tuple(headers.items()))`` would — the last of a repeated name
        wins — for the header names HTTP allows (ASCII tokens, whose case-insensitive forms agree)."""
        h = cls.__new__(cls)
        h._items = None
        h._lower = None
        h._received = headers
        return h

    def _pairs(self) -> tuple[tuple[str, str], ...]:
        items = self._items
        if items is None:
            assert self._received is not None
            items = self._items = tuple(self._received.items())
        return items

    @property
    def _index(self) -> dict[str, str]:
        index = self._lower
        if index is None:
            index = self._lower = {k.lower(): v for k, v in self._pairs()}
        return index

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def lowered(self) -> Mapping[str, str]:
        """A read-only view keyed by lower-case name (one look-up per name, no ``.lower()`` per call)."""
        return MappingProxyType(self._index)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._index.get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._pairs())

    def __len__(self) -> int:
        return len(self._pairs())

    def __reduce__(self) -> tuple[type[Headers], tuple[tuple[tuple[str, str], ...]]]:
        return Headers, (self._pairs(),)

    def items_raw(self) -> tuple[tuple[str, str], ...]:
        """The pairs in the order and spelling they will be sent (or were received)."""
        items = self._items
        return items if items is not None else self._pairs()

    def merged(self, extra: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
        """A copy with ``extra`` added; a header already present is replaced."""
        add = tuple(extra.items()) if isinstance(extra, Mapping) else tuple(extra)
        drop = {k.lower() for k, _ in add}
        return Headers(tuple((k, v) for k, v in self._pairs() if k.lower() not in drop) + add)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._index == other._index
        if isinstance(other, Mapping):
            return self._index == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._index.items())))

    def __repr__(self) -> str:
        shown = {k: ("[redacted]" if k.lower() in SENSITIVE_HEADERS else v) for k, v in self._pairs()}
        return f"Headers({shown!r})"


class HttpRequest(msgspec.Struct, frozen=True):
    """What to send: a dialect's whole answer to "how do I ask this provider for this request"."""

    method: str
    url: str
    headers: Headers
    body: bytes = b""

    def __repr__(self) -> str:
        return f"HttpRequest({self.method} {self.url}, headers={self.headers!r}, body={len(self.body)} bytes)"

    __str__ = __repr__


class HttpResponse(msgspec.Struct, frozen=True):
    """What came back. ``received_at`` (unix seconds) is filled in by effects so that pure code can
    turn an HTTP-date ``Retry-After`` into seconds without reading a clock."""

    status: int
    headers: Headers = msgspec.field(default_factory=Headers)
    body: bytes = b""
    received_at: float | None = None

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, headers={self.headers!r}, body={len(self.body)} bytes)"

    __str__ = __repr__
