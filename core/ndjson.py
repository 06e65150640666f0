"""An incremental newline-delimited JSON (NDJSON) line splitter: bytes in, lines out, no I/O.

Ollama streams ``application/x-ndjson``: one JSON object per line, each ended by ``\\n``
(https://github.com/ollama/ollama/blob/main/docs/api/streaming.mdx). This module only cuts
lines; decoding the JSON is the dialect's job. Lines end in LF; a CR before the LF is dropped
(CRLF from proxies), and blank lines are skipped. Input may be split anywhere — inside a line,
between CR and LF, or inside a multi-byte UTF-8 character — because lines are cut from bytes and
the byte ``0x0A`` never occurs inside a UTF-8 sequence.

>>> st, lines = feed(NdjsonState(), b'{"a":1}\\n{"b":')
>>> lines
(b'{"a":1}',)
>>> st, lines = feed(st, b'2}\\r\\n\\n{"c":3}')
>>> lines
(b'{"b":2}',)
>>> finish(st)
(b'{"c":3}',)
"""

from __future__ import annotations

import msgspec

__all__ = ["NdjsonState", "feed", "finish"]

_BLANK = b" \t\r"


class NdjsonState(msgspec.Struct, frozen=True):
    buffer: bytes = b""
    """Bytes after the last LF: the start of a line not yet complete."""
    bytes_seen: int = 0


def feed(st: NdjsonState, chunk: bytes) -> tuple[NdjsonState, tuple[bytes, ...]]:
    """Add ``chunk``; return the new state and every line it completed (``()`` means: read more)."""
    seen = st.bytes_seen + len(chunk)
    if b"\n" not in chunk:
        return NdjsonState(st.buffer + chunk if st.buffer else chunk, seen), ()
    *lines, rest = (st.buffer + chunk if st.buffer else chunk).split(b"\n")
    if len(lines) == 1:  # the usual slice: one whole line
        line = lines[0]
        return NdjsonState(rest, seen), ((line.removesuffix(b"\r"),) if line.strip(_BLANK) else ())
    out = tuple(line.removesuffix(b"\r") for line in lines if line.strip(_BLANK))
    return NdjsonState(rest, seen), out


def finish(st: NdjsonState) -> tuple[bytes, ...]:
    """End of input: the last line if it was not ended by LF (servers may omit the final newline).

    Whether that line is a complete object is for the caller to judge when it decodes it.

    >>> finish(NdjsonState(b"  \\r")), finish(NdjsonState(b'{"x":1}\\r'))
    ((), (b'{"x":1}',))
    """
    if st.buffer.strip(_BLANK):
        return (st.buffer.removesuffix(b"\r"),)
    return ()
