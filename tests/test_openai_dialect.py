"""The OpenAI dialect: golden wire tables both ways, error mapping, streaming, and properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import (
    ChatRequest,
    ErrorKind,
    FinishReason,
    ImagePart,
    Message,
    ReasoningConfig,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoiceFunction,
    ToolSpec,
    Usage,
    decode_response,
    decode_stream,
    encode_request,
)
from interlingua.fakes import openai as fake_openai
from interlingua.fakes._content import Decision

from .helpers import split_at
from .strategies import chat_request, ident, json_args, text

DATA = Path(__file__).parent / "data" / "openai"
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

# (unified request, the exact JSON body OpenAI documents for it)
ENCODE_CASES: list[tuple[ChatRequest, dict[str, Any]]] = [
    (
        ChatRequest(model="gpt-4o-mini", messages=(Message.system("Be brief."), Message.user("Hi"))),
        {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
    ),
    (
        ChatRequest(
            model="openai:gpt-4o",
            messages=(Message.user([TextPart("What is this?"), ImagePart(url="https://x.test/a.png", detail="low"),
                                    ImagePart(data="iVBORw0KGgo=", media_type="image/png")]),),
            max_tokens=50, temperature=0.2, top_p=0.9, stop=("END",), seed=7, user="u-1",
        ),
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ]}],
            "temperature": 0.2, "top_p": 0.9, "max_completion_tokens": 50, "stop": ["END"], "seed": 7, "user": "u-1",
        },
    ),
    (
        ChatRequest(
            model="gpt-4o",
            messages=(
                Message.user("Weather in Paris and Rome?"),
                Message.assistant("", [ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
                                       ToolCall("call_2", "get_weather", '{"city":"Rome"}')]),
                Message.tool("call_1", "18C"),
                Message.tool("call_2", "24C"),
            ),
            tools=(WEATHER,),
            tool_choice=ToolChoiceFunction("get_weather"),
        ),
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
                ]},
                {"role": "tool", "content": "18C", "tool_call_id": "call_1"},
                {"role": "tool", "content": "24C", "tool_call_id": "call_2"},
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER.parameters,
                                                        "description": "Weather for a city"}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
    ),
    (
        ChatRequest(
            model="o3-mini",
            messages=(Message.user("json please"),),
            response_format=ResponseFormat(name="answer", schema={"type": "object"}, strict=True),
            reasoning=ReasoningConfig(effort="high"),
            provider_options={"service_tier": "flex"},
        ),
        {
            "model": "o3-mini",
            "messages": [{"role": "user", "content": "json please"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True}},
            "reasoning_effort": "high",
            "service_tier": "flex",
        },
    ),
]


@pytest.mark.parametrize(("req", "wire"), ENCODE_CASES)
def test_encode_golden(req: ChatRequest, wire: dict[str, Any]) -> None:
    """Each unified request encodes to exactly the body OpenAI documents, with bearer auth."""
    http = encode_request("openai", req, api_key="sk-test").unwrap()
    assert http.method == "POST"
    assert http.url == "https://api.openai.com/v1/chat/completions"
    assert http.headers["Authorization"] == "Bearer sk-test"
    assert http.headers["content-type"] == "application/json"
    assert json.loads(http.body) == wire


def test_encode_stream_asks_for_usage() -> None:
    """Streaming requests set stream and include_usage, and accept SSE."""
    req = ChatRequest(model="gpt-4o", messages=(Message.user("x"),))
    http = encode_request("openai", req, api_key="k", stream=True, base_url="http://127.0.0.1:1/v1").unwrap()
    assert http.url == "http://127.0.0.1:1/v1/chat/completions"
    assert http.headers["accept"] == "text/event-stream"
    body = json.loads(http.body)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("req", "kwargs", "kind", "fragment"),
    [
        (ChatRequest(model="gpt-4o", messages=()), {"api_key": "k"}, ErrorKind.INVALID_REQUEST, "empty"),
        (ChatRequest(model="gpt-4o", messages=(Message.user("x"),)), {}, ErrorKind.AUTHENTICATION, "no API key"),
        (ChatRequest(model="gpt-4o", messages=(Message.user("x"),)), {"api_key": "k", "base_url": "http://10.0.0.5/v1"},
         ErrorKind.INVALID_REQUEST, "plain http"),
        (ChatRequest(model="gpt-4o", messages=(Message(role="tool", content="x"),)), {"api_key": "k"},
         ErrorKind.INVALID_REQUEST, "tool_call_id"),
    ],
)
def test_encode_refuses_what_cannot_be_sent(req: ChatRequest, kwargs: dict[str, Any], kind: ErrorKind, fragment: str) -> None:
    """Requests that cannot be sent as they are become typed Failures, with no request built."""
    result = encode_request("openai", req, **kwargs)
    assert isinstance(result, Failure)
    assert result.failure().kind is kind and fragment in result.failure().message


def test_key_never_in_request_repr() -> None:
    """The request description prints without the key."""
    http = encode_request("openai", ChatRequest(model="gpt-4o", messages=(Message.user("x"),)), api_key="sk-SECRET-123").unwrap()
    assert "SECRET" not in repr(http) and "SECRET" not in str(http.headers)


def test_decode_documented_completion() -> None:
    """OpenAI's documented chat.completion example decodes field for field."""
    r = decode_response("openai", 200, (DATA / "chat_completion.json").read_bytes()).unwrap()
    assert (r.id, r.model, r.created, r.text) == ("chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "gpt-4.1-2025-04-14", 1741569952, "Hello! How can I assist you today?")
    assert r.finish_reason is FinishReason.STOP and r.raw_finish_reason == "stop"
    assert r.usage == Usage(prompt_tokens=19, completion_tokens=10, total_tokens=29)
    assert r.provider == "openai"


def test_decode_documented_tool_call() -> None:
    """The documented tool-call example keeps the raw argument text exactly."""
    r = decode_response("openai", 200, (DATA / "tool_calls.json").read_bytes()).unwrap()
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.tool_calls == (ToolCall("call_abc123", "get_current_weather", '{\n"location": "Boston, MA"\n}'),)
    assert r.tool_calls[0].parsed_arguments() == {"location": "Boston, MA"}
    assert r.text == ""


def test_decode_cached_and_reasoning_tokens() -> None:
    """Cached prompt tokens and reasoning tokens land in their Usage fields."""
    r = decode_response("openai", 200, (DATA / "reasoning_usage.json").read_bytes()).unwrap()
    assert r.usage == Usage(prompt_tokens=1200, completion_tokens=900, total_tokens=2100, cached_tokens=1024, reasoning_tokens=896)
    assert r.finish_reason is FinishReason.LENGTH


def test_decode_refusal_is_content_filter() -> None:
    """A structured-output refusal is a content_filter finish, never an empty success."""
    body = b'{"id":"c","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can\'t help with that."},"finish_reason":"stop"}]}'
    r = decode_response("openai", 200, body).unwrap()
    assert r.finish_reason is FinishReason.CONTENT_FILTER and r.message.refusal == "I can't help with that."


ERROR_CASES: list[tuple[int, dict[str, str], bytes, ErrorKind, bool]] = [
    (401, {}, b'{"error":{"message":"Incorrect API key provided: sk-abc***wxyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}', ErrorKind.AUTHENTICATION, False),
    (429, {"retry-after": "2"}, b'{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}', ErrorKind.RATE_LIMIT, True),
    (429, {}, b'{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}', ErrorKind.RATE_LIMIT, False),
    (400, {}, b'{"error":{"message":"This model\'s maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}', ErrorKind.CONTEXT_LENGTH_EXCEEDED, False),
    (404, {}, b'{"error":{"message":"The model `gpt-9` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}', ErrorKind.NOT_FOUND, False),
    (500, {}, b'{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}', ErrorKind.PROVIDER, True),
    (503, {"x-should-retry": "false"}, b'{"error":{"message":"overloaded","type":"server_error"}}', ErrorKind.PROVIDER, False),
    (502, {}, b"<html><body><h1>502 Bad Gateway</h1></body></html>", ErrorKind.PROVIDER, True),
    (503, {}, b"", ErrorKind.OVERLOADED, True),
    (400, {}, b'{"error":{"message":"bad', ErrorKind.INVALID_REQUEST, False),
    (403, {}, b'{"error":"Forbidden"}', ErrorKind.PERMISSION, False),
    (422, {}, b'{"message":"Unprocessable"}', ErrorKind.INVALID_REQUEST, False),
]


@pytest.mark.parametrize(("status", "headers", "body", "kind", "retryable"), ERROR_CASES)
def test_error_mapping(status: int, headers: dict[str, str], body: bytes, kind: ErrorKind, retryable: bool) -> None:
    """(status, headers, body) → a typed error of the right kind, retryability and diagnostics."""
    result = decode_response("openai", status, body, headers)
    assert isinstance(result, Failure)
    err = result.failure()
    assert (err.kind, err.status, err.provider, err.is_retryable()) == (kind, status, "openai", retryable)
    assert err.message
    if "retry-after" in headers:
        assert err.retry_after == float(headers["retry-after"])
        assert err.headers == {"retry-after": "2"}


def test_html_error_page_message_is_readable() -> None:
    """An HTML gateway page is summarised, not dumped into the message."""
    err = decode_response("openai", 502, b"<html><body>Bad Gateway</body></html>").failure()
    assert "HTML" in err.message and "<html>" not in err.message


# -- streaming -----------------------------------------------------------------------------------


def test_documented_stream_folds() -> None:
    """OpenAI's documented stream (plus a usage chunk) folds to the whole answer with usage."""
    raw = (DATA / "stream_text.sse").read_bytes()
    r = decode_stream("openai", [raw]).unwrap()
    assert r.text == "Hello wörld 🌍!" and r.finish_reason is FinishReason.STOP and r.id == "chatcmpl-123"
    assert r.usage.total_tokens == 13


def test_parallel_tool_call_stream_assembles_by_index() -> None:
    """Interleaved tool-call fragments are assembled per index, CRLF framing and comments included."""
    r = decode_stream("openai", [(DATA / "stream_tools.sse").read_bytes()]).unwrap()
    assert r.tool_calls == (ToolCall("call_A", "get_weather", '{"city":"Paris"}'), ToolCall("call_B", "get_time", "{}"))
    assert r.finish_reason is FinishReason.TOOL_CALLS and r.usage.prompt_tokens == 50


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["stream_text.sse", "stream_tools.sse"]), st.lists(st.integers(0, 2000), max_size=15))
def test_any_split_folds_the_same(name: str, cuts: list[int]) -> None:
    """Byte boundaries (inside CRLF, inside UTF-8) never change the folded response."""
    raw = (DATA / name).read_bytes()
    assert decode_stream("openai", split_at(raw, cuts)) == decode_stream("openai", [raw])


def test_truncated_stream_is_a_streaming_error() -> None:
    """A stream cut before [DONE] and finish_reason is a Failure, not a short success."""
    raw = (DATA / "stream_text.sse").read_bytes()
    cut = raw[: raw.index(b'"finish_reason":"stop"') - 40]
    err = decode_stream("openai", [cut]).failure()
    assert err.kind in (ErrorKind.STREAMING, ErrorKind.DECODE)


def test_error_event_mid_stream() -> None:
    """An error object in the stream ends it with a typed error."""
    raw = (DATA / "stream_text.sse").read_bytes().split(b"\n\n")
    body = raw[0] + b"\n\n" + fake_openai.stream_error_frame()
    err = decode_stream("openai", [body]).failure()
    assert err.kind is ErrorKind.STREAMING and "mid-stream" in err.message


# -- properties against the fake's own (independent) encoder -------------------------------------

decisions = st.one_of(
    st.builds(lambda t, f: Decision(text=t, finish=f), text, st.sampled_from(["stop", "length"])),
    st.builds(lambda n, a: Decision(tool_name=n, tool_args=json.loads(a), finish="tool_calls"), ident, json_args),
)


def _fake_outputs(d: Decision) -> tuple[bytes, list[bytes]]:
    call = fake_openai._tool_call(d, "seed") if d.tool_name else None
    usage = fake_openai.usage_payload(11, 7, 0)
    payload = fake_openai.completion_payload("chatcmpl-x", 1700000000, "gpt-4o", d, call, usage)
    frames = fake_openai.stream_frames("chatcmpl-x", 1700000000, "gpt-4o", d, call, usage, include_usage=True)
    return json.dumps(payload).encode(), frames


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions, st.lists(st.integers(0, 5000), max_size=10))
def test_fake_encoded_responses_decode_back_and_streams_agree(d: Decision, cuts: list[int]) -> None:
    """What the fake writes decodes to the same content, and any split of its stream folds to the
    response the non-stream call returns."""
    body, frames = _fake_outputs(d)
    plain = decode_response("openai", 200, body).unwrap()
    assert plain.text == (d.text if not d.tool_name else "")
    if d.tool_name:
        assert [c.name for c in plain.tool_calls] == [d.tool_name]
        assert json.loads(plain.tool_calls[0].arguments) == d.tool_args
    assert plain.usage == Usage(prompt_tokens=11, completion_tokens=7, total_tokens=18)
    streamed = decode_stream("openai", split_at(b"".join(frames), cuts)).unwrap()
    assert streamed == plain


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_request())
def test_generated_requests_are_valid_openai_json(req: ChatRequest) -> None:
    """Every generated request encodes to a body the fake's independent validator accepts."""
    http = encode_request("openai", req, api_key="k").unwrap()
    body = json.loads(http.body)
    assert fake_openai.request_problem(body) is None
    assert len(body["messages"]) == len(req.messages)
    for wire, m in zip(body["messages"], req.messages, strict=True):
        assert wire["role"] == m.role.value
    if req.max_tokens is not None:
        assert body["max_completion_tokens"] == req.max_tokens


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=300))
def test_decode_response_is_total(status: int, body: bytes) -> None:
    """Arbitrary bytes with any status give a Result; nothing raises."""
    result = decode_response("openai", status, body)
    assert isinstance(result, Success | Failure)
    if not 200 <= status < 300:
        assert isinstance(result, Failure) and result.failure().status == status
        assert result.failure().provider == "openai"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_decode_stream_is_total(pieces: list[bytes]) -> None:
    """Arbitrary stream bytes give a Result; nothing raises."""
    assert isinstance(decode_stream("openai", pieces), Success | Failure)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"data: ", b"{", b"}", b'"choices"', b":", b"[", b"]", b"\n", b"\n\n", b"[DONE]",
                                 b'{"choices":[{"delta":{"content":"x"}}]}', b'{"error":{"message":"m"}}', b"\r"]),
                max_size=30))
def test_decode_stream_total_on_near_valid_input(parts: list[bytes]) -> None:
    """Input assembled from SSE and JSON fragments (closer to real failures) never raises either."""
    assert isinstance(decode_stream("openai", [b"".join(parts)]), Success | Failure)


def test_decode_unknown_provider_is_a_failure() -> None:
    """Entry points with an unknown provider name return invalid_model, never raise."""
    assert decode_response("nope", 200, b"{}").failure().kind is ErrorKind.INVALID_MODEL
    assert decode_stream("nope", [b""]).failure().kind is ErrorKind.INVALID_MODEL
    assert encode_request("nope", ChatRequest(model="m", messages=(Message.user("x"),))).failure().kind is ErrorKind.INVALID_MODEL


def test_encode_accepts_plain_mappings() -> None:
    """The entry point also takes a dict in the unified shape (external checks pass JSON)."""
    http = encode_request("openai", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, api_key="k").unwrap()
    assert json.loads(http.body)["messages"] == [{"role": "user", "content": "hi"}]
    bad = encode_request("openai", {"model": "gpt-4o", "messages": "nope"}, api_key="k")
    assert bad.failure().kind is ErrorKind.INVALID_REQUEST


def test_unified_values_are_hashable_where_frozen() -> None:
    """Frozen schema values can be used as dict keys / in sets (tool calls dedupe)."""
    assert len({ToolCall("a", "f", "{}"), ToolCall("a", "f", "{}")}) == 1
    assert msgspec.structs.replace(ToolCall("a", "f"), arguments="{}") == ToolCall("a", "f", "{}")
