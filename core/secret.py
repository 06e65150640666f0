"""A wrapper that keeps an API key out of every repr, str, log line and error message.

>>> key = Secret("sk-live-123")
>>> key
Secret('********')
>>> f"{key}"
'********'
>>> key.reveal()
'sk-live-123'
"""

from __future__ import annotations

import functools
import hmac
import re
from typing import Any
from urllib.parse import quote

import msgspec

from .errors import LlmError

__all__ = ["Secret", "redact", "redact_error"]

_MASK = "********"


class Secret:
    """An opaque credential. Only :meth:`reveal` returns the value, and only dialects call it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret() takes a str")
        # A key read from a file or a secret mount often ends in a newline: never part of a key.
        self._value = value.rstrip("\r\n")

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> Any:
        # Pickling a live key into a cache or a multiprocessing queue is a leak waiting to happen.
        raise TypeError("Secret values cannot be pickled")


def redact(text: str, *secrets: Secret | str | None) -> str:
    """Replace every echo of each secret in ``text`` with ``********``: whole or in part, plain or escaped.

    What counts as an echo (a server, proxy or error page may send any of them):

    * the key itself, with any of its characters written as a JSON escape (``\\/``, ``\\u0073``)
      or URL-encoded (``%2F``, ``+`` for a space), in any mix;
    * a masked form: a run of ``*``/``•``/``.``/``…`` next to the key's first characters or its last
      ones (OpenAI prints ``sk-************7890``); the visible head and tail go with the mask;
    * any piece of the key of ten characters or more (an excerpt cut off at any point), also in
      its JSON-slash, URL-encoded and ``\\u``-escaped forms; and a cut-off head of six or more
      characters just before the end of the text or an ellipsis.

    >>> redact("bad key sk-abcdef123456 here", Secret("sk-abcdef123456"))
    'bad key ******** here'
    >>> redact("Incorrect API key provided: sk-************3456.", Secret("sk-abcdef123456"))
    'Incorrect API key provided: ********.'
    >>> redact('{"key": "sk\\\\/abc\\\\u0064ef123456"}', Secret("sk/abcdef123456"))
    '{"key": "********"}'
    """
    for s in secrets:
        raw = s.reveal() if isinstance(s, Secret) else s
        if not raw or len(raw) < 4:
            continue
        text = _spans_to_mask(text, _echo_spans(text, raw))
        if len(raw) >= 8:
            for form in _forms(raw):
                width = 6 if form.startswith("\\u") else 1  # characters of the form per key character
                text = _redact_masked(text, form, width)
                text = _redact_pieces(text, form, _PIECE * width)
        text = _redact_cut_prefix(text, raw)
    return text


_PIECE = 10
"""The shortest piece of a key that is masked wherever it appears (shorter ones are too common)."""
_MASK_RUN = re.compile(r"[*•·]{3,}|\.{3,}|…+")


_HEX = frozenset("0123456789abcdefABCDEF")


def _char_at(text: str, i: int, c: str) -> int:
    """The end of one spelling of ``c`` at ``text[i]`` (literal, JSON ``\\uXXXX`` or ``\\/``, URL
    ``%XX`` or ``+``), or -1."""
    t = text[i] if i < len(text) else ""
    if t == c:
        return i + 1
    if t == "\\":
        if text[i + 1 : i + 2] == "u" and text[i + 2 : i + 6].lower() == f"{ord(c):04x}":
            return i + 6
        if c == "/" and text[i + 1 : i + 2] == "/":
            return i + 2
    elif t == "%":
        q = quote(c, safe="")
        if q.startswith("%") and text[i : i + len(q)].upper() == q.upper():
            return i + len(q)
    elif t == "+" and c == " ":
        return i + 1
    return -1


def _echo_spans(text: str, raw: str) -> list[tuple[int, int]]:
    """Every whole echo of ``raw`` in ``text``, each character in any of its spellings, in any mix.

    A plain scan (no regex: a pattern with per-character alternatives is slow on some inputs); it
    starts only where the first character can begin, and is linear in practice.
    """
    spans: list[tuple[int, int]] = []
    starts = {raw[0], "\\", "%", "+"}
    i = 0
    while i < len(text):
        if text[i] in starts:
            at = i
            for c in raw:
                at = _char_at(text, at, c)
                if at < 0:
                    break
            if at >= 0:
                spans.append((i, at))
                i = at
                continue
        i += 1
    return spans


@functools.lru_cache(maxsize=64)
def _forms(raw: str) -> tuple[str, ...]:
    # The key as an echo may spell it: plain, JSON with "\/", URL-encoded, every character \u-escaped.
    forms = [raw, raw.replace("/", "\\/"), quote(raw, safe=""), "".join(f"\\u{ord(c):04x}" for c in raw)]
    return tuple(dict.fromkeys(forms))


def _spans_to_mask(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    spans.sort()
    merged = [list(spans[0])]
    for a, b in spans[1:]:
        if a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, at = [], 0
    for a, b in merged:
        out.append(text[at:a])
        out.append(_MASK)
        at = b
    out.append(text[at:])
    return "".join(out)


def _redact_pieces(text: str, form: str, size: int) -> str:
    """Mask every piece of ``form`` at least ``size`` long that appears in ``text`` (merged spans)."""
    if len(form) < size or size <= 0:
        return text
    spans: list[tuple[int, int]] = []
    for start in range(len(form) - size + 1):
        piece = form[start : start + size]
        pos = text.find(piece)
        while pos != -1:
            spans.append((pos, pos + size))
            pos = text.find(piece, pos + 1)
    return _spans_to_mask(text, spans)


def _redact_masked(text: str, form: str, width: int) -> str:
    """Mask ``<head of key><mask run><tail of key>``: a head of three or more characters, or a tail
    of four or more, next to a run of mask characters marks the run as an echo of this key."""
    spans: list[tuple[int, int]] = []
    for m in _MASK_RUN.finditer(text):
        a, b = m.span()
        head = next((k for k in range(min(len(form) - 1, a), 0, -1) if text[a - k : a] == form[:k]), 0)
        tail = next((j for j in range(min(len(form) - 1, len(text) - b), 0, -1) if text[b : b + j] == form[-j:]), 0)
        if head >= 3 * max(width, 1) or tail >= 4 * max(width, 1):
            spans.append((a - head, b + tail))
    return _spans_to_mask(text, spans)


def redact_error(err: LlmError, *secrets: Secret | str | None) -> LlmError:
    """``err`` with every secret's echo removed from its message, raw excerpt and kept headers —
    the one redaction every error goes through before a caller, an event or a log line sees it.

    >>> from interlingua.core.errors import ErrorKind
    >>> e = LlmError(kind=ErrorKind.AUTHENTICATION, message="bad key sk-abcdef123456",
    ...              headers={"x-request-id": "sk-abcdef123456"})
    >>> r = redact_error(e, Secret("sk-abcdef123456"))
    >>> r.message, r.headers
    ('bad key ********', {'x-request-id': '********'})
    """
    live = [s for s in secrets if s]
    if not live:
        return err
    message = redact(err.message, *live)
    raw = redact(err.raw, *live) if err.raw else err.raw
    headers = {k: redact(v, *live) for k, v in err.headers.items()} if err.headers else err.headers
    if message == err.message and raw == err.raw and headers == err.headers:
        return err
    return msgspec.structs.replace(err, message=message, raw=raw, headers=headers)


_CUT_MARKERS = ("…", "...")
_MIN_PREFIX = 6  # shorter fragments ("sk-pro") are shared by every key of a provider


def _redact_cut_prefix(text: str, raw: str) -> str:
    """Mask the start of a key that a length limit cut off (an excerpt ends mid-key).

    >>> _redact_cut_prefix("key sk-abcdef1… [40 more chars]", "sk-abcdef123456")
    'key ********… [40 more chars]'
    >>> _redact_cut_prefix("Incorrect API key provided: sk-abcdef1", "sk-abcdef123456")
    'Incorrect API key provided: ********'
    """
    ends = [len(text)] + [i for m in _CUT_MARKERS if (i := text.find(m)) != -1]
    for end in sorted(set(ends), reverse=True):
        for k in range(min(len(raw) - 1, end), _MIN_PREFIX - 1, -1):
            if text[end - k : end] == raw[:k]:
                text = text[: end - k] + _MASK + text[end:]
                break
    return text
