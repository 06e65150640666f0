"""Stream buffers are linear in the bytes fed and bounded by ``max_event_bytes`` (issue 17)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import DIALECTS, ChatChunk, ErrorKind, LlmError, eventstream, fold_chunks, ndjson, sse
from interlingua.core._pieces import Pieces
from interlingua.core.sse import DEFAULT_MAX_EVENT_BYTES

from .test_eventstream import frame

SLICE = 64 * 1024


def _slices(data: bytes, size: int = SLICE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_default_limit_is_8_mib() -> None:
    """The documented default bound on one line/event."""
    assert DEFAULT_MAX_EVENT_BYTES == 8 * 1024 * 1024
    assert sse.SseState().max_event_bytes == ndjson.NdjsonState().max_line_bytes == DEFAULT_MAX_EVENT_BYTES


def test_pieces_push_appends_in_place_and_forks_keep_their_value() -> None:
    """Pushing onto the newest view shares one list (O(1)); an older view forks without changing."""
    p = Pieces[bytes]()
    views = []
    for i in range(1000):
        p = p.push(bytes([i % 256]))
        views.append(p)
    assert p._store is views[1]._store  # one list for the whole run: no copy per push
    fork = views[9].push(b"!")
    assert views[9].join(b"") == bytes(range(10))
    assert fork.join(b"") == bytes(range(10)) + b"!"
    assert p.join(b"") == bytes(i % 256 for i in range(1000))
    assert repr(fork) == "Pieces(n=11, size=11)"  # never the bytes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=20), st.integers(0, 20), st.binary(max_size=8))
def test_pieces_are_values(pieces: list[bytes], at: int, extra: bytes) -> None:
    """Any view means what it meant when it was made, whatever is pushed later on any view."""
    views = [Pieces[bytes]()]
    for piece in pieces:
        views.append(views[-1].push(piece))
    at = min(at, len(pieces))
    views[at].push(extra)
    views[-1].push(extra)
    for i, v in enumerate(views):
        assert v.join(b"") == b"".join(pieces[:i])
        assert v.size == len(v.join(b"")) and len(v) == i


def test_sse_line_longer_than_the_limit_is_refused() -> None:
    """A line without end stops the decoder once it passes the limit; nothing is dispatched."""
    s = sse.SseState(max_event_bytes=1000)
    s, evs = sse.feed(s, b"data: ok\n\n" + b"data: " + b"x" * 600)
    assert evs == (sse.SseEvent(data=b"ok"),) and not s.too_long
    s, evs = sse.feed(s, b"x" * 600)
    assert s.too_long and evs == ()
    s, evs = sse.feed(s, b"\n\n")
    assert evs == () and sse.finish(s) == ()


def test_sse_event_of_many_data_lines_counts_as_one() -> None:
    """The bound is on the event: many short data lines that add up past it are refused too."""
    s = sse.SseState(max_event_bytes=1000)
    s, _ = sse.feed(s, b"data: 123456789\n" * 99)
    assert not s.too_long
    s, _ = sse.feed(s, b"data: 123456789\n" * 2)
    assert s.too_long


def test_ndjson_line_longer_than_the_limit_is_refused() -> None:
    """An NDJSON line past the limit stops the splitter, whether it ends in this slice or not."""
    s, lines = ndjson.feed(ndjson.NdjsonState(max_line_bytes=100), b"{}\n" + b" " * 101)
    assert s.too_long and lines == ()
    s, lines = ndjson.feed(ndjson.NdjsonState(max_line_bytes=100), b"{}\n" + b" " * 99 + b"\n")
    assert not s.too_long and lines == (b"{}",)
    assert ndjson.finish(ndjson.feed(ndjson.NdjsonState(max_line_bytes=10), b"x" * 11)[0]) == ()


def test_eventstream_large_frame_in_small_slices() -> None:
    """A 2 MiB Bedrock frame fed in 4 KiB reads decodes once, to the same message."""
    payload = b"{" + b"x" * (2 * 1024 * 1024) + b"}"
    body = frame([(":event-type", 7, "chunk")], payload)
    st_ = eventstream.EventStreamState()
    out: list[eventstream.EventMessage | LlmError] = []
    for piece in _slices(body, 4096):
        st_, got = eventstream.feed(st_, piece)
        out.extend(got)
    assert [m.payload for m in out if isinstance(m, eventstream.EventMessage)] == [payload]
    assert eventstream.finish(st_) is None


def _stream_errors(provider: str, body: bytes) -> list[LlmError]:
    dialect = DIALECTS[provider]
    state = dialect.stream_start()
    errors: list[LlmError] = []
    for piece in _slices(body):
        state, events = dialect.stream_feed(state, piece)
        errors.extend(e for e in events if isinstance(e, LlmError))
    return errors


def test_every_text_dialect_refuses_an_endless_line() -> None:
    """OpenAI, Anthropic, Gemini (SSE) and Ollama (NDJSON): a 9 MiB line is one streaming error."""
    big = b"x" * (DEFAULT_MAX_EVENT_BYTES + 1024 * 1024)
    for provider, body in (
        ("openai", b"data: " + big),
        ("anthropic", b"event: content_block_delta\ndata: " + big),
        ("gemini", b"data: " + big),
        ("ollama", big),
    ):
        errors = _stream_errors(provider, body)
        assert len(errors) == 1, provider
        assert errors[0].kind is ErrorKind.STREAMING and "max_event_bytes" in errors[0].message, provider


def test_large_anthropic_tool_input_in_tiny_fragments() -> None:
    """A 400 KB tool input streamed as 8-byte input_json_delta fragments folds to the same JSON."""
    value = {"text": "y" * 400_000}
    text = json.dumps(value)
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "input_json_delta", "partial_json": text[i : i + 8]}} for i in range(0, len(text), 8)),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    ]
    body = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in events)
    dialect = DIALECTS["anthropic"]
    state, chunks = dialect.stream_start(), []
    for piece in _slices(body, 4096):
        state, got = dialect.stream_feed(state, piece)
        chunks.extend(c for c in got if isinstance(c, ChatChunk))
    end = dialect.stream_finish(state).unwrap()
    response = fold_chunks([*chunks, *end], "anthropic")
    assert json.loads(response.message.tool_calls[0].arguments) == value


# -- the limit is the caller's to raise (LlmConfig.max_event_bytes) ---------------------------------------

_BIG_TEXT = "y" * 3000


def _big_event_bodies() -> dict[str, bytes]:
    """A whole valid stream per text dialect in which one event carries a 3000-character text."""
    oa = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    openai = b"".join(b"data: " + json.dumps({**oa, "choices": c}).encode() + b"\n\n" for c in (
        [{"index": 0, "delta": {"role": "assistant", "content": _BIG_TEXT}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "stop"}])) + b"data: [DONE]\n\n"
    gemini = b"data: " + json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": _BIG_TEXT}]},
                                                     "finishReason": "STOP"}], "modelVersion": "g"}).encode() + b"\r\n\r\n"
    ollama = b"".join(json.dumps(x).encode() + b"\n" for x in (
        {"model": "l", "message": {"role": "assistant", "content": _BIG_TEXT}, "done": False},
        {"model": "l", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
         "prompt_eval_count": 1, "eval_count": 1}))
    anthropic = b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in (
        {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": _BIG_TEXT}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
        {"type": "message_stop"}))
    return {"openai": openai, "gemini": gemini, "ollama": ollama, "anthropic": anthropic}


def test_the_event_limit_is_a_parameter_of_every_text_dialect() -> None:
    """``stream_start(max_event_bytes=n)`` (and ``decode_stream(..., max_event_bytes=n)``): an event
    longer than ``n`` is one streaming error naming ``n``, split anywhere; the same stream under a
    larger limit folds to its text."""
    from interlingua.core.api import decode_stream

    for provider, body in _big_event_bodies().items():
        small = decode_stream(provider, _slices(body, 700), max_event_bytes=2048)
        assert small.failure().kind is ErrorKind.STREAMING, provider
        assert "max_event_bytes (2048 bytes)" in small.failure().message, provider
        ok = decode_stream(provider, _slices(body, 700), max_event_bytes=4096)
        assert ok.unwrap().text == _BIG_TEXT, provider
        assert decode_stream(provider, body).unwrap().text == _BIG_TEXT, provider  # the 8 MiB default
    assert DIALECTS["bedrock"].stream_start(max_event_bytes=10) == DIALECTS["bedrock"].stream_start()  # its own frame limits
    assert DIALECTS["openai_responses"].stream_start(max_event_bytes=10).sse.max_event_bytes == 10


async def test_the_client_takes_its_event_limit_from_the_config() -> None:
    """A 9 MiB event (Gemini's inline images are this large) is a streaming error under the default
    limit and streams whole with ``LlmConfig(max_event_bytes=16 MiB)``."""
    from collections.abc import AsyncIterator

    from interlingua.core import Headers, HttpResponse
    from interlingua.effects import Client, LlmConfig

    text = "z" * (DEFAULT_MAX_EVENT_BYTES + 1024 * 1024)
    body = b"data: " + json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                                   "finishReason": "STOP"}]}).encode() + b"\r\n\r\n"

    class Canned:
        async def send(self, request: object, *, timeouts: object, max_bytes: int) -> object:
            raise AssertionError("a stream only")

        async def stream(self, request: object, *, timeouts: object, max_bytes: int) -> AsyncIterator[object]:
            yield HttpResponse(200, Headers({"content-type": "text/event-stream"}), b"")
            for piece in _slices(body, 1024 * 1024):
                yield piece

        async def close(self) -> None:
            pass

    for limit, whole in ((None, False), (16 * 1024 * 1024, True)):
        cfg = LlmConfig(retry_enabled=False, **({"max_event_bytes": limit} if limit else {}),
                        max_response_bytes=64 * 1024 * 1024).with_provider("gemini", api_key="k")
        async with Client(cfg, transport=Canned()) as client:  # type: ignore[arg-type]
            got = await client.stream_response("gemini:gemini-2.5-flash", "draw")
        if whole:
            assert got.unwrap().text == text
        else:
            assert got.failure().kind is ErrorKind.STREAMING and "max_event_bytes" in got.failure().message
