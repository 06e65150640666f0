"""Output checks: every provider's refusal / content-filter / safety-block answer surfaces as a typed
finish reason (``content_filter``) or a ``content_filter`` error, never as an empty success.

Bodies are the providers' documented shapes: OpenAI ``message.refusal`` and
``finish_reason: "content_filter"``; Azure's 400 ``content_filter`` error with ``innererror`` and a
200 with ``prompt_filter_results`` but no choices; Anthropic ``stop_reason: "refusal"``; Gemini
``finishReason: "SAFETY"`` and ``promptFeedback.blockReason``; Bedrock Converse ``stopReason``
``guardrail_intervened`` / ``content_filtered``. Ollama has no safety system to report."""

from __future__ import annotations

import json
from typing import Any

import pytest
from returns.result import Failure, Success

from interlingua.core import DIALECTS, ErrorKind, FinishReason, Headers, HttpResponse

JSON = Headers({"content-type": "application/json"})


def _openai(message: dict[str, Any], finish: str, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish, **extra}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}}


REFUSAL = _openai({"content": None, "refusal": "I'm sorry, I can't help with that."}, "stop")
FILTERED = _openai({"content": None}, "content_filter")
AZURE_FILTERED = _openai({"content": None}, "content_filter",
                         content_filter_results={"violence": {"filtered": True, "severity": "high"}})
AZURE_PROMPT_BLOCKED = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
                        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {
                            "hate": {"filtered": True, "severity": "high"}}}]}
AZURE_400 = {"error": {"message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                       "management policy.", "type": None, "param": "prompt", "code": "content_filter", "status": 400,
                       "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                           "violence": {"filtered": True, "severity": "medium"}}}}}
OPENAI_POLICY_400 = {"error": {"message": "Your request was rejected as a result of our safety system.",
                               "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}}
ANTHROPIC_REFUSAL = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                     "content": [], "stop_reason": "refusal", "stop_sequence": None,
                     "usage": {"input_tokens": 5, "output_tokens": 0}}
GEMINI_SAFETY = {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}],
    "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.0-flash"}
GEMINI_BLOCKED = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                  "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.0-flash"}
GEMINI_PROHIBITED = {**GEMINI_SAFETY, "candidates": [{"finishReason": "PROHIBITED_CONTENT", "index": 0}]}


def _bedrock(stop: str) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": "Sorry, the model cannot answer this."}]}},
            "stopReason": stop, "usage": {"inputTokens": 5, "outputTokens": 8, "totalTokens": 13},
            "metrics": {"latencyMs": 10}}


# (provider, HTTP status, body) → expected: a FinishReason for a success, an ErrorKind for a failure.
CASES: list[tuple[str, int, dict[str, Any], FinishReason | ErrorKind]] = [
    *[(p, 200, REFUSAL, FinishReason.CONTENT_FILTER) for p in ("openai", "azure", "xai", "docker", "openai_compatible")],
    *[(p, 200, FILTERED, FinishReason.CONTENT_FILTER) for p in ("openai", "azure", "xai", "docker", "openai_compatible")],
    ("azure", 200, AZURE_FILTERED, FinishReason.CONTENT_FILTER),
    ("azure", 200, AZURE_PROMPT_BLOCKED, ErrorKind.CONTENT_FILTER),
    ("azure", 400, AZURE_400, ErrorKind.CONTENT_FILTER),
    ("openai", 400, OPENAI_POLICY_400, ErrorKind.CONTENT_FILTER),
    ("anthropic", 200, ANTHROPIC_REFUSAL, FinishReason.CONTENT_FILTER),
    ("gemini", 200, GEMINI_SAFETY, FinishReason.CONTENT_FILTER),
    ("gemini", 200, GEMINI_PROHIBITED, FinishReason.CONTENT_FILTER),
    ("gemini", 200, GEMINI_BLOCKED, ErrorKind.CONTENT_FILTER),
    ("bedrock", 200, _bedrock("guardrail_intervened"), FinishReason.CONTENT_FILTER),
    ("bedrock", 200, _bedrock("content_filtered"), FinishReason.CONTENT_FILTER),
]


@pytest.mark.parametrize(("provider", "status", "body", "expected"), CASES,
                         ids=[f"{p}-{i}" for i, (p, *_) in enumerate(CASES)])
def test_safety_outcomes_are_typed(provider: str, status: int, body: dict[str, Any], expected: FinishReason | ErrorKind) -> None:
    """A refusal or block decodes to finish_reason=content_filter or a content_filter error, never a bare success."""
    d = DIALECTS[provider]
    resp = HttpResponse(status, JSON, json.dumps(body).encode(), 0.0)
    result = d.decode_response(resp) if status == 200 else Failure(d.decode_error(resp))
    match expected, result:
        case FinishReason(), Success(r):
            assert r.finish_reason is expected, r
        case ErrorKind(), Failure(err):
            assert err.kind is expected and err.message, err
            assert not err.is_retryable(), "a block does not go away by asking again"
        case _:
            pytest.fail(f"expected {expected!r}, got {result!r}")


def test_refusal_text_is_kept() -> None:
    """OpenAI's refusal text reaches the caller (message.refusal), so the reason is not lost."""
    r = DIALECTS["openai"].decode_response(HttpResponse(200, JSON, json.dumps(REFUSAL).encode(), 0.0)).unwrap()
    assert r.message.refusal == "I'm sorry, I can't help with that." and r.raw_finish_reason in ("stop", "refusal")


def _sse(*events: tuple[str | None, dict[str, Any]]) -> bytes:
    return b"".join((f"event: {e}\n" if e else "").encode() + b"data: " + json.dumps(d).encode() + b"\n\n" for e, d in events)


STREAMS: list[tuple[str, bytes, FinishReason | ErrorKind]] = [
    ("openai", _sse((None, {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": None, "refusal": "No."}, "finish_reason": None}]}),
        (None, {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
            {"index": 0, "delta": {}, "finish_reason": "stop"}]})) + b"data: [DONE]\n\n", FinishReason.CONTENT_FILTER),
    ("openai", _sse((None, {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
        {"index": 0, "delta": {}, "finish_reason": "content_filter"}]})) + b"data: [DONE]\n\n", FinishReason.CONTENT_FILTER),
    ("anthropic", _sse(
        ("message_start", {"type": "message_start", "message": {**ANTHROPIC_REFUSAL, "stop_reason": None}}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "refusal", "stop_sequence": None},
                           "usage": {"output_tokens": 0}}),
        ("message_stop", {"type": "message_stop"})), FinishReason.CONTENT_FILTER),
    ("gemini", _sse((None, GEMINI_SAFETY)), FinishReason.CONTENT_FILTER),
    ("gemini", _sse((None, GEMINI_BLOCKED)), ErrorKind.CONTENT_FILTER),
]


@pytest.mark.parametrize(("provider", "data", "expected"), STREAMS, ids=[f"{p}-{i}" for i, (p, *_) in enumerate(STREAMS)])
def test_streamed_safety_outcomes_are_typed(provider: str, data: bytes, expected: FinishReason | ErrorKind) -> None:
    """The same outcomes over a stream: a content_filter finish on a chunk, or a content_filter error event."""
    from interlingua.core.fold import StreamFold

    d = DIALECTS[provider]
    st, events = d.stream_feed(d.stream_start(), data)
    tail = d.stream_finish(st)
    errors = [e for e in events if not hasattr(e, "finish_reason")]
    if isinstance(expected, ErrorKind):
        assert errors and errors[0].kind is expected, events
        return
    assert not errors and isinstance(tail, Success), (events, tail)
    fold = StreamFold()
    for c in (*events, *tail.unwrap()):
        fold.add(c)
    assert fold.response("").finish_reason is expected
