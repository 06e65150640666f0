"""``json.dumps`` without its per-call set-up, byte for byte the same output.

The fakes write every response body and stream event with ``json.dumps``; with ``separators`` or
``ensure_ascii`` given, each call builds a new ``JSONEncoder`` and a new C encoder before encoding
(four Python calls and two object constructions for a 200-byte event). These are the same C
encoder, built once at import. msgspec would be faster still, but its output differs (it never
escapes non-ASCII, and formats some floats differently), and the bytes on the wire must stay what
``json.dumps`` wrote.
"""

from __future__ import annotations

from json.encoder import (  # type: ignore[attr-defined]
    c_encode_basestring,
    c_encode_basestring_ascii,
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any

__all__ = ["compact", "compact_utf8", "dumps", "dumps_sorted"]


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _encoder(key_sep: str, item_sep: str, ensure_ascii: bool, *, sort_keys: bool = False, default: Any = _default) -> Any:
    esc = (c_encode_basestring_ascii or encode_basestring_ascii) if ensure_ascii else (c_encode_basestring or encode_basestring)
    # No circular-reference markers: the fakes encode trees they build themselves.
    return c_make_encoder(None, default, esc, None, key_sep, item_sep, sort_keys, False, True)


_COMPACT = _encoder(":", ",", True)
_COMPACT_UTF8 = _encoder(":", ",", False)
_DEFAULT = _encoder(": ", ", ", True)
_SORTED = _encoder(": ", ", ", True, sort_keys=True, default=str)


def compact(obj: Any) -> bytes:
    """``json.dumps(obj, separators=(",", ":")).encode()``.

    >>> compact({"a": [1, "é"]})
    b'{"a":[1,"\\\\u00e9"]}'
    """
    return "".join(_COMPACT(obj, 0)).encode()


def compact_utf8(obj: Any) -> bytes:
    """``json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()``.

    >>> compact_utf8({"a": "é"}).decode()
    '{"a":"é"}'
    """
    return "".join(_COMPACT_UTF8(obj, 0)).encode()


def dumps(obj: Any) -> str:
    """``json.dumps(obj)`` (default separators ``", "`` and ``": "``).

    >>> dumps({"a": 1, "b": [True, None]})
    '{"a": 1, "b": [true, null]}'
    """
    return "".join(_DEFAULT(obj, 0))


def dumps_sorted(obj: Any) -> str:
    """``json.dumps(obj, sort_keys=True, default=str)`` (what ``stable_id`` hashes).

    >>> dumps_sorted({"b": 1, "a": b"x"})
    '{"a": "b\\'x\\'", "b": 1}'
    """
    return "".join(_SORTED(obj, 0))
