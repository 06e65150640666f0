"""The Anthropic dialect, pure: golden tables both ways, error mapping, stream folding, properties."""

from __future__ import annotations

import itertools
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
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
    ResponseFormat,
    Secret,
    TextPart,
    ToolCall,
    ToolChoiceFunction,
    ToolSpec,
    Usage,
    decode_stream,
    fold_chunks,
    get_dialect,
)
from interlingua.core.anthropic import ANTHROPIC, DEFAULT_MAX_TOKENS, AnthropicDialect
from interlingua.fakes.anthropic import message_payload, stream_frames, validate_messages_body

from .helpers import split_at

CFG = ProviderConfig(api_key=Secret("sk-ant-test"))
NO_CATALOG = AnthropicDialect(max_output_tokens=lambda model: None)
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
WEATHER_WIRE = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "description": "Weather for a city",
}


def _req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model="claude-sonnet-4-5", messages=messages, **kw)


def _body(req: ChatRequest, *, stream: bool = False, dialect: AnthropicDialect = NO_CATALOG) -> dict[str, Any]:
    return json.loads(dialect.encode_request(req, CFG, stream=stream).unwrap().body)


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# ---------------------------------------------------------------------------------------------
# Encode: one golden table, unified request -> wire body

ENCODE_CASES: list[tuple[str, ChatRequest, dict[str, Any]]] = [
    (
        "system lifted, default max_tokens",
        _req(Message.system("Be brief."), Message.user("hi")),
        {"model": "claude-sonnet-4-5", "max_tokens": DEFAULT_MAX_TOKENS, "messages": [_user("hi")],
         "system": "Be brief."},
    ),
    (
        "several system messages become text blocks; provider prefix stripped",
        ChatRequest(model="anthropic:claude-haiku-4-5", max_tokens=10,
                    messages=(Message.system("A"), Message.user("hi"), Message.system("B"))),
        {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [_user("hi")],
         "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
    ),
    (
        "consecutive user turns merged into blocks",
        _req(Message.user("one"), Message.user("two"), max_tokens=5),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}]},
    ),
    (
        "sampling options, stop sequences, user id, provider options",
        _req(Message.user("hi"), max_tokens=7, temperature=0.5, top_p=0.9, stop=("END",), user="u-1",
             seed=3, provider_options={"top_k": 5}),
        {"model": "claude-sonnet-4-5", "max_tokens": 7, "messages": [_user("hi")], "stop_sequences": ["END"],
         "temperature": 0.5, "top_p": 0.9, "metadata": {"user_id": "u-1"}, "top_k": 5},
    ),
    (
        "images: inline base64, a data URL, an https URL",
        _req(Message.user([TextPart("look"), ImagePart(data="AAAA", media_type="image/png"),
                           ImagePart(url="data:image/jpeg;base64,BBBB"), ImagePart(url="https://x.test/a.gif")]),
             max_tokens=5),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.gif"}}]}]},
    ),
    (
        "tools and a forced tool",
        _req(Message.user("hi"), max_tokens=5, tools=(WEATHER,), tool_choice=ToolChoiceFunction("get_weather")),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [_user("hi")], "tools": [WEATHER_WIRE],
         "tool_choice": {"type": "tool", "name": "get_weather"}},
    ),
    (
        "required -> any",
        _req(Message.user("hi"), max_tokens=5, tools=(WEATHER,), tool_choice="required"),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [_user("hi")], "tools": [WEATHER_WIRE],
         "tool_choice": {"type": "any"}},
    ),
    (
        "none and auto pass through",
        _req(Message.user("hi"), max_tokens=5, tools=(WEATHER,), tool_choice="none"),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [_user("hi")], "tools": [WEATHER_WIRE],
         "tool_choice": {"type": "none"}},
    ),
    (
        "thinking budget; max_tokens raised above the budget",
        _req(Message.user("hi"), reasoning=ReasoningConfig(budget_tokens=8000)),
        {"model": "claude-sonnet-4-5", "max_tokens": 8000 + DEFAULT_MAX_TOKENS, "messages": [_user("hi")],
         "thinking": {"type": "enabled", "budget_tokens": 8000}},
    ),
    (
        "effort alone -> output_config.effort",
        _req(Message.user("hi"), max_tokens=5, reasoning=ReasoningConfig(effort="high")),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [_user("hi")],
         "output_config": {"effort": "high"}},
    ),
    (
        "json_schema -> output_config.format (structured outputs)",
        _req(Message.user("hi"), max_tokens=5,
             response_format=ResponseFormat(schema={"type": "object", "properties": {"a": {"type": "string"}}})),
        {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [_user("hi")],
         "output_config": {"format": {"type": "json_schema",
                                      "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}},
    ),
    (
        "a tool round: reasoning first, parallel results in one user turn, error flag, then text",
        _req(
            Message.user("weather?"),
            Message.assistant(
                [TextPart("Checking."), ReasoningPart(text="hmm", signature="sig1"), ReasoningPart(redacted="xyz"),
                 ReasoningPart(text="unsigned, from elsewhere")],
                [ToolCall("toolu_a", "get_weather", '{"city": "Paris"}'), ToolCall("toolu_b", "get_weather", "")],
            ),
            Message.tool("toolu_a", "sunny"),
            Message.tool("toolu_b", "no such city", is_error=True),
            Message.user("thanks"),
            max_tokens=50,
        ),
        {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [
            _user("weather?"),
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig1"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "no such city", "is_error": True},
                {"type": "text", "text": "thanks"}]}]},
    ),
]


@pytest.mark.parametrize(("unified", "wire"), [c[1:] for c in ENCODE_CASES], ids=[c[0] for c in ENCODE_CASES])
def test_encode_golden(unified: ChatRequest, wire: dict[str, Any]) -> None:
    """Each unified request encodes to exactly the documented Messages body, which the fake accepts."""
    assert _body(unified) == wire
    assert validate_messages_body(wire) is None


def test_encode_headers_url_and_stream_flag() -> None:
    """POST {base}/v1/messages with x-api-key, anthropic-version and JSON content type; stream sets stream."""
    r = NO_CATALOG.encode_request(_req(Message.user("hi")), CFG, stream=True).unwrap()
    assert (r.method, r.url) == ("POST", "https://api.anthropic.com/v1/messages")
    assert r.headers["x-api-key"] == "sk-ant-test"
    assert r.headers["anthropic-version"] == "2023-06-01"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["accept"] == "text/event-stream"
    assert json.loads(r.body)["stream"] is True
    assert "sk-ant-test" not in repr(r)
    custom = ProviderConfig(api_key=Secret("k"), base_url="http://127.0.0.1:9/", api_version="2099-01-01",
                            headers=(("anthropic-beta", "x-2025"),))
    r2 = ANTHROPIC.encode_request(_req(Message.user("hi")), custom).unwrap()
    assert r2.url == "http://127.0.0.1:9/v1/messages"
    assert (r2.headers["anthropic-version"], r2.headers["anthropic-beta"]) == ("2099-01-01", "x-2025")


def test_max_tokens_from_catalog() -> None:
    """Without max_tokens the model's catalog max output is used; the request's value wins."""
    d = AnthropicDialect(max_output_tokens=lambda model: 64_000 if model == "claude-sonnet-4-5" else None)
    assert _body(_req(Message.user("hi")), dialect=d)["max_tokens"] == 64_000
    assert _body(_req(Message.user("hi"), max_tokens=9), dialect=d)["max_tokens"] == 9
    assert get_dialect("anthropic").unwrap() is ANTHROPIC


ENCODE_FAILURES: list[tuple[str, ChatRequest, ProviderConfig, ErrorKind, str]] = [
    ("json_object", _req(Message.user("hi"), response_format=ResponseFormat(type="json_object")), CFG,
     ErrorKind.INVALID_REQUEST, "no schemaless JSON mode"),
    ("schema missing", _req(Message.user("hi"), response_format=ResponseFormat()), CFG,
     ErrorKind.INVALID_REQUEST, "needs a schema"),
    ("empty", ChatRequest(model="claude-haiku-4-5", messages=()), CFG, ErrorKind.INVALID_REQUEST, "empty"),
    ("no key", _req(Message.user("hi")), ProviderConfig(), ErrorKind.AUTHENTICATION, "ANTHROPIC_API_KEY"),
    ("bad args", _req(Message.user("hi"), Message.assistant("", [ToolCall("t1", "f", "{not json")])), CFG,
     ErrorKind.INVALID_REQUEST, "not valid JSON"),
    ("assistant image", _req(Message.assistant([ImagePart(url="https://x.test/a.png")])), CFG,
     ErrorKind.INVALID_REQUEST, "images"),
    ("system image", _req(Message(role="system", content=(ImagePart(url="https://x.test/a.png"),))), CFG,
     ErrorKind.INVALID_REQUEST, "images"),
    ("tool without id", _req(Message(role="tool", content="x")), CFG, ErrorKind.INVALID_REQUEST, "tool_call_id"),
    ("plain http", _req(Message.user("hi")), ProviderConfig(api_key=Secret("k"), base_url="http://example.com"),
     ErrorKind.INVALID_REQUEST, "plain http"),
]


@pytest.mark.parametrize(("req", "cfg", "kind", "text"), [c[1:] for c in ENCODE_FAILURES],
                         ids=[c[0] for c in ENCODE_FAILURES])
def test_encode_refuses(req: ChatRequest, cfg: ProviderConfig, kind: ErrorKind, text: str) -> None:
    """Requests Anthropic cannot honour are a typed Failure, never silently changed."""
    r = ANTHROPIC.encode_request(req, cfg)
    assert isinstance(r, Failure)
    assert r.failure().kind is kind
    assert text in r.failure().message


def test_count_tokens_roundtrip() -> None:
    """count_tokens posts the countable fields only and decodes input_tokens or a typed error."""
    req = _req(Message.system("s"), Message.user("hi"), max_tokens=5, temperature=0.2, tools=(WEATHER,),
               reasoning=ReasoningConfig(budget_tokens=2048))
    r = ANTHROPIC.encode_count_tokens(req, CFG).unwrap()
    assert r.url == "https://api.anthropic.com/v1/messages/count_tokens"
    assert json.loads(r.body) == {"model": "claude-sonnet-4-5", "messages": [_user("hi")], "system": "s",
                                  "tools": [WEATHER_WIRE], "thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert ANTHROPIC.decode_count_tokens(HttpResponse(200, body=b'{"input_tokens":42}')).unwrap() == 42
    err = ANTHROPIC.decode_count_tokens(HttpResponse(404, body=_err_body("not_found_error", "model: x")))
    assert err.failure().kind is ErrorKind.NOT_FOUND
    assert ANTHROPIC.decode_count_tokens(HttpResponse(200, body=b"{}")).failure().kind is ErrorKind.DECODE


# ---------------------------------------------------------------------------------------------
# Decode: wire message -> unified response


def _msg(content: list[dict[str, Any]], stop: str = "end_turn", usage: dict[str, Any] | None = None,
         stop_sequence: str | None = None) -> bytes:
    return json.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                       "content": content, "stop_reason": stop, "stop_sequence": stop_sequence,
                       "usage": usage or {"input_tokens": 10, "output_tokens": 5}}).encode()


def _resp(message: Message, finish: FinishReason, raw: str, usage: Usage | None = None,
          meta: dict[str, Any] | None = None) -> ChatResponse:
    return ChatResponse(id="msg_1", model="claude-sonnet-4-5", created=0, message=message, finish_reason=finish,
                        raw_finish_reason=raw, usage=usage or Usage(prompt_tokens=10, completion_tokens=5,
                                                                    total_tokens=15),
                        provider="anthropic", provider_metadata=meta or {})


DECODE_CASES: list[tuple[str, bytes, ChatResponse]] = [
    ("text", _msg([{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]),
     _resp(Message.assistant("Hello"), FinishReason.STOP, "end_turn")),
    ("tool use with thinking", _msg([
        {"type": "thinking", "thinking": "t", "signature": "s"},
        {"type": "redacted_thinking", "data": "r"},
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "n": [1, 2.5]}},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
    ], "tool_use"),
     _resp(Message.assistant([ReasoningPart(text="t", signature="s"), ReasoningPart(redacted="r"),
                              TextPart("Let me check.")],
                             [ToolCall("toolu_1", "get_weather", '{"city":"Paris","n":[1,2.5]}')]),
           FinishReason.TOOL_CALLS, "tool_use")),
    ("max_tokens", _msg([{"type": "text", "text": "cut"}], "max_tokens"),
     _resp(Message.assistant("cut"), FinishReason.LENGTH, "max_tokens")),
    ("stop sequence kept", _msg([{"type": "text", "text": "a"}], "stop_sequence", stop_sequence="END"),
     _resp(Message.assistant("a"), FinishReason.STOP, "stop_sequence", meta={"stop_sequence": "END"})),
    ("refusal", _msg([], "refusal"), _resp(Message.assistant(""), FinishReason.CONTENT_FILTER, "refusal")),
    ("pause_turn", _msg([], "pause_turn"), _resp(Message.assistant(""), FinishReason.OTHER, "pause_turn")),
    ("cache usage", _msg([{"type": "text", "text": "x"}], usage={
        "input_tokens": 3, "output_tokens": 7, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 50,
        "output_tokens_details": {"thinking_tokens": 2}}),
     _resp(Message.assistant("x"), FinishReason.STOP, "end_turn",
           Usage(prompt_tokens=153, completion_tokens=7, total_tokens=160, cached_tokens=50,
                 cache_write_tokens=100, reasoning_tokens=2))),
]


@pytest.mark.parametrize(("wire", "unified"), [c[1:] for c in DECODE_CASES], ids=[c[0] for c in DECODE_CASES])
def test_decode_golden(wire: bytes, unified: ChatResponse) -> None:
    """Each documented message shape decodes to exactly this unified response."""
    assert ANTHROPIC.decode_response(HttpResponse(200, body=wire)).unwrap() == unified


def test_decoded_turn_encodes_back_unchanged() -> None:
    """A decoded assistant turn (thinking, tool calls) goes back on the wire block for block."""
    content = [{"type": "thinking", "thinking": "t", "signature": "s"},
               {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 1}}]
    resp = ANTHROPIC.decode_response(HttpResponse(200, body=_msg(content, "tool_use"))).unwrap()
    body = _body(_req(Message.user("q"), resp.message, Message.tool("toolu_1", "ok")))
    assert body["messages"][1] == {"role": "assistant", "content": content}


# ---------------------------------------------------------------------------------------------
# Errors


def _err_body(type_: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": type_, "message": message},
                       "request_id": "req_1"}).encode()


ERROR_CASES: list[tuple[str, int, dict[str, str], bytes, ErrorKind, str | None]] = [
    ("invalid", 400, {}, _err_body("invalid_request_error", "max_tokens: Field required"),
     ErrorKind.INVALID_REQUEST, "invalid_request_error"),
    ("prompt too long", 400, {}, _err_body("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
     ErrorKind.CONTEXT_LENGTH_EXCEEDED, "invalid_request_error"),
    ("auth", 401, {}, _err_body("authentication_error", "invalid x-api-key"), ErrorKind.AUTHENTICATION,
     "authentication_error"),
    ("billing", 402, {}, _err_body("billing_error", "credit balance too low"), ErrorKind.PERMISSION, "billing_error"),
    ("permission", 403, {}, _err_body("permission_error", "no"), ErrorKind.PERMISSION, "permission_error"),
    ("not found", 404, {}, _err_body("not_found_error", "model: claude-x"), ErrorKind.NOT_FOUND, "not_found_error"),
    ("too large", 413, {}, _err_body("request_too_large", "Request exceeds the maximum allowed number of bytes."),
     ErrorKind.INVALID_REQUEST, "request_too_large"),
    ("rate limit", 429, {"retry-after": "7", "anthropic-ratelimit-requests-remaining": "0", "request-id": "req_1"},
     _err_body("rate_limit_error", "slow down"), ErrorKind.RATE_LIMIT, "rate_limit_error"),
    ("api error", 500, {}, _err_body("api_error", "Internal server error"), ErrorKind.PROVIDER, "api_error"),
    ("timeout", 504, {}, _err_body("timeout_error", "Request timed out"), ErrorKind.TIMEOUT, "timeout_error"),
    ("overloaded", 529, {}, _err_body("overloaded_error", "Overloaded"), ErrorKind.OVERLOADED, "overloaded_error"),
    ("HTML 502", 502, {"content-type": "text/html"}, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
     ErrorKind.PROVIDER, None),
    ("empty 500", 500, {}, b"", ErrorKind.PROVIDER, None),
    ("truncated JSON 400", 400, {}, _err_body("invalid_request_error", "x")[:30], ErrorKind.INVALID_REQUEST, None),
    ("unknown type 418", 418, {}, _err_body("teapot_error", "short and stout"), ErrorKind.INVALID_REQUEST,
     "teapot_error"),
]


@pytest.mark.parametrize(("status", "headers", "body", "kind", "code"), [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_error_mapping(status: int, headers: dict[str, str], body: bytes, kind: ErrorKind, code: str | None) -> None:
    """(status, headers, body) -> an LlmError of the right kind, code and status."""
    r = ANTHROPIC.decode_response(HttpResponse(status, Headers(headers), body))
    err = r.failure()
    assert (err.kind, err.code, err.status, err.provider) == (kind, code, status, "anthropic")
    assert err.message


def test_error_details_kept() -> None:
    """Retry-After, anthropic-ratelimit-* and request-id survive; x-should-retry overrides the guess."""
    h = Headers({"retry-after": "7", "anthropic-ratelimit-tokens-remaining": "0", "request-id": "req_9",
                 "x-api-key": "never-kept"})
    err = ANTHROPIC.decode_error(HttpResponse(429, h, _err_body("rate_limit_error", "slow down")))
    assert err.retry_after == 7.0 and err.is_retryable() and err.message == "slow down"
    assert err.headers == {"retry-after": "7", "anthropic-ratelimit-tokens-remaining": "0", "request-id": "req_9"}
    html = ANTHROPIC.decode_error(HttpResponse(502, body=b"<html>Bad Gateway</html>"))
    assert html.message == "HTTP 502: an HTML error page"
    hinted = ANTHROPIC.decode_error(HttpResponse(529, Headers({"x-should-retry": "false"}),
                                                 _err_body("overloaded_error", "Overloaded")))
    assert hinted.kind is ErrorKind.OVERLOADED and not hinted.is_retryable()
    in_200 = ANTHROPIC.decode_response(HttpResponse(200, body=_err_body("overloaded_error", "Overloaded")))
    assert in_200.failure().kind is ErrorKind.OVERLOADED


# ---------------------------------------------------------------------------------------------
# Streams

# The example from https://docs.anthropic.com/en/api/messages-streaming ("Basic streaming request").
DOC_STREAM = b"""event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-6", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

"""

# Tool use as the docs show it: the input arrives as partial JSON in the server's own spacing.
TOOL_STREAM = b"""event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-opus-4-6","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Need the weather."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Okay"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"x"}}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\": \\"San Fra"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_02","name":"now","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89,"input_tokens":472,"cache_read_input_tokens":0}}

event: message_stop
data: {"type":"message_stop"}

"""


def test_doc_stream_folds() -> None:
    """The documented text stream folds to the message it describes, with cumulative usage."""
    r = decode_stream("anthropic", [DOC_STREAM]).unwrap()
    assert (r.id, r.model, r.text, r.finish_reason, r.raw_finish_reason) == (
        "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "claude-opus-4-6", "Hello!", FinishReason.STOP, "end_turn")
    assert r.usage == Usage(prompt_tokens=25, completion_tokens=15, total_tokens=40)


def test_tool_stream_folds_to_normalised_calls() -> None:
    """Thinking, text and two tool calls fold in order; arguments are compact JSON as non-stream gives."""
    r = decode_stream("anthropic", [TOOL_STREAM]).unwrap()
    assert r.message.content == (ReasoningPart(text="Need the weather.", signature="EqQBCgIYAhIM"), TextPart("Okay"))
    assert r.tool_calls == (ToolCall("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", '{"location":"San Francisco, CA"}'),
                            ToolCall("toolu_02", "now", "{}"))
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.usage == Usage(prompt_tokens=472, completion_tokens=89, total_tokens=561)


def test_stream_chunks_carry_cumulative_usage() -> None:
    """Every usage-bearing chunk holds the running total (input from message_start + output so far)."""
    st, evs = ANTHROPIC.stream_feed(ANTHROPIC.stream_start(), DOC_STREAM)
    usages = [e.usage for e in evs if isinstance(e, ChatChunk) and e.usage is not None]
    assert usages == [Usage(prompt_tokens=25, completion_tokens=1, total_tokens=26),
                      Usage(prompt_tokens=25, completion_tokens=15, total_tokens=40)]
    assert ANTHROPIC.stream_finish(st).unwrap() == ()
    after, more = ANTHROPIC.stream_feed(st, b"event: message_stop\ndata: {}\n\n")
    assert more == () and after == st


def _events(chunks: list[bytes]) -> list[ChatChunk | LlmError]:
    st = ANTHROPIC.stream_start()
    out: list[ChatChunk | LlmError] = []
    for c in chunks:
        st, evs = ANTHROPIC.stream_feed(st, c)
        out.extend(evs)
    tail = ANTHROPIC.stream_finish(st)
    out.extend(tail.unwrap() if isinstance(tail, Success) else [tail.failure()])
    return out


START = DOC_STREAM.split(b"\n\n")[0] + b"\n\n"


@pytest.mark.parametrize(
    ("frame", "kind", "code"),
    [
        (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
         ErrorKind.OVERLOADED, "overloaded_error"),
        (b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"slow"}}\n\n',
         ErrorKind.RATE_LIMIT, "rate_limit_error"),
        (b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Internal"}}\n\n',
         ErrorKind.STREAMING, "api_error"),
        (b"event: error\ndata: {}\n\n", ErrorKind.STREAMING, None),
        (b"event: content_block_delta\ndata: {not json\n\n", ErrorKind.STREAMING, None),
    ],
)
def test_stream_error_events(frame: bytes, kind: ErrorKind, code: str | None) -> None:
    """An error event mid-stream ends the stream with an LlmError of the named kind."""
    out = _events([START, frame, DOC_STREAM])
    err = next(e for e in out if isinstance(e, LlmError))
    assert (err.kind, err.code) == (kind, code)
    assert sum(isinstance(e, LlmError) for e in out) == 2  # the event, then "already failed" from finish


def test_stream_without_message_stop_is_an_error() -> None:
    """A stream cut before message_stop (even after message_delta) is a streaming failure."""
    cut = DOC_STREAM[: DOC_STREAM.index(b"event: message_stop")]
    r = decode_stream("anthropic", [cut])
    assert r.failure().kind is ErrorKind.STREAMING and "message_stop" in r.failure().message
    assert decode_stream("anthropic", [b""]).failure().kind is ErrorKind.STREAMING


def test_stream_without_trailing_blank_line() -> None:
    """A final message_stop event without its closing blank line still completes the stream."""
    assert decode_stream("anthropic", [DOC_STREAM.rstrip(b"\n")]).unwrap().text == "Hello!"


# ---------------------------------------------------------------------------------------------
# Properties

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), _text)
_json = st.recursive(_json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(_text, c, max_size=3),
                     max_leaves=8)
_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=4, max_size=10)

_block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _text),
    st.builds(lambda t, s: {"type": "thinking", "thinking": t, "signature": s}, _text, _ids),
    st.builds(lambda d: {"type": "redacted_thinking", "data": d}, _ids),
    st.builds(lambda i, n, a: {"type": "tool_use", "id": "toolu_" + i, "name": n, "input": a},
              _ids, _ids, st.dictionaries(_text, _json, max_size=4)),
)


@st.composite
def _messages(draw: st.DrawFn) -> tuple[bytes, list[bytes], list[dict[str, Any]]]:
    blocks = draw(st.lists(_block, max_size=6))
    usage = {"input_tokens": draw(st.integers(0, 10**6)), "cache_creation_input_tokens": draw(st.integers(0, 999)),
             "cache_read_input_tokens": draw(st.integers(0, 999)), "output_tokens": draw(st.integers(1, 10**5)),
             "service_tier": "standard"}
    stop = draw(st.sampled_from(["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]))
    seq = draw(st.none() | _text) if stop == "stop_sequence" else None
    payload = message_payload("msg_x", "claude-sonnet-4-5", blocks, stop, seq, usage)
    frames = stream_frames("msg_x", "claude-sonnet-4-5", blocks, stop, seq, usage)
    return json.dumps(payload, ensure_ascii=False).encode(), frames, blocks


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages(), st.lists(st.integers(0, 20_000), max_size=12))
def test_fake_messages_decode_and_any_split_folds_to_the_same(
    m: tuple[bytes, list[bytes], list[dict[str, Any]]], cuts: list[int]
) -> None:
    """Messages written by the fake decode to their content, and any split of the stream folds to it."""
    body, frames, blocks = m
    resp = ANTHROPIC.decode_response(HttpResponse(200, body=body)).unwrap()
    assert resp.text == "".join(b["text"] for b in blocks if b["type"] == "text")
    assert resp.tool_calls == tuple(
        ToolCall(b["id"], b["name"], msgspec.json.encode(b["input"]).decode()) for b in blocks if b["type"] == "tool_use")
    assert [p for p in resp.message.parts if isinstance(p, ReasoningPart)] == [
        ReasoningPart(text=b["thinking"], signature=b["signature"]) if b["type"] == "thinking"
        else ReasoningPart(redacted=b["data"]) for b in blocks if b["type"] in ("thinking", "redacted_thinking")]
    whole = b"".join(frames)
    assert decode_stream("anthropic", split_at(whole, cuts)).unwrap() == resp
    assert decode_stream("anthropic", frames).unwrap() == resp


@settings(max_examples=25, deadline=None)
@given(_messages())
def test_byte_at_a_time(m: tuple[bytes, list[bytes], list[dict[str, Any]]]) -> None:
    """Feeding one byte at a time (splitting UTF-8 characters) gives the same response."""
    body, frames, _ = m
    whole = b"".join(frames)
    assert decode_stream("anthropic", [whole[i:i + 1] for i in range(len(whole))]).unwrap() == \
        ANTHROPIC.decode_response(HttpResponse(200, body=body)).unwrap()


@st.composite
def _conversations(draw: st.DrawFn) -> ChatRequest:
    msgs: list[Message] = []
    if draw(st.booleans()):
        msgs.append(Message.system(draw(_text)))
    n = 0
    for _ in range(draw(st.integers(1, 4))):
        msgs.append(Message.user(draw(_text)))
        if draw(st.booleans()):
            calls = []
            for _ in range(draw(st.integers(1, 3))):
                n += 1
                calls.append(ToolCall(f"toolu_{n}", draw(_ids), msgspec.json.encode(draw(
                    st.dictionaries(_text, _json, max_size=3))).decode()))
            reasoning = [ReasoningPart(text=draw(_text), signature=draw(_ids))] if draw(st.booleans()) else []
            msgs.append(Message.assistant([*reasoning, TextPart(draw(st.text(max_size=10)))], calls))
            msgs.extend(Message.tool(c.id, draw(_text), is_error=draw(st.booleans())) for c in calls)
            if draw(st.booleans()):
                msgs.append(Message.user(draw(_text)))
        else:
            msgs.append(Message.assistant(draw(_text)))
    return ChatRequest(
        model="claude-sonnet-4-5",
        messages=tuple(msgs),
        tools=(WEATHER,) if draw(st.booleans()) else (),
        temperature=draw(st.none() | st.floats(0, 1)),
        max_tokens=draw(st.none() | st.integers(1, 8000)),
        stop=tuple(draw(st.lists(_text, max_size=2))),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_conversations())
def test_requests_encode_to_valid_anthropic_json(req: ChatRequest) -> None:
    """Any well-formed conversation encodes to a body the documented validation rules accept."""
    body = json.loads(ANTHROPIC.encode_request(req, CFG).unwrap().body)
    assert validate_messages_body(body) is None
    roles = [m["role"] for m in body["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert isinstance(body["max_tokens"], int) and body["max_tokens"] >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(100, 599))
def test_decoders_are_total(data: bytes, status: int) -> None:
    """Arbitrary bytes never raise: every decoder answers with a value or a Failure."""
    assert isinstance(ANTHROPIC.decode_response(HttpResponse(status, body=data)), Success | Failure)
    assert isinstance(ANTHROPIC.decode_error(HttpResponse(status, body=data)), LlmError)
    assert isinstance(ANTHROPIC.decode_count_tokens(HttpResponse(status, body=data)), Success | Failure)
    st_, _ = ANTHROPIC.stream_feed(ANTHROPIC.stream_start(), data)
    assert isinstance(ANTHROPIC.stream_finish(st_), Success | Failure)
    framed = b"event: x\ndata: " + data + b"\n\n"
    st2, _ = ANTHROPIC.stream_feed(ANTHROPIC.stream_start(), START + framed)
    assert isinstance(ANTHROPIC.stream_finish(st2), Success | Failure)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["message_start", "content_block_start", "content_block_delta",
                                 "content_block_stop", "message_delta", "message_stop", "error", "ping"]),
                max_size=8),
       st.lists(st.dictionaries(st.sampled_from(["index", "delta", "content_block", "usage", "message", "type"]),
                                _json, max_size=4), min_size=8, max_size=8))
def test_stream_total_on_arbitrary_event_shapes(names: list[str], datas: list[dict[str, Any]]) -> None:
    """Well-framed events with arbitrary JSON bodies never raise."""
    raw = b"".join(b"event: " + n.encode() + b"\ndata: " + json.dumps({**d, "type": n}).encode() + b"\n\n"
                   for n, d in zip(names, datas, strict=False))
    items = _events([raw])
    assert all(isinstance(i, ChatChunk | LlmError) for i in items)
    if not any(isinstance(i, LlmError) for i in items):
        assert isinstance(fold_chunks([i for i in items if isinstance(i, ChatChunk)], "anthropic"), ChatResponse)
