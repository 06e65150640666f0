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

from ._pieces import Pieces

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SseEvent", "SseState", "feed", "finish", "start"]


DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
"""The longest line or event (data lines together) a decoder holds; a longer one is refused."""


class SseEvent(msgspec.Struct, frozen=True):
    event: str = "message"
    data: bytes = b""
    id: str | None = None


_NONE: Pieces[bytes] = Pieces()


class SseState(msgspec.Struct, frozen=True):
    line: Pieces[bytes] = _NONE
    """The partial line after the last complete one, in the slices it came in (a lone trailing CR
    is kept: it may be the first half of a CRLF split across reads)."""
    event: str | None = None
    data: Pieces[bytes] = _NONE
    """The data lines of the event being read."""
    id: str | None = None
    bytes_seen: int = 0
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    too_long: bool = False
    """A line or event grew past ``max_event_bytes``: the decoder stopped, the caller reports it."""


_START = SseState()


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


def _ends_no_line(st: SseState, chunk: bytes) -> bool:
    # Only the new bytes are scanned: the held ones were scanned when they came and hold no line
    # end (but a held trailing CR ends a line whatever follows it). An empty Pieces is always _NONE.
    if st.line is not _NONE and st.line.last().endswith(b"\r"):
        return False
    return b"\n" not in chunk and chunk.find(b"\r", 0, len(chunk) - 1) < 0


def _too_long(st: SseState, line: Pieces[bytes], data: Pieces[bytes]) -> bool:
    return line.size > st.max_event_bytes or data.size + len(data) > st.max_event_bytes


def start(max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> SseState:
    """A stream's first state, holding events of up to ``max_event_bytes`` (the shared default state
    when it is the default).

    >>> start(1024).max_event_bytes, start() is start()
    (1024, True)
    """
    return _START if max_event_bytes == DEFAULT_MAX_EVENT_BYTES else SseState(max_event_bytes=max_event_bytes)


def feed(st: SseState, chunk: bytes) -> tuple[SseState, tuple[SseEvent, ...]]:
    """Add ``chunk``; return the new state and every event it completed (``()`` means: read more).

    Amortised O(len(chunk)): a partial line is kept as its slices and joined once, when it ends;
    an event's data lines from earlier reads are held as pieces, those of this read in a plain list
    (pushed onto the pieces once, if the event is still open when the read ends). The common read,
    whole events with nothing held, then builds no intermediate values.
    """
    n = len(chunk)
    seen = st.bytes_seen + n
    if st.too_long or not chunk:
        return msgspec.structs.replace(st, bytes_seen=seen), ()
    if st.line is _NONE and st.data is _NONE and n <= st.max_event_bytes:
        # The usual read (issue 19): one whole event, nothing held, ``data: …`` optionally after
        # ``event: …``. Cut here, it gives exactly what the loop below gives (tests/test_sse.py);
        # any other shape — comments, ids, several events, a partial one, lone CRs — goes there.
        body = chunk
        if b"\r" in body:
            body = body.replace(b"\r\n", b"\n")
            if b"\r" in body:
                body = b""
        if body.find(b"\n\n") == len(body) - 2:
            match body.split(b"\n"):
                case [line, b"", b""] if line[:6] == b"data: ":
                    return SseState(_NONE, None, _NONE, st.id, seen, st.max_event_bytes), (
                        SseEvent(st.event or "message", line[6:], st.id),)
                case [head, line, b"", b""] if line[:6] == b"data: " and head[:7] == b"event: ":
                    return SseState(_NONE, None, _NONE, st.id, seen, st.max_event_bytes), (
                        SseEvent(head[7:].decode("utf-8", "replace") or "message", line[6:], st.id),)
    if _ends_no_line(st, chunk):
        held = st.line.push(chunk)
        return SseState(held, st.event, st.data, st.id, seen, st.max_event_bytes, _too_long(st, held, st.data)), ()
    lines, rest = _lines(chunk if st.line is _NONE else st.line.join_with(chunk))
    event, older, last_id = st.event, st.data, st.id
    data: list[bytes] = []  # this read's data lines of the open event
    out: list[SseEvent] = []
    for line in lines:
        if not line:
            if data or older is not _NONE:
                body = b"\n".join(data) if older is _NONE else b"\n".join([*older.items(), *data])
                out.append(SseEvent(event or "message", body, last_id))
                older, data = _NONE, []
            event = None
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
    for value in data:
        older = older.push(value)
    if not rest and older is _NONE:
        return SseState(_NONE, event, _NONE, last_id, seen, st.max_event_bytes, False), tuple(out)
    pending = _NONE.push(rest) if rest else _NONE
    return SseState(pending, event, older, last_id, seen, st.max_event_bytes, _too_long(st, pending, older)), tuple(out)


def finish(st: SseState) -> tuple[SseEvent, ...]:
    """End of input: dispatch what is pending.

    The spec discards an event not closed by a blank line; servers that omit the final blank line
    are common, so a pending event is dispatched instead. Whether the *stream* was complete is the
    dialect's call (it knows its terminal event); this only flushes. A decoder that stopped on a
    too-long event has nothing to flush.
    """
    if st.too_long:
        return ()
    flushed: tuple[SseEvent, ...] = ()
    if st.line:
        st, flushed = feed(st, b"\n")
    if st.data:
        return (*flushed, SseEvent(st.event or "message", st.data.join(b"\n"), st.id))
    return flushed
