"""An incremental decoder for AWS's binary event stream (``application/vnd.amazon.eventstream``).

Framing, from the AWS docs ("Event stream encoding", Transcribe/S3 Select/Bedrock share it)::

    [total length: u32][headers length: u32][prelude CRC32: u32]
    [headers: headers-length bytes][payload][message CRC32: u32]

All integers are big-endian; the prelude CRC covers the first 8 bytes, the message CRC everything
before it. Each header is ``[name length: u8][name: utf-8][type: u8][value]`` with the value typed:

    0 true, 1 false (no bytes)   2 byte (i8)   3 short (i16)   4 integer (i32)   5 long (i64)
    6 byte array (u16 length + bytes)   7 string (u16 length + utf-8)   8 timestamp (i64 ms)   9 uuid (16 bytes)

Like :mod:`.sse`, input may be split anywhere; a frame is decoded once all its bytes are in. A CRC
mismatch, impossible lengths, a bad header or a frame cut short at :func:`finish` is a ``decode``
:class:`LlmError` value, and the decoder stops there (nothing after a corrupt frame can be trusted).

>>> frame = bytes.fromhex("00000026000000143179d1b0" "0b3a6576656e742d74797065070005" "68656c6c6f"
...                       "7b7d" "e59ed387")
>>> st, out = feed(EventStreamState(), frame[:10])
>>> out
()
>>> st, out = feed(st, frame[10:])
>>> out
(EventMessage(headers={':event-type': 'hello'}, payload=b'{}'),)
>>> finish(st) is None, finish(feed(EventStreamState(), frame[:20])[0]).kind
(True, <ErrorKind.DECODE: 'decode'>)
"""

from __future__ import annotations

import functools
import struct
import uuid
import zlib

import msgspec

from ._pieces import Pieces
from .errors import ErrorKind, LlmError

__all__ = [
    "MAX_HEADERS_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "EventMessage",
    "EventStreamState",
    "HeaderValue",
    "Timestamp",
    "feed",
    "finish",
]

PRELUDE_LENGTH = 12
# The limits botocore enforces (and AWS documents for the format): larger frames are refused
# before their bytes are buffered, so a corrupt length cannot make us hold gigabytes.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024


class Timestamp(msgspec.Struct, frozen=True):
    """A header of type 8: milliseconds since the Unix epoch."""

    millis: int


HeaderValue = bool | int | bytes | str | Timestamp | uuid.UUID


class EventMessage(msgspec.Struct, frozen=True):
    """One decoded frame: its typed headers (``:event-type``, ``:message-type``, …) and payload."""

    headers: dict[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> str | None:
        """A string header's value (``None`` when absent or not a string)."""
        v = self.headers.get(name)
        return v if isinstance(v, str) else None


_NONE: Pieces[bytes] = Pieces()


class EventStreamState(msgspec.Struct, frozen=True):
    pending: Pieces[bytes] = _NONE
    """Bytes after the last complete frame, in the slices they came in."""
    failed: bool = False
    bytes_seen: int = 0
    need: int = PRELUDE_LENGTH
    """How many pending bytes the next step needs (a prelude, then the whole frame): until they are
    in, slices are only kept, never joined or re-scanned (a 24 MiB frame in 4 KiB reads stays linear)."""


_PRELUDE = struct.Struct("!III")
_INTS: dict[int, struct.Struct] = {2: struct.Struct("!b"), 3: struct.Struct("!h"), 4: struct.Struct("!i"), 5: struct.Struct("!q")}


class _Bad(Exception):
    """Internal signal for a malformed frame; never leaves this module."""


def _error(message: str, data: bytes = b"") -> LlmError:
    return LlmError(
        kind=ErrorKind.DECODE,
        message=f"malformed event stream: {message}",
        raw=data[:64].hex() if data else None,
    )


def _take(data: bytes, at: int, n: int) -> tuple[bytes, int]:
    end = at + n
    if end > len(data):
        raise _Bad("a header runs past the end of the headers section")
    return data[at:end], end


def _headers(data: bytes) -> dict[str, HeaderValue]:
    # Bedrock repeats one header block for every event of a type (":event-type" contentBlockDelta,
    # ":content-type", ":message-type"): parse each distinct block once, hand out copies.
    return dict(_parsed_headers(data))


@functools.lru_cache(maxsize=128)
def _parsed_headers(data: bytes) -> tuple[tuple[str, HeaderValue], ...]:
    out: dict[str, HeaderValue] = {}
    at = 0
    while at < len(data):
        raw_len, at = _take(data, at, 1)
        raw_name, at = _take(data, at, raw_len[0])
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad("a header name is not UTF-8") from None
        if name in out:
            raise _Bad(f"duplicate header {name!r}")
        raw_type, at = _take(data, at, 1)
        value: HeaderValue
        match raw_type[0]:
            case 0:
                value = True
            case 1:
                value = False
            case 2 | 3 | 4 | 5 as t:
                s = _INTS[t]
                raw, at = _take(data, at, s.size)
                value = s.unpack(raw)[0]
            case 6 | 7 as t:
                raw, at = _take(data, at, 2)
                raw, at = _take(data, at, int.from_bytes(raw, "big"))
                if t == 6:
                    value = raw
                else:
                    try:
                        value = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise _Bad(f"header {name!r} is not UTF-8") from None
            case 8:
                raw, at = _take(data, at, 8)
                value = Timestamp(_INTS[5].unpack(raw)[0])
            case 9:
                raw, at = _take(data, at, 16)
                value = uuid.UUID(bytes=raw)
            case t:
                raise _Bad(f"header {name!r} has unknown type {t}")
        out[name] = value
    return tuple(out.items())


def _prelude(buf: bytes) -> tuple[int, int]:
    total, headers_len, crc = _PRELUDE.unpack_from(buf)
    if zlib.crc32(buf[:8]) != crc:
        raise _Bad("prelude CRC mismatch")
    if headers_len > MAX_HEADERS_LENGTH:
        raise _Bad(f"headers length {headers_len} exceeds {MAX_HEADERS_LENGTH}")
    payload_len = total - headers_len - PRELUDE_LENGTH - 4
    if payload_len < 0:
        raise _Bad(f"total length {total} is too small for {headers_len} bytes of headers")
    if payload_len > MAX_PAYLOAD_LENGTH:
        raise _Bad(f"payload length {payload_len} exceeds {MAX_PAYLOAD_LENGTH}")
    return total, headers_len


def _message(buf: bytes, at: int, total: int, headers_len: int) -> EventMessage:
    # The CRC is taken over a view: a large frame is copied once, into its payload.
    (crc,) = struct.unpack_from("!I", buf, at + total - 4)
    if zlib.crc32(memoryview(buf)[at : at + total - 4]) != crc:
        raise _Bad("message CRC mismatch")
    start, end = at + PRELUDE_LENGTH, at + PRELUDE_LENGTH + headers_len
    return EventMessage(_headers(buf[start:end]), buf[end : at + total - 4])


def feed(st: EventStreamState, data: bytes) -> tuple[EventStreamState, tuple[EventMessage | LlmError, ...]]:
    """Add ``data``; return the new state and every frame it completed. A bad frame ends the output
    with an :class:`LlmError` and the decoder ignores all later input."""
    if st.failed:
        return st, ()
    n = len(data)
    seen = st.bytes_seen + n
    if st.pending is _NONE and n >= PRELUDE_LENGTH and _PRELUDE.unpack_from(data)[0] == n:
        # The usual read (issue 19): exactly one whole frame and nothing held; the loop below would
        # take the same steps (tests/test_eventstream.py), with its bookkeeping.
        try:
            total, headers_len = _prelude(data)
            return EventStreamState(_NONE, False, seen), (_message(data, 0, total, headers_len),)
        except _Bad as e:
            return EventStreamState(_NONE, True, seen), (_error(str(e), data[:64]),)
    if st.pending.size + n < st.need:
        pending = st.pending.push(data) if data else st.pending
        return EventStreamState(pending, False, seen, st.need), ()
    buf = st.pending.join_with(data) if st.pending else data
    out: list[EventMessage | LlmError] = []
    at, need = 0, PRELUDE_LENGTH
    try:
        while len(buf) - at >= PRELUDE_LENGTH:
            total, headers_len = _prelude(buf[at : at + PRELUDE_LENGTH])
            if len(buf) - at < total:
                need = total
                break
            out.append(_message(buf, at, total, headers_len))
            at += total
    except _Bad as e:
        out.append(_error(str(e), buf[at : at + 64]))
        return EventStreamState(_NONE, True, seen), tuple(out)
    rest = buf[at:]
    return EventStreamState(_NONE.push(rest) if rest else _NONE, False, seen, need), tuple(out)


def finish(st: EventStreamState) -> LlmError | None:
    """End of input: ``None`` if every byte belonged to a complete frame, else the decode error."""
    if st.failed:
        return _error("the stream already failed")
    if st.pending:
        return _error(
            f"the stream ended inside a frame ({st.pending.size} bytes of it received)", st.pending.join(b"")[:64]
        )
    return None
