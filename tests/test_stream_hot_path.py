"""The stream loop's fast paths (issue 19) hand out exactly what the plain code would."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Success

from interlingua.core import ChatChunk
from interlingua.core import anthropic as anthropic_dialect
from interlingua.core import gemini as gemini_dialect
from interlingua.core import openai as openai_dialect
from interlingua.core.anthropic import ANTHROPIC
from interlingua.core.bedrock import BEDROCK
from interlingua.core.fold import fold_chunks
from interlingua.core.gemini import GEMINI
from interlingua.core.ollama import OLLAMA
from interlingua.core.openai import OPENAI
from interlingua.core.openai_responses import OPENAI_RESPONSES
from interlingua.effects import Client
from interlingua.effects.observe import CallInfo, CallTrace
from interlingua.fakes import FakeServer
from interlingua.fakes.bedrock import encode_frame

from .helpers import config_for
from .resilience_support import MODELS as SAMPLES
from .resilience_support import warm_fake
from .strategies import text

MODELS = sorted(SAMPLES.values())


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async for server in warm_fake():
        yield server


class _Chunks(CallTrace):
    __slots__ = ("seen",)

    def __init__(self, seen: list[ChatChunk]) -> None:
        self.seen = seen

    def chunk(self, chunk: ChatChunk) -> None:
        self.seen.append(chunk)


class _Observer:
    def __init__(self) -> None:
        self.seen: list[ChatChunk] = []

    def call_started(self, info: CallInfo) -> CallTrace:
        return _Chunks(self.seen)


@pytest.mark.parametrize("model", MODELS)
async def test_an_observer_sees_every_chunk_the_caller_gets(fake: FakeServer, model: str) -> None:
    """Skipping the no-op chunk hook never skips an observer that overrides it: same chunks, same order."""
    obs = _Observer()
    async with Client(config_for(fake), observer=obs) as client:
        items = [i async for i in client.stream(model, "Tell me a story about a lighthouse keeper")]
    chunks = [i.unwrap() for i in items]
    assert len(chunks) > 3 and obs.seen == chunks
    assert all(a is b for a, b in zip(obs.seen, chunks, strict=True))


@pytest.mark.parametrize("model", MODELS)
async def test_stream_items_are_ordinary_successes(fake: FakeServer, model: str) -> None:
    """Items built without Success.__init__ are real Success values: type, equality, repr, map, fold."""
    async with Client(config_for(fake)) as client:
        items = [i async for i in client.stream(model, "Tell me a story")]
        whole = await client.chat(model, "Tell me a story")
    assert items and all(type(i) is Success for i in items)
    for i in items:
        c = i.unwrap()
        assert i == Success(c) and repr(i) == repr(Success(c))
        assert i.map(lambda ch: ch.text) == Success(c.text)
    folded = fold_chunks([i.unwrap() for i in items], model.split(":")[0])
    assert folded.text == whole.unwrap().text


# -- the dialects' fast paths equal their general translation -------------------------------------

_maybe_text = st.one_of(st.none(), st.just(""), text)
_delta = st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["assistant", None]),
    "content": _maybe_text,
    "refusal": _maybe_text,
    "reasoning_content": _maybe_text,
    "reasoning": _maybe_text,
    "tool_calls": st.one_of(st.none(), st.just([]), st.just([{"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}])),
})
_choice = st.fixed_dictionaries({"index": st.just(0), "delta": st.one_of(st.none(), _delta)}, optional={
    "finish_reason": st.one_of(st.none(), st.sampled_from(["stop", "length", "tool_calls", "weird"])),
    "content_filter_results": st.one_of(st.none(), st.just({}), st.just({"hate": {"filtered": False}})),
    "logprobs": st.none(),
})
_completion_chunk = st.fixed_dictionaries(
    {"id": st.one_of(st.none(), st.just("chatcmpl-1")), "object": st.just("chat.completion.chunk"),
     "created": st.one_of(st.none(), st.integers(0, 2**40)), "model": st.one_of(st.none(), st.just("gpt-4o-mini")),
     "choices": st.one_of(st.just([]), st.lists(_choice, min_size=1, max_size=2))},
    optional={"usage": st.one_of(st.none(), st.just({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}))},
)


@given(st.lists(_completion_chunk, min_size=1, max_size=4), st.booleans())
def test_openai_stream_fast_path_equals_the_general_chunk(events: list[dict[str, object]], reasoning_in: bool) -> None:
    """A content delta built on the fast path equals what openai._chunk builds from the same event."""
    dialect = dataclasses.replace(OPENAI, reasoning_in_completion=reasoning_in)
    wire = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    _, got = dialect.stream_feed(dialect.stream_start(), wire)
    want = tuple(openai_dialect._chunk(openai_dialect._COMPLETION.decode(json.dumps(e)), reasoning_in) for e in events)
    assert got == want


_anthropic_delta = st.one_of(
    st.fixed_dictionaries({"type": st.just("text_delta")}, optional={"text": _maybe_text}),
    st.fixed_dictionaries({"type": st.sampled_from(["thinking_delta", "signature_delta", "citations_delta"]),
                           "thinking": _maybe_text, "signature": _maybe_text}),
)


@given(st.lists(_anthropic_delta, max_size=5))
def test_anthropic_text_delta_fast_path_equals_block_delta(deltas: list[dict[str, object]]) -> None:
    """content_block_delta events give the chunks anthropic._block_delta gives, in order, none dropped."""
    wire = b"".join(
        b"event: content_block_delta\ndata: "
        + json.dumps({"type": "content_block_delta", "index": 0, "delta": d}).encode() + b"\n\n"
        for d in deltas
    )
    _, got = ANTHROPIC.stream_feed(ANTHROPIC.stream_start(), wire)
    want = tuple(
        c for d in deltas
        if (c := anthropic_dialect._block_delta(0, msgspec.convert(d, anthropic_dialect._RDelta), {})) is not None
    )
    assert got == want


_gemini_candidate = st.fixed_dictionaries(
    {"content": st.just({"role": "model", "parts": [{"text": "lorem "}]}), "index": st.just(0)},
    optional={
        "finishReason": st.one_of(st.none(), st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "NEW_ONE"])),
        "finishMessage": st.one_of(st.none(), st.just(""), text),
        "safetyRatings": st.one_of(st.none(), st.just([]),
                                   st.just([{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}])),
    },
)


@given(_gemini_candidate)
def test_gemini_mid_stream_shortcut_equals_outcome(candidate: dict[str, object]) -> None:
    """A one-text-part delta's finish and metadata are what gemini._outcome says, shortcut or not."""
    event = {"candidates": [candidate], "modelVersion": "gemini-2.0-flash", "responseId": "r1",
             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}
    _, got = GEMINI.stream_feed(GEMINI.stream_start(), b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
    r = gemini_dialect._RESPONSE.decode(json.dumps(event))
    finish, raw, meta = gemini_dialect._outcome(r.candidates[0], 0)
    assert got == (ChatChunk(text="lorem ", id="r1", model="gemini-2.0-flash", finish_reason=finish, raw_finish_reason=raw,
                             usage=gemini_dialect._usage(r.usage_metadata), provider_metadata=meta or None),)


_ollama_message = st.fixed_dictionaries({}, optional={
    "role": st.just("assistant"), "content": _maybe_text, "thinking": _maybe_text,
    "tool_calls": st.one_of(st.none(), st.just([]), st.just([{"function": {"name": "f", "arguments": {"x": 1}}}])),
})
_ollama_line = st.one_of(
    st.fixed_dictionaries({"model": st.just("llama3.2"), "created_at": st.just("2025-01-01T00:00:00Z")}, optional={
        "message": st.one_of(st.none(), _ollama_message), "done": st.one_of(st.none(), st.booleans()),
        "done_reason": st.just("stop"), "eval_count": st.integers(0, 9), "error": st.just("boom"),
    }).map(lambda d: json.dumps(d).encode()),
    st.sampled_from([b"", b"  ", b"\r", b"{", b"[1]", b"null", b'{"message": 3}']),
)


def _whole_and_by_read(dialect: Any, reads: list[bytes]) -> tuple[tuple[Any, tuple[Any, ...]], tuple[Any, tuple[Any, ...]]]:
    """(state, events) after one read of all of ``reads``, and after feeding them one read at a time."""
    whole = dialect.stream_feed(dialect.stream_start(), b"".join(reads))
    state, got = dialect.stream_start(), ()
    for r in reads:
        state, evs = dialect.stream_feed(state, r)
        got += evs
    return whole, (state, got)


@given(st.lists(st.tuples(_ollama_line, st.sampled_from([b"\n", b"\r\n"])), max_size=6))
def test_ollama_one_line_reads_equal_one_whole_read(lines: list[tuple[bytes, bytes]]) -> None:
    """One line per read (the fast path) gives the events and state one read of all the lines gives."""
    first = b'{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hi"}}\n'
    reads = [first, *(line + end for line, end in lines)]
    (whole_state, whole), (state, got) = _whole_and_by_read(OLLAMA, reads)
    assert got == whole and (state.done, state.failed) == (whole_state.done, whole_state.failed)
    assert state.done or state.failed or state == whole_state  # an ended fold is inert: only its events matter


def _sse(name: str, data: object) -> bytes:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return b"event: " + name.encode() + b"\ndata: " + body + b"\n\n"


_PING = _sse("ping", {"type": "ping"})
_anthropic_event = st.one_of(
    _anthropic_delta.map(lambda d: _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})),
    st.sampled_from([
        _sse("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                                                                                          "partial_json": "{\"a\""}}),
        _sse("content_block_delta", b"{not json"),
        _sse("content_block_delta", {"delta": {"type": "text_delta", "text": "no type"}}),
        _sse("content_block_start", {"type": "content_block_start", "index": 1,
                                     "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}}),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
        _sse("message_stop", {"type": "message_stop"}),
        _sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
    ]),
)


@given(st.lists(_anthropic_event, max_size=8))
def test_anthropic_one_event_reads_equal_one_whole_read(events: list[bytes]) -> None:
    """One event per read (the text-delta fast path) gives the chunks and state one read of them all gives."""
    reads = [_PING, *events]
    (whole_state, whole), (state, got) = _whole_and_by_read(ANTHROPIC, reads)
    assert got == whole and (state.stopped, state.failed) == (whole_state.stopped, whole_state.failed)
    assert state.stopped or state.failed or state == whole_state


_responses_event = st.one_of(
    _maybe_text.map(lambda t: _sse("response.output_text.delta", {"type": "response.output_text.delta",
                                                                  "output_index": 0, "content_index": 0, "delta": t})),
    st.sampled_from([
        _sse("response.output_text.delta", {"type": "response.output_text.delta", "delta": 3}),
        _sse("response.output_text.delta", b"{not json"),
        _sse("response.output_text.delta", {"type": "response.refusal.delta", "delta": "no"}),
        _sse("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                            "item": {"type": "message", "id": "m", "content": []}}),
        _sse("response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                           "item": {"type": "message", "id": "m",
                                                    "content": [{"type": "output_text", "text": "whole"}]}}),
        _sse("response.completed", {"type": "response.completed", "response": {"id": "r", "status": "completed",
                                                                                "output": []}}),
        _sse("error", {"type": "error", "code": "server_error", "message": "boom"}),
    ]),
)


@given(st.lists(_responses_event, max_size=8))
def test_responses_one_event_reads_equal_one_whole_read(events: list[bytes]) -> None:
    """One event per read (the text-delta fast path) gives the chunks and state one read of them all gives."""
    reads = [_PING, *events]
    (whole_state, whole), (state, got) = _whole_and_by_read(OPENAI_RESPONSES, reads)
    assert got == whole and (state.done, state.failed) == (whole_state.done, whole_state.failed)
    assert state.done or state.failed or state == whole_state


_gemini_part = st.one_of(
    st.fixed_dictionaries({"text": _maybe_text}, optional={"thought": st.booleans(), "thoughtSignature": st.just("c2ln")}),
    st.just({"functionCall": {"name": "f", "args": {"x": 1}}}),
)
_gemini_usage = st.sampled_from([
    {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    {"promptTokenCount": 3, "candidatesTokenCount": 1, "cachedContentTokenCount": 9},  # settled (clamped)
])
_gemini_plain = st.fixed_dictionaries(  # the usual delta, drawn often
    {"candidates": st.builds(lambda t: [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}], text),
     "responseId": st.sampled_from(["r1", "r2"]), "modelVersion": st.just("gemini-2.0-flash")},
    optional={"usageMetadata": _gemini_usage},
)
_gemini_event = st.one_of(
    _gemini_plain.map(lambda e: b"data: " + json.dumps(e).encode() + b"\r\n\r\n"),
    st.fixed_dictionaries(
        {"candidates": st.lists(st.fixed_dictionaries(
            {"content": st.fixed_dictionaries({"role": st.just("model"), "parts": st.lists(_gemini_part, max_size=2)}),
             "index": st.just(0)},
            optional={"finishReason": st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY"]), "finishMessage": text,
                      "safetyRatings": st.just([{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "LOW"}])},
        ), max_size=1),
         "responseId": st.sampled_from(["r1", "r2"]), "modelVersion": st.just("gemini-2.0-flash")},
        optional={"usageMetadata": _gemini_usage},
    ).map(lambda e: b"data: " + json.dumps(e).encode() + b"\r\n\r\n"),
    st.sampled_from([b"data: {not json\r\n\r\n", b'data: {"error": {"code": 500, "message": "x", "status": "INTERNAL"}}\r\n\r\n',
                     b'data: {"promptFeedback": {"blockReason": "SAFETY"}}\r\n\r\n']),
)


@given(st.lists(_gemini_event, max_size=6))
def test_gemini_one_event_reads_equal_one_whole_read(events: list[bytes]) -> None:
    """One event per read (the text-delta fast path) gives the chunks and state one read of them all gives."""
    reads = [b": keep-alive\r\n\r\n", *events]
    (whole_state, whole), (state, got) = _whole_and_by_read(GEMINI, reads)
    assert got == whole and state.failed == whole_state.failed
    assert state.failed or state == whole_state


def _frame(event_type: str, payload: object, message_type: str = "event") -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return encode_frame({":event-type": event_type, ":content-type": "application/json", ":message-type": message_type}, body)


_bedrock_frame = st.one_of(
    _maybe_text.map(lambda t: _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {} if t is None else {"text": t}})),
    st.sampled_from([
        _frame("contentBlockDelta", b"{not json"),
        _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 3}}),
        _frame("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\""}}}),
        _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hm"}}}),
        _frame("contentBlockDelta", {"delta": {"text": "x"}}, message_type="exception"),
        _frame("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}),
        _frame("contentBlockStop", {"contentBlockIndex": 1}),
        _frame("messageStop", {"stopReason": "end_turn"}),
        _frame("metadata", {"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}, "metrics": {"latencyMs": 5}}),
    ]),
)


@given(st.lists(_bedrock_frame, max_size=8))
def test_bedrock_one_frame_reads_equal_one_whole_read(frames: list[bytes]) -> None:
    """One frame per read (the text-delta fast path) gives the chunks and state one read of them all gives."""
    reads = [_frame("messageStart", {"role": "assistant"}), *frames]
    (whole_state, whole), (state, got) = _whole_and_by_read(BEDROCK, reads)
    assert got == whole and state.failed == whole_state.failed
    assert state.failed or state == whole_state


@given(st.lists(_completion_chunk, max_size=6), st.booleans())
def test_openai_one_event_reads_equal_one_whole_read(events: list[dict[str, object]], reasoning_in: bool) -> None:
    """One event per read (the content-delta fast path) gives the chunks and state one read of them all gives."""
    dialect = dataclasses.replace(OPENAI, reasoning_in_completion=reasoning_in)
    reads = [b": keep-alive\n\n", *(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events), b"data: [DONE]\n\n"]
    (whole_state, whole), (state, got) = _whole_and_by_read(dialect, reads)
    assert (state, got) == (whole_state, whole)
