"""The shared NDJSON line splitter: chunk-split invariance, CRLF, UTF-8 splits, totality."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import ndjson

from .helpers import split_at

BODY = '{"a":"héllo 🌍"}\n{"b":2}\r\n\n  \n{"c":"\\n"}\n'.encode()
LINES = ('{"a":"héllo 🌍"}'.encode(), b'{"b":2}', b'{"c":"\\n"}')


def run(pieces: list[bytes]) -> tuple[bytes, ...]:
    st_, out = ndjson.NdjsonState(), []
    for p in pieces:
        st_, lines = ndjson.feed(st_, p)
        out.extend(lines)
    return (*out, *ndjson.finish(st_))


def test_whole_input() -> None:
    """One chunk gives every non-blank line, CR before LF dropped."""
    assert run([BODY]) == LINES


def test_byte_at_a_time() -> None:
    """Feeding one byte at a time (splitting CRLF and UTF-8 sequences) changes nothing."""
    assert run([BODY[i : i + 1] for i in range(len(BODY))]) == LINES


def test_incomplete_line_waits() -> None:
    """A line without its LF is held back (NEED_DATA), then flushed by finish."""
    st_, lines = ndjson.feed(ndjson.NdjsonState(), b'{"a":1')
    assert lines == ()
    assert ndjson.finish(st_) == (b'{"a":1',)


def test_trailing_line_without_newline() -> None:
    """A last line without a final newline is still returned, once."""
    assert run([b'{"a":1}\n{"b":2}']) == (b'{"a":1}', b'{"b":2}')


def test_bytes_seen_counts_input() -> None:
    """The state counts every byte fed."""
    st_, _ = ndjson.feed(ndjson.NdjsonState(), b"ab\ncd")
    assert st_.bytes_seen == 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(BODY))))
def test_any_split_gives_the_same_lines(cuts: list[int]) -> None:
    """Hypothesis-chosen cut points yield exactly the lines of the whole input."""
    assert run(split_at(BODY, cuts)) == LINES


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), min_size=1), max_size=6),
       st.lists(st.integers(min_value=0, max_value=400)), st.booleans())
def test_generated_lines_survive_any_split(lines: list[str], cuts: list[int], crlf: bool) -> None:
    """Random lines (any Unicode), LF or CRLF endings, any cut points: the non-blank lines come back."""
    sep = b"\r\n" if crlf else b"\n"
    data = b"".join(s.encode() + sep for s in lines)
    expected = tuple(s.encode() for s in lines if s.strip(" \t"))
    assert run(split_at(data, cuts)) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(), st.lists(st.integers(min_value=0, max_value=64)))
def test_total_on_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    """Arbitrary bytes never raise, and any split agrees with the whole."""
    assert run(split_at(data, cuts)) == run([data])
