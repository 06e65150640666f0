"""The Bedrock Converse dialect, pure: golden encode/decode tables, error mapping, and streams
(split anywhere, fold == non-stream, totality)."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import (
    ChatRequest,
    ErrorKind,
    FinishReason,
    Headers,
    HttpResponse,
    ImagePart,
    LlmError,
    Message,
    ProviderConfig,
    ReasoningConfig,
    ReasoningPart,
    Secret,
    TextPart,
    ToolCall,
    ToolChoiceFunction,
    ToolSpec,
    Usage,
    fold_chunks,
)
from interlingua.core.bedrock import BEDROCK
from interlingua.core.registry import DIALECTS
from interlingua.fakes.bedrock import encode_frame, stream_error_frame

from .helpers import split_at

CFG = ProviderConfig(api_key=Secret("bedrock-api-key"), region="us-west-2")
SIGV4 = ProviderConfig(region="us-east-1", aws_access_key_id="AKID", aws_secret_access_key=Secret("s3cr3t"),
                       aws_session_token=Secret("tok"))
WEATHER = ToolSpec(name="get_weather", description="Weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}})


def _body(req: ChatRequest, cfg: ProviderConfig = CFG) -> dict:
    return json.loads(BEDROCK.encode_request(req, cfg, now=1.7e9).unwrap().body)


ENCODE_CASES = [
    (
        ChatRequest(model="anthropic.claude-3-haiku-20240307-v1:0", messages=(Message.system("Be brief."), Message.user("Hi")),
                    max_tokens=100, temperature=0.5, top_p=0.9, stop=("END",)),
        {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "system": [{"text": "Be brief."}],
         "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]}},
    ),
    (
        ChatRequest(model="m.x", messages=(
            Message.user("weather?"),
            Message.assistant("", [ToolCall("t1", "get_weather", '{"city":"Paris"}'), ToolCall("t2", "get_weather", "{}")]),
            Message.tool("t1", "sunny"), Message.tool("t2", "boom", is_error=True), Message.user("thanks"),
        ), tools=(WEATHER,), tool_choice="auto"),
        {"messages": [
            {"role": "user", "content": [{"text": "weather?"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
                                              {"toolUse": {"toolUseId": "t2", "name": "get_weather", "input": {}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}], "status": "success"}},
                {"toolResult": {"toolUseId": "t2", "content": [{"text": "boom"}], "status": "error"}},
                {"text": "thanks"}]},
        ], "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER.parameters},
                                                  "description": "Weather"}}], "toolChoice": {"auto": {}}}},
    ),
    (
        ChatRequest(model="m.x", messages=(Message.user("x"),), tools=(WEATHER,), tool_choice="required"),
        {"messages": [{"role": "user", "content": [{"text": "x"}]}],
         "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER.parameters},
                                                "description": "Weather"}}], "toolChoice": {"any": {}}}},
    ),
    (
        ChatRequest(model="m.x", messages=(Message.user("x"),), tools=(WEATHER,), tool_choice=ToolChoiceFunction("get_weather")),
        {"messages": [{"role": "user", "content": [{"text": "x"}]}],
         "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER.parameters},
                                                "description": "Weather"}}], "toolChoice": {"tool": {"name": "get_weather"}}}},
    ),
    (
        ChatRequest(model="m.x", messages=(Message.user("x"),), tools=(WEATHER,), tool_choice="none"),
        {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
    ),
    (
        ChatRequest(model="m.x", messages=(Message.user([TextPart("look"), ImagePart(data="aGk=", media_type="image/png")]),
                                           Message.user([ImagePart(url="data:image/jpeg;base64,aGk=")]))),
        {"messages": [{"role": "user", "content": [
            {"text": "look"}, {"image": {"format": "png", "source": {"bytes": "aGk="}}},
            {"image": {"format": "jpeg", "source": {"bytes": "aGk="}}}]}]},
    ),
    (
        ChatRequest(model="m.x", messages=(Message.user("q"), Message.assistant([ReasoningPart(text="hmm", signature="sig"),
                                                                                 ReasoningPart(redacted="b64"), TextPart("a")]),
                                           Message.user("more")),
                    reasoning=ReasoningConfig(budget_tokens=2000),
                    provider_options={"additionalModelRequestFields": {"top_k": 5}, "performanceConfig": {"latency": "optimized"}}),
        {"messages": [{"role": "user", "content": [{"text": "q"}]},
                      {"role": "assistant", "content": [
                          {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
                          {"reasoningContent": {"redactedContent": "b64"}}, {"text": "a"}]},
                      {"role": "user", "content": [{"text": "more"}]}],
         "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2000}, "top_k": 5},
         "performanceConfig": {"latency": "optimized"}},
    ),
]


@pytest.mark.parametrize(("req", "wire"), ENCODE_CASES)
def test_encode_golden(req: ChatRequest, wire: dict) -> None:
    """Each unified request becomes exactly this Converse body."""
    assert _body(req) == wire


def test_registered() -> None:
    """The dialect is the 'bedrock' row of the registry."""
    assert DIALECTS["bedrock"] is BEDROCK


@pytest.mark.parametrize(("model", "path"), [
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"),
    ("us.meta.llama3-2-1b-instruct-v1:0", "/model/us.meta.llama3-2-1b-instruct-v1%3A0/converse"),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
     "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse"),
])
def test_model_id_path_matches_botocore(model: str, path: str) -> None:
    """Model ids are one percent-encoded path segment, as botocore serializes the modelId label."""
    r = BEDROCK.encode_request(ChatRequest(model=model, messages=(Message.user("x"),)), CFG).unwrap()
    assert r.url == "https://bedrock-runtime.us-west-2.amazonaws.com" + path


def test_bearer_and_sigv4_headers() -> None:
    """An API key is a bearer token; AWS credentials sign with SigV4 (service bedrock) incl. the token."""
    req = ChatRequest(model="m.x", messages=(Message.user("x"),))
    bearer = BEDROCK.encode_request(req, CFG).unwrap()
    assert bearer.headers["authorization"] == "Bearer bedrock-api-key"
    signed = BEDROCK.encode_request(req, SIGV4, stream=True, now=1.7e9).unwrap()
    assert signed.url.endswith("/converse-stream")
    assert signed.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/20231114/us-east-1/bedrock/aws4_request")
    assert signed.headers["x-amz-security-token"] == "tok"
    assert signed.headers["x-amz-date"] == "20231114T221320Z"
    assert "s3cr3t" not in repr(signed)


@pytest.mark.parametrize(("cfg", "now", "req", "kind", "words"), [
    (ProviderConfig(region="us-east-1"), 1.0, None, ErrorKind.AUTHENTICATION, "no credentials"),
    (SIGV4, None, None, ErrorKind.INVALID_REQUEST, "current time"),
    (ProviderConfig(api_key=Secret("k")), 1.0, None, ErrorKind.INVALID_REQUEST, "region"),
    (CFG, 1.0, ChatRequest(model="m.x", messages=(Message.user([ImagePart(url="https://x/y.png")]),)),
     ErrorKind.INVALID_REQUEST, "not URLs"),
    (CFG, 1.0, ChatRequest(model="m.x", messages=(Message.user([ImagePart(data="aGk=", media_type="image/tiff")]),)),
     ErrorKind.INVALID_REQUEST, "tiff"),
    (CFG, 1.0, ChatRequest(model="m.x", messages=(Message.assistant("", [ToolCall("a", "f", "not json")]),)),
     ErrorKind.INVALID_REQUEST, "not JSON"),
    (CFG, 1.0, ChatRequest(model="m.x", messages=()), ErrorKind.INVALID_REQUEST, "empty"),
])
def test_encode_failures(cfg: ProviderConfig, now: float | None, req: ChatRequest | None, kind: ErrorKind, words: str) -> None:
    """Requests that cannot be sent are Failures with a clear message, never exceptions."""
    req = req or ChatRequest(model="m.x", messages=(Message.user("x"),))
    r = BEDROCK.encode_request(req, cfg, now=now)
    assert isinstance(r, Failure) and r.failure().kind is kind and words in r.failure().message


DECODE_CASES = [
    (
        {"output": {"message": {"role": "assistant", "content": [{"text": "Hello"}, {"text": " world"}]}},
         "stopReason": "end_turn", "usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 13}, "metrics": {"latencyMs": 5}},
        Message.assistant("Hello world"), FinishReason.STOP,
        Usage(prompt_tokens=10, completion_tokens=3, total_tokens=13),
    ),
    (
        {"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "think", "signature": "sig"}}},
            {"reasoningContent": {"redactedContent": "UkVE"}},
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}]}},
         "stopReason": "tool_use",
         "usage": {"inputTokens": 4, "outputTokens": 6, "totalTokens": 5020, "cacheReadInputTokens": 5000, "cacheWriteInputTokens": 10}},
        Message.assistant([ReasoningPart(text="think", signature="sig"), ReasoningPart(redacted="UkVE"), TextPart("Let me check.")],
                          [ToolCall("tooluse_1", "get_weather", '{"city":"Paris"}')]),
        FinishReason.TOOL_CALLS,
        Usage(prompt_tokens=5014, completion_tokens=6, total_tokens=5020, cached_tokens=5000, cache_write_tokens=10),
    ),
]


@pytest.mark.parametrize(("wire", "message", "finish", "usage"), DECODE_CASES)
def test_decode_golden(wire: dict, message: Message, finish: FinishReason, usage: Usage) -> None:
    """A Converse response decodes to exactly this unified response."""
    r = BEDROCK.decode_response(HttpResponse(200, Headers(), json.dumps(wire).encode())).unwrap()
    assert (r.message, r.finish_reason, r.usage) == (message, finish, usage)


@pytest.mark.parametrize(("raw", "finish"), [
    ("end_turn", FinishReason.STOP), ("stop_sequence", FinishReason.STOP), ("max_tokens", FinishReason.LENGTH),
    ("tool_use", FinishReason.TOOL_CALLS), ("guardrail_intervened", FinishReason.CONTENT_FILTER),
    ("content_filtered", FinishReason.CONTENT_FILTER), ("something_new", FinishReason.OTHER),
])
def test_stop_reasons(raw: str, finish: FinishReason) -> None:
    """Every documented stopReason maps to its unified finish reason; the raw one is kept."""
    body = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": raw}
    r = BEDROCK.decode_response(HttpResponse(200, Headers(), json.dumps(body).encode())).unwrap()
    assert (r.finish_reason, r.raw_finish_reason) == (finish, raw)


ERROR_CASES = [
    (429, {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
     {"message": "Too many requests"}, ErrorKind.RATE_LIMIT, True),
    (403, {"x-amzn-ErrorType": "AccessDeniedException"}, {"message": "no access"}, ErrorKind.PERMISSION, False),
    (403, {}, {"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": "bad token"},
     ErrorKind.AUTHENTICATION, False),
    (403, {"x-amzn-ErrorType": "InvalidSignatureException"}, {"message": "sig"}, ErrorKind.AUTHENTICATION, False),
    (400, {"x-amzn-ErrorType": "ValidationException"}, {"message": "bad field"}, ErrorKind.INVALID_REQUEST, False),
    (400, {"x-amzn-ErrorType": "ValidationException"}, {"message": "Input is too long for requested model."},
     ErrorKind.CONTEXT_LENGTH_EXCEEDED, False),
    (404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, {"Message": "no model"}, ErrorKind.NOT_FOUND, False),
    (429, {"x-amzn-ErrorType": "ModelNotReadyException"}, {"message": "warming"}, ErrorKind.OVERLOADED, True),
    (408, {"x-amzn-ErrorType": "ModelTimeoutException"}, {"message": "slow"}, ErrorKind.TIMEOUT, True),
    (503, {"x-amzn-ErrorType": "ServiceUnavailableException"}, {"message": "down"}, ErrorKind.OVERLOADED, True),
    (500, {"x-amzn-ErrorType": "InternalServerException"}, {"message": "oops"}, ErrorKind.PROVIDER, True),
    (502, {}, "<html>Bad Gateway</html>", ErrorKind.PROVIDER, True),
    (400, {}, "", ErrorKind.INVALID_REQUEST, False),
]


@pytest.mark.parametrize(("status", "headers", "body", "kind", "retryable"), ERROR_CASES)
def test_error_mapping(status: int, headers: dict, body: object, kind: ErrorKind, retryable: bool) -> None:
    """x-amzn-ErrorType / __type / message become the right kind, retryability and message."""
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    err = BEDROCK.decode_error(HttpResponse(status, Headers(headers), raw))
    assert (err.kind, err.is_retryable(), err.status) == (kind, retryable, status)
    if isinstance(body, dict):
        assert err.message == (body.get("message") or body.get("Message"))


# -- streams ----------------------------------------------------------------------------------


def ev(event_type: str, payload: dict) -> bytes:
    return encode_frame({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                        json.dumps({**payload, "p": "abc"}).encode())


STREAM = [
    ev("messageStart", {"role": "assistant"}),
    ev("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "think"}}}),
    ev("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig"}}}),
    ev("contentBlockStop", {"contentBlockIndex": 0}),
    ev("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "UkVE"}}}),
    ev("contentBlockStop", {"contentBlockIndex": 1}),
    ev("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"text": "Let me"}}),
    ev("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"text": " check."}}),
    ev("contentBlockStop", {"contentBlockIndex": 2}),
    ev("contentBlockStart", {"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}}),
    ev("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": '{"city":'}}}),
    ev("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": '"Paris"}'}}}),
    ev("contentBlockStop", {"contentBlockIndex": 3}),
    ev("contentBlockStart", {"contentBlockIndex": 4, "start": {"toolUse": {"toolUseId": "tooluse_2", "name": "now"}}}),
    ev("contentBlockStop", {"contentBlockIndex": 4}),
    ev("messageStop", {"stopReason": "tool_use"}),
    ev("metadata", {"usage": {"inputTokens": 4, "outputTokens": 6, "totalTokens": 5020, "cacheReadInputTokens": 5000,
                              "cacheWriteInputTokens": 10}, "metrics": {"latencyMs": 7}}),
]
NON_STREAM = {"output": {"message": {"role": "assistant", "content": [
    {"reasoningContent": {"reasoningText": {"text": "think", "signature": "sig"}}},
    {"reasoningContent": {"redactedContent": "UkVE"}}, {"text": "Let me check."},
    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
    {"toolUse": {"toolUseId": "tooluse_2", "name": "now", "input": {}}}]}},
    "stopReason": "tool_use", "metrics": {"latencyMs": 7},
    "usage": {"inputTokens": 4, "outputTokens": 6, "totalTokens": 5020, "cacheReadInputTokens": 5000, "cacheWriteInputTokens": 10}}


def run_stream(pieces: list[bytes]) -> tuple[list, object]:
    st_, out = BEDROCK.stream_start(), []
    for p in pieces:
        st_, evs = BEDROCK.stream_feed(st_, p)
        out.extend(evs)
    return out, BEDROCK.stream_finish(st_)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, 3000), max_size=20))
def test_stream_split_anywhere_folds_to_non_stream(cuts: list[int]) -> None:
    """Any split of the stream folds to the same response as the non-stream decode of the same content."""
    out, end = run_stream(split_at(b"".join(STREAM), cuts))
    assert isinstance(end, Success) and not any(isinstance(e, LlmError) for e in out)
    expected = BEDROCK.decode_response(HttpResponse(200, Headers(), json.dumps(NON_STREAM).encode())).unwrap()
    assert fold_chunks(out, "bedrock") == expected


def test_stream_usage_is_cumulative() -> None:
    """The metadata event's usage is the whole response's usage, on the last chunk."""
    out, _ = run_stream(STREAM)
    assert out[-1].usage == Usage(prompt_tokens=5014, completion_tokens=6, total_tokens=5020, cached_tokens=5000,
                                  cache_write_tokens=10)


@pytest.mark.parametrize(("exception", "kind"), [
    ("throttlingException", ErrorKind.RATE_LIMIT), ("modelStreamErrorException", ErrorKind.STREAMING),
    ("validationException", ErrorKind.INVALID_REQUEST), ("serviceUnavailableException", ErrorKind.OVERLOADED),
    ("internalServerException", ErrorKind.PROVIDER),
])
def test_stream_exception_frames(exception: str, kind: ErrorKind) -> None:
    """An exception frame mid-stream is a typed LlmError and ends the stream."""
    frame = encode_frame({":exception-type": exception, ":content-type": "application/json", ":message-type": "exception"},
                         b'{"message":"bad thing"}')
    out, end = run_stream([STREAM[0], STREAM[6], frame, STREAM[7]])
    assert isinstance(out[-1], LlmError) and out[-1].kind is kind and "bad thing" in out[-1].message
    assert out[-1].code == exception and isinstance(end, Failure)


def test_fake_error_frame_is_throttling() -> None:
    """The fake's mid-stream error frame decodes as a rate limit."""
    out, _ = run_stream([STREAM[0], stream_error_frame()])
    assert isinstance(out[-1], LlmError) and out[-1].is_rate_limit()


@pytest.mark.parametrize("frames", [STREAM[:-1], STREAM[:-2] + STREAM[-1:], STREAM[:5]])
def test_stream_without_stop_and_metadata_fails(frames: list[bytes]) -> None:
    """A stream that ends before messageStop and metadata is a streaming error at finish."""
    _, end = run_stream(frames)
    assert isinstance(end, Failure) and end.failure().kind is ErrorKind.STREAMING


def test_stream_cut_inside_a_frame_fails() -> None:
    """Bytes of an unfinished frame at the end are a decode error."""
    data = b"".join(STREAM)
    _, end = run_stream([data[:-3]])
    assert isinstance(end, Failure) and end.failure().kind is ErrorKind.DECODE


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_decoders_are_total(data: bytes) -> None:
    """Arbitrary bytes never raise from any decoder."""
    assert isinstance(BEDROCK.decode_response(HttpResponse(200, Headers(), data)), Success | Failure)
    assert isinstance(BEDROCK.decode_error(HttpResponse(400, Headers(), data)), LlmError)
    _, end = run_stream([data[: len(data) // 2], data[len(data) // 2 :]])
    assert isinstance(end, Success | Failure)


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=100), event=st.sampled_from(["contentBlockDelta", "metadata", "messageStop", "x"]))
def test_stream_total_on_garbage_payloads(payload: bytes, event: str) -> None:
    """Well-framed events with junk payloads are streaming errors, never exceptions."""
    frame = encode_frame({":event-type": event, ":message-type": "event"}, payload)
    out, end = run_stream([frame])
    assert all(isinstance(e, LlmError) or hasattr(e, "text") for e in out)
    assert isinstance(end, Success | Failure)


def test_request_roundtrips_as_msgspec() -> None:
    """The encoded body is plain JSON the SDK would send (no UNSET leaks)."""
    req = ENCODE_CASES[1][0]
    assert msgspec.json.decode(BEDROCK.encode_request(req, CFG).unwrap().body) == ENCODE_CASES[1][1]
