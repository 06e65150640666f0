"""An incremental Server-Sent Events decoder: bytes in, events out, no I/O (h11's model).

Follows the WHATWG "event stream interpretation": lines end in CRLF, LF or CR; a line starting
with ``:`` is a comment; ``field: value`` strips one leading space; an empty line dispatches the
event; several ``data`` lines join with ``\\n``. Input may be split anywhere — inside a line, a
CRLF pair or a multi-byte UTF-8 character — because lines are cut from bytes before decoding.

>>> st, evs = feed(SseState(), b"event: ping\\ndata: {}\\n\\nda")
>>> evs
(SseEvent(event='ping', data=b'{}', id=None),)
>>> st, evs = feed(st, b"ta: x\\r\\n\\r\\n")
>>> evs
(SseEvent(event='message', data=b'x', id=None),)
"""

from __future__ import annotations

import msgspec

__all__ = ["SseEvent", "SseState", "feed", "finish"]


class SseEvent(msgspec.Struct, frozen=True):
    event: str = "message"
    data: bytes = b""
    id: str | None = None


class SseState(msgspec.Struct, frozen=True):
    buffer: bytes = b""
    """Bytes after the last complete line (a partial line, or a lone trailing CR)."""
    event: str | None = None
    data: tuple[bytes, ...] = ()
    id: str | None = None
    bytes_seen: int = 0


def _lines(buf: bytes) -> tuple[list[bytes], bytes]:
    if b"\r" in buf:
        # A CR at the very end may be the first half of a CRLF split across reads: keep it back.
        hold = b""
        if buf.endswith(b"\r"):
            buf, hold = buf[:-1], b"\r"
        buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, rest = buf.split(b"\n")
        return lines, rest + hold
    *lines, rest = buf.split(b"\n")
    return lines, rest


def feed(st: SseState, chunk: bytes) -> tuple[SseState, tuple[SseEvent, ...]]:
    """Add ``chunk``; return the new state and every event it completed (``()`` means: read more)."""
    buf = st.buffer + chunk if st.buffer else chunk
    if b"\n" not in buf and b"\r" not in buf[:-1]:
        return SseState(buf, st.event, st.data, st.id, st.bytes_seen + len(chunk)), ()
    lines, rest = _lines(buf)
    event, data, last_id = st.event, list(st.data), st.id
    out: list[SseEvent] = []
    for line in lines:
        if not line:
            if data:
                out.append(SseEvent(event or "message", b"\n".join(data), last_id))
            event, data = None, []
            continue
        if line[0] == 0x3A:  # ":" comment / keep-alive
            continue
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\x00" not in value:
            last_id = value.decode("utf-8", "replace")
        # "retry" and unknown fields are ignored, as the spec says.
    return SseState(rest, event, tuple(data), last_id, st.bytes_seen + len(chunk)), tuple(out)


def finish(st: SseState) -> tuple[SseEvent, ...]:
    """End of input: dispatch what is pending.

    The spec discards an event not closed by a blank line; servers that omit the final blank line
    are common, so a pending event is dispatched instead. Whether the *stream* was complete is the
    dialect's call (it knows its terminal event); this only flushes.
    """
    flushed: tuple[SseEvent, ...] = ()
    if st.buffer:
        st, flushed = feed(st, b"\n")
    if st.data:
        return (*flushed, SseEvent(st.event or "message", b"\n".join(st.data), st.id))
    return flushed
