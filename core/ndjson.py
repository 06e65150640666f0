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

from ._pieces import Pieces
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["NdjsonState", "feed", "finish"]

_BLANK = b" \t\r"
_NONE: Pieces[bytes] = Pieces()


class NdjsonState(msgspec.Struct, frozen=True):
    line: Pieces[bytes] = _NONE
    """Bytes after the last LF, in the slices they came in: the start of a line not yet complete."""
    bytes_seen: int = 0
    max_line_bytes: int = DEFAULT_MAX_EVENT_BYTES
    too_long: bool = False
    """A line grew past ``max_line_bytes``: the splitter stopped, the caller reports it."""


def feed(st: NdjsonState, chunk: bytes) -> tuple[NdjsonState, tuple[bytes, ...]]:
    """Add ``chunk``; return the new state and every line it completed (``()`` means: read more).

    Amortised O(len(chunk)): only the new bytes are scanned, and a partial line is kept as its
    slices and joined once, when its LF arrives.
    """
    seen = st.bytes_seen + len(chunk)
    if st.too_long:
        return msgspec.structs.replace(st, bytes_seen=seen), ()
    if b"\n" not in chunk:
        held = st.line.push(chunk) if chunk else st.line
        return NdjsonState(held, seen, st.max_line_bytes, held.size > st.max_line_bytes), ()
    buf = chunk if st.line is _NONE else st.line.join_with(chunk)  # an empty Pieces is always _NONE
    *lines, rest = buf.split(b"\n")
    pending = _NONE.push(rest) if rest else _NONE
    # no line can be longer than the buffer it came in: only a long buffer needs the per-line check
    too_long = len(buf) > st.max_line_bytes and (
        len(rest) > st.max_line_bytes or any(len(x) > st.max_line_bytes for x in lines))
    new = NdjsonState(pending, seen, st.max_line_bytes, too_long)
    if too_long:
        return new, ()
    if len(lines) == 1:  # the usual slice: one whole line
        line = lines[0]
        return new, ((line.removesuffix(b"\r"),) if line.strip(_BLANK) else ())
    return new, tuple(line.removesuffix(b"\r") for line in lines if line.strip(_BLANK))


def finish(st: NdjsonState) -> tuple[bytes, ...]:
    """End of input: the last line if it was not ended by LF (servers may omit the final newline).

    Whether that line is a complete object is for the caller to judge when it decodes it.

    >>> finish(feed(NdjsonState(), b"  \\r")[0]), finish(feed(NdjsonState(), b'{"x":1}\\r')[0])
    ((), (b'{"x":1}',))
    """
    if st.too_long:
        return ()
    tail = st.line.join(b"")
    if tail.strip(_BLANK):
        return (tail.removesuffix(b"\r"),)
    return ()
