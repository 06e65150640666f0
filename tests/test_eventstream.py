"""The AWS event-stream decoder: botocore's EventStreamBuffer is the oracle; splits never matter;
corruption and truncation are Failure values, never exceptions."""

from __future__ import annotations

import struct
import uuid
import zlib

from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import eventstream as es
from interlingua.core.errors import ErrorKind, LlmError

from .helpers import split_at


def _value(type_: int, v: object) -> bytes:
    """An independent header-value encoder (AWS "Event stream encoding"), for building test frames."""
    match type_:
        case 0 | 1:
            return b""
        case 2 | 3 | 4 | 5 | 8:
            return struct.pack({2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}[type_], v)
        case 6:
            return struct.pack(">H", len(v)) + v  # type: ignore[arg-type]
        case 7:
            raw = v.encode()  # type: ignore[union-attr]
            return struct.pack(">H", len(raw)) + raw
        case _:
            return v  # type: ignore[return-value]


def frame(headers: list[tuple[str, int, object]], payload: bytes) -> bytes:
    hb = b"".join(bytes([len(n.encode())]) + n.encode() + bytes([t]) + _value(t, v) for n, t, v in headers)
    prelude = struct.pack(">II", 16 + len(hb) + len(payload), len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + hb + payload
    return body + struct.pack(">I", zlib.crc32(body))


_INT_RANGES = {2: 2**7, 3: 2**15, 4: 2**31, 5: 2**63, 8: 2**63}
_header = st.one_of(
    st.tuples(st.just(0), st.none()),
    st.tuples(st.just(1), st.none()),
    *(st.tuples(st.just(t), st.integers(-r, r - 1)) for t, r in _INT_RANGES.items()),
    st.tuples(st.just(6), st.binary(max_size=20)),
    st.tuples(st.just(7), st.text(max_size=20)),
    st.tuples(st.just(9), st.binary(min_size=16, max_size=16)),
)
_headers = st.dictionaries(st.text(min_size=1, max_size=10), _header, max_size=6).map(
    lambda d: [(n, t, v) for n, (t, v) in d.items()]
)
_frames = st.lists(st.tuples(_headers, st.binary(max_size=200)).map(lambda hp: frame(*hp)), min_size=1, max_size=5)


def _plain(v: object) -> object:
    """Our typed header values in botocore's plain representation."""
    if isinstance(v, es.Timestamp):
        return v.millis
    if isinstance(v, uuid.UUID):
        return v.bytes
    return v


def _decode(pieces: list[bytes]) -> tuple[list[es.EventMessage | LlmError], LlmError | None]:
    st_, out = es.EventStreamState(), []
    for p in pieces:
        st_, evs = es.feed(st_, p)
        out.extend(evs)
    return out, es.finish(st_)


@settings(max_examples=150, deadline=None)
@given(frames=_frames, cuts=st.lists(st.integers(0, 3000), max_size=12))
def test_split_anywhere_matches_botocore(frames: list[bytes], cuts: list[int]) -> None:
    """Frames cut at any offsets decode to exactly what botocore's EventStreamBuffer decodes."""
    data = b"".join(frames)
    buf = EventStreamBuffer()
    buf.add_data(data)
    theirs = [(m.headers, m.payload) for m in buf]
    ours, end = _decode(split_at(data, cuts))
    assert end is None
    assert [({k: _plain(v) for k, v in m.headers.items()}, m.payload) for m in ours] == theirs  # type: ignore[union-attr]


@settings(max_examples=50, deadline=None)
@given(frames=_frames)
def test_byte_at_a_time(frames: list[bytes]) -> None:
    """Feeding one byte at a time yields the same messages as feeding everything at once."""
    data = b"".join(frames)
    assert _decode([data[i : i + 1] for i in range(len(data))]) == _decode([data])


@settings(max_examples=150, deadline=None)
@given(frames=_frames, where=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_corrupted_byte_is_a_failure(frames: list[bytes], where: int, flip: int) -> None:
    """One changed byte anywhere is caught by a CRC or a length check: a decode error, no exception."""
    data = bytearray(b"".join(frames))
    data[where % len(data)] ^= flip
    out, end = _decode([bytes(data)])
    errors = [e for e in out if isinstance(e, LlmError)] + ([end] if end else [])
    assert errors and errors[0].kind is ErrorKind.DECODE


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=5))
def test_total_on_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    """Arbitrary bytes never raise; whatever is left over is reported at finish."""
    out, end = _decode(split_at(data, cuts))
    assert all(isinstance(e, es.EventMessage | LlmError) for e in out)
    if data and not out:
        assert isinstance(end, LlmError)


def test_truncated_frame_is_reported_at_finish() -> None:
    """A stream cut inside a frame is a decode error naming how much of it arrived."""
    f = frame([(":event-type", 7, "x")], b"{}")
    out, end = _decode([f, f[:-1]])
    assert len(out) == 1 and isinstance(end, LlmError) and "ended inside a frame" in end.message


def test_lengths_are_bounded() -> None:
    """A prelude announcing more than the maximum payload is refused before buffering it."""
    prelude = struct.pack(">II", es.MAX_PAYLOAD_LENGTH + 100, 0)
    prelude += struct.pack(">I", zlib.crc32(prelude))
    out, _ = _decode([prelude])
    assert isinstance(out[0], LlmError) and "exceeds" in out[0].message
    small = struct.pack(">II", 15, 0)
    out, _ = _decode([small + struct.pack(">I", zlib.crc32(small))])
    assert isinstance(out[0], LlmError) and "too small" in out[0].message


def test_bad_headers_are_failures() -> None:
    """Duplicate names, unknown value types and invalid UTF-8 are decode errors."""
    dup = frame([("a", 7, "x"), ("a", 7, "y")], b"")
    unknown = frame([("a", 42, b"")], b"")
    hb = b"\x01\xff\x07\x00\x00"  # a one-byte header name that is not UTF-8
    prelude = struct.pack(">II", 16 + len(hb), len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + hb
    bad_utf8 = body + struct.pack(">I", zlib.crc32(body))
    for data, why in ((dup, "duplicate"), (unknown, "unknown type"), (bad_utf8, "UTF-8")):
        out, _ = _decode([data])
        assert isinstance(out[-1], LlmError) and why in out[-1].message


def test_nothing_after_a_failure() -> None:
    """Once a frame is bad, later (even valid) input is ignored and finish reports the failure."""
    good = frame([(":event-type", 7, "x")], b"{}")
    bad = bytearray(good)
    bad[-1] ^= 1
    out, end = _decode([bytes(bad), good])
    assert len(out) == 1 and isinstance(out[0], LlmError) and isinstance(end, LlmError)


@settings(max_examples=100, deadline=None)
@given(frames=_frames, where=st.one_of(st.none(), st.integers(min_value=0)), flip=st.integers(1, 255))
def test_one_frame_per_read_matches_byte_at_a_time(frames: list[bytes], where: int | None, flip: int) -> None:
    """One whole frame per read (the fast path) decodes as a byte-at-a-time feed does, corrupted or not."""
    if where is not None:
        i = where % len(frames)
        bad = bytearray(frames[i])
        bad[where % len(bad)] ^= flip
        frames = [*frames[:i], bytes(bad), *frames[i + 1 :]]
    data = b"".join(frames)

    def seen(pieces: list[bytes]) -> list[object]:  # an error's raw excerpt is what was buffered: split-dependent
        out, end = _decode(pieces)
        return [(m.kind, m.message) if isinstance(m, LlmError) else m for m in [*out, end]]

    assert seen(frames) == seen([data[i : i + 1] for i in range(len(data))])
