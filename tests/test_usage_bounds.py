"""Usage is never negative (issue 17): a negative or non-integer count is refused by every dialect,
stream and non-stream; a cached/reasoning count above its total is clamped and flagged."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from interlingua.core import (
    DIALECTS,
    ChatChunk,
    ErrorKind,
    HttpResponse,
    LlmError,
    ModelInfo,
    Usage,
    fold_chunks,
)
from interlingua.fakes.bedrock import encode_frame

BAD_COUNTS: list[Any] = [-5, 1.5, "7", 1e3]


def _openai(n: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": n, "completion_tokens": 1, "total_tokens": 2}}


def _anthropic(n: Any) -> dict[str, Any]:
    return {"id": "msg", "type": "message", "role": "assistant", "model": "c", "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 1, "output_tokens": n}}


def _gemini(n: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": n, "candidatesTokenCount": 1}}


def _bedrock(n: Any) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": n, "totalTokens": 2}}


def _ollama(n: Any) -> dict[str, Any]:
    return {"model": "m", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": "hi"},
            "done": True, "done_reason": "stop", "prompt_eval_count": n, "eval_count": 1}


def _responses(n: Any) -> dict[str, Any]:
    return {"id": "r", "object": "response", "created_at": 1, "model": "m", "status": "completed",
            "output": [{"type": "message", "id": "o", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": "hi", "annotations": []}]}],
            "usage": {"input_tokens": n, "output_tokens": 1, "total_tokens": 2}}


BODIES = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini, "bedrock": _bedrock, "ollama": _ollama,
          "openai_responses": _responses}


@pytest.mark.parametrize("count", BAD_COUNTS)
@pytest.mark.parametrize("provider", list(BODIES))
def test_bad_count_is_a_decode_error(provider: str, count: Any) -> None:
    """Non-stream: a negative, fractional or quoted token count is a decode error, never a Usage."""
    body = json.dumps(BODIES[provider](count)).encode()
    err = DIALECTS[provider].decode_response(HttpResponse(200, body=body)).failure()
    assert err.kind is ErrorKind.DECODE


def _stream_bodies(provider: str, n: Any) -> bytes:
    if provider == "openai":
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                 "usage": {"prompt_tokens": n, "completion_tokens": 1, "total_tokens": 2}}
        return b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"
    if provider == "anthropic":
        start = {"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": n}}}
        return b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\n"
    if provider == "gemini":
        return b"data: " + json.dumps(_gemini(n)).encode() + b"\n\n"
    if provider == "ollama":
        return json.dumps(_ollama(n)).encode() + b"\n"
    if provider == "openai_responses":
        done = {"type": "response.completed", "sequence_number": 1, "response": _responses(n)}
        return b"event: response.completed\ndata: " + json.dumps(done).encode() + b"\n\n"
    meta = {"usage": {"inputTokens": n, "outputTokens": 1, "totalTokens": 2}, "metrics": {"latencyMs": 1}}
    return encode_frame({":event-type": "metadata", ":content-type": "application/json", ":message-type": "event"},
                        json.dumps(meta).encode())


@pytest.mark.parametrize("count", BAD_COUNTS)
@pytest.mark.parametrize("provider", list(BODIES))
def test_bad_count_in_a_stream_is_refused(provider: str, count: Any) -> None:
    """Stream: the event carrying a bad count is a malformed event (an error, no chunk with that usage)."""
    d = DIALECTS[provider]
    _, events = d.stream_feed(d.stream_start(), _stream_bodies(provider, count))
    errors = [e for e in events if isinstance(e, LlmError)]
    assert errors and errors[0].kind in (ErrorKind.STREAMING, ErrorKind.DECODE)
    assert not any(isinstance(e, ChatChunk) and e.usage is not None for e in events)


def test_cached_above_prompt_is_clamped_and_flagged() -> None:
    """OpenAI: cached_tokens 50 of a 10-token prompt becomes 10, and provider_metadata says what was sent."""
    body = _openai(10)
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 50}
    body["usage"]["completion_tokens_details"] = {"reasoning_tokens": 9}
    r = DIALECTS["openai"].decode_response(HttpResponse(200, body=json.dumps(body).encode())).unwrap()
    assert (r.usage.cached_tokens, r.usage.reasoning_tokens) == (10, 1)
    assert r.provider_metadata["usage_clamped"] == {"cached_tokens": 50, "reasoning_tokens": 9}


def test_clamped_in_a_stream_too() -> None:
    """The streamed usage chunk is clamped the same way, so the fold equals the non-stream answer."""
    d = DIALECTS["anthropic"]
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "c",
                                              "usage": {"input_tokens": 1, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": 2, "output_tokens_details": {"thinking_tokens": 40}}},
        {"type": "message_stop"},
    ]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    state, out = d.stream_feed(d.stream_start(), body)
    chunks = [c for c in out if isinstance(c, ChatChunk)] + list(d.stream_finish(state).unwrap())
    r = fold_chunks(chunks, "anthropic")
    assert r.usage.reasoning_tokens <= r.usage.completion_tokens
    assert r.provider_metadata["usage_clamped"] == {"reasoning_tokens": 40}


def test_cost_is_never_negative() -> None:
    """A hand-built Usage with negative parts, or a catalog with a negative price, costs 0, not less."""
    info = ModelInfo(id="m", provider="p", input_price=Decimal("-3"), output_price=Decimal("1"))
    assert Usage(prompt_tokens=1000).calculate_cost(info) == 0
    ok = ModelInfo(id="m", provider="p", input_price=Decimal("3"), output_price=Decimal("1"))
    assert Usage(prompt_tokens=10, cached_tokens=-10**6, completion_tokens=-10**6).calculate_cost(ok) == 0
