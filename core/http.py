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


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive header mapping that keeps the original spelling for sending."""

    __slots__ = ("_items", "_lower")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        # ``type(...) is dict`` first: isinstance against the Mapping ABC costs more than the copy.
        self._items: tuple[tuple[str, str], ...] = (
            items if type(items) is tuple
            else tuple(items.items()) if type(items) is dict or isinstance(items, Mapping)
            else tuple(items)
        )
        # The lower-cased index is built on the first lookup: most response headers are never read
        # (a successful decode looks at none), and building it costs more than the decode itself.
        self._lower: dict[str, str] | None = None

    @property
    def _index(self) -> dict[str, str]:
        index = self._lower
        if index is None:
            index = self._lower = {k.lower(): v for k, v in self._items}
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
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items_raw(self) -> tuple[tuple[str, str], ...]:
        """The pairs in the order and spelling they will be sent."""
        return self._items

    def merged(self, extra: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
        """A copy with ``extra`` added; a header already present is replaced."""
        add = tuple(extra.items()) if isinstance(extra, Mapping) else tuple(extra)
        drop = {k.lower() for k, _ in add}
        return Headers(tuple((k, v) for k, v in self._items if k.lower() not in drop) + add)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._index == other._index
        if isinstance(other, Mapping):
            return self._index == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._index.items())))

    def __repr__(self) -> str:
        shown = {k: ("[redacted]" if k.lower() in SENSITIVE_HEADERS else v) for k, v in self._items}
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
