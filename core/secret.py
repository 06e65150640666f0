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

import hmac
from typing import Any

__all__ = ["Secret", "redact"]

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
    """Replace every occurrence of each secret (and of its well-known masked forms) in ``text``.

    OpenAI echoes part of a wrong key back ("Incorrect API key provided: sk-abc***wxyz"); the
    prefix and suffix it shows are removed as well, so nothing of the key survives.

    >>> redact("bad key sk-abcdef123456 here", Secret("sk-abcdef123456"))
    'bad key ******** here'
    """
    for s in secrets:
        raw = s.reveal() if isinstance(s, Secret) else s
        if not raw or len(raw) < 4:
            continue
        text = text.replace(raw, _MASK)
        if len(raw) >= 12:
            head, tail = raw[:6], raw[-4:]
            # masked echoes look like "<head>***...<tail>" or "<head>...<tail>"
            start = text.find(head)
            while start != -1:
                end = text.find(tail, start + len(head))
                if end != -1 and end - start <= len(raw) + 8:
                    text = text[:start] + _MASK + text[end + len(tail) :]
                start = text.find(head, start + 1)
        text = _redact_cut_prefix(text, raw)
    return text


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
