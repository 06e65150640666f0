"""The incremental SSE decoder: spec cases, and chunk-split invariance (h11's ``tr``)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import sse
from interlingua.core.sse import SseEvent, SseState

from .helpers import split_at

CASES: list[tuple[bytes, list[SseEvent]]] = [
    (b"data: a\n\n", [SseEvent("message", b"a")]),
    (b"data:a\r\n\r\n", [SseEvent("message", b"a")]),
    (b"data: a\r\rdata: b\r\r", [SseEvent("message", b"a"), SseEvent("message", b"b")]),
    (b"event: ping\ndata: {}\n\n", [SseEvent("ping", b"{}")]),
    (b": comment\n\ndata: x\n\n", [SseEvent("message", b"x")]),
    (b"data: one\ndata: two\n\n", [SseEvent("message", b"one\ntwo")]),
    (b"data:  two spaces\n\n", [SseEvent("message", b" two spaces")]),
    (b"id: 7\ndata: x\n\n", [SseEvent("message", b"x", "7")]),
    (b"event: a\n\ndata: y\n\n", [SseEvent("message", b"y")]),  # an event with no data is not dispatched
    (b"retry: 10\nunknown: z\ndata: q\n\n", [SseEvent("message", b"q")]),
    ("data: h\u00e9llo \U0001F30D\n\n".encode(), [SseEvent("message", "h\u00e9llo \U0001F30D".encode())]),
]


def decode_all(pieces: list[bytes]) -> list[SseEvent]:
    st_, out = SseState(), []
    for p in pieces:
        st_, evs = sse.feed(st_, p)
        out.extend(evs)
    out.extend(sse.finish(st_))
    return out


def test_spec_cases() -> None:
    """Each spec example decodes to exactly the listed events."""
    for raw, expected in CASES:
        assert decode_all([raw]) == expected, raw


def test_byte_at_a_time() -> None:
    """Feeding one byte at a time (splitting CRLF pairs and UTF-8 characters) changes nothing."""
    for raw, expected in CASES:
        assert decode_all([raw[i : i + 1] for i in range(len(raw))]) == expected, raw


def test_incomplete_input_needs_more_data() -> None:
    """A partial line yields no event (h11's NEED_DATA) until its end arrives."""
    s, evs = sse.feed(SseState(), b"data: par")
    assert evs == ()
    s, evs = sse.feed(s, b"tial\n")
    assert evs == ()
    s, evs = sse.feed(s, b"\n")
    assert evs == (SseEvent("message", b"partial"),)


def test_finish_flushes_an_unterminated_event() -> None:
    """Servers that omit the final blank line still deliver their last event."""
    assert decode_all([b"data: last"]) == [SseEvent("message", b"last")]
    assert decode_all([b"data: last\n"]) == [SseEvent("message", b"last")]
    assert decode_all([b""]) == []


body = b"".join(raw for raw, _ in CASES) + b"data: unterminated"
expected_all = decode_all([body])


def test_concatenation_keeps_last_event_id() -> None:
    """Per the spec the last event id is sticky across later events of the same stream."""
    assert [e.id for e in expected_all[-3:]] == ["7", "7", "7"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(body)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    """Whatever the read boundaries, the events are the same."""
    assert decode_all(split_at(body, cuts)) == expected_all


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_arbitrary_bytes_never_raise(pieces: list[bytes]) -> None:
    """The decoder is total: any bytes give some (possibly empty) list of events."""
    decode_all(pieces)


_line = st.one_of(
    st.builds(lambda v: b"data: " + v, st.binary(max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b)),
    st.sampled_from([b"event: ping", b"event: ", b"event: caf\xc3\xa9", b"data:x", b"data:  two", b"id: 7",
                     b": keep-alive", b"retry: 10", b"data", b"", b"\r", b"data: a\rb"]),
)
_read = st.builds(lambda lines, end: b"".join(x + end for x in lines) + end,
                  st.lists(_line, min_size=1, max_size=3), st.sampled_from([b"\n", b"\r\n"]))


@given(st.lists(_read, max_size=5), st.sampled_from([b"", b"event: held\n", b"id: 5\n\n", b"id: 5\nevent: e\n"]))
def test_whole_event_reads_equal_byte_at_a_time(reads: list[bytes], before: bytes) -> None:
    """Reads of one whole event each (the fast path) give the state and events a byte-at-a-time feed gives."""
    start = sse.feed(SseState(), before)[0]
    fast, slow, got, want = start, start, [], []
    for r in reads:
        fast, evs = sse.feed(fast, r)
        got += evs
        for i in range(len(r)):
            slow, evs = sse.feed(slow, r[i : i + 1])
            want += evs
    assert (fast, got) == (slow, want)
