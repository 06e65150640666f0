"""The Ollama dialect, pure: golden tables both ways, errors, streams, round trips, totality."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
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
    ReasoningPart,
    Role,
    Secret,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
    decode_stream,
    fold_chunks,
    get_dialect,
)
from interlingua.core.ollama import OLLAMA, normalize_host, parse_rfc3339, synthetic_call_id
from interlingua.core.schema import ReasoningConfig, ResponseFormat, ToolChoiceFunction
from interlingua.effects import LlmConfig
from interlingua.fakes._content import Decision
from interlingua.fakes.ollama import chat_payload, stream_lines

from .helpers import split_at

CFG = ProviderConfig()
WEATHER = ToolSpec(name="get_weather", description="Weather for a city",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
WEATHER_WIRE = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER.parameters,
                                                 "description": "Weather for a city"}}
PNG = "iVBORw0KGgo="


def wire(req: ChatRequest, *, stream: bool = False, cfg: ProviderConfig = CFG) -> Any:
    return json.loads(OLLAMA.encode_request(req, cfg, stream=stream).unwrap().body)


def req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model="llama3.2", messages=messages, **kw)


# ---------------------------------------------------------------------------------------------
# Encode: unified request -> wire body

ENCODE_CASES: list[tuple[str, ChatRequest, bool, dict[str, Any]]] = [
    ("plain", req(Message.user("hi")), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False}),
    ("stream flag always explicit", req(Message.user("hi")), True,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": True}),
    ("provider prefix stripped", ChatRequest(model="ollama:qwen3:8b", messages=(Message.user("x"),)), False,
     {"model": "qwen3:8b", "messages": [{"role": "user", "content": "x"}], "stream": False}),
    ("options", req(Message.system("be brief"), Message.user("hi"), temperature=0.2, top_p=0.9, max_tokens=64,
                    stop=("\n\n",), seed=7), False,
     {"model": "llama3.2", "stream": False,
      "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
      "options": {"temperature": 0.2, "top_p": 0.9, "num_predict": 64, "stop": ["\n\n"], "seed": 7}}),
    ("provider options: num_ctx into options, keep_alive top level",
     req(Message.user("hi"), temperature=0.0, provider_options={"num_ctx": 8192, "keep_alive": "10m", "top_k": 20}),
     False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False,
      "options": {"temperature": 0.0, "num_ctx": 8192, "top_k": 20}, "keep_alive": "10m"}),
    ("json mode", req(Message.user("hi"), response_format=ResponseFormat(type="json_object")), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False, "format": "json"}),
    ("json schema", req(Message.user("hi"), response_format=ResponseFormat(schema={"type": "object"})), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False,
      "format": {"type": "object"}}),
    ("think true", req(Message.user("hi"), reasoning=ReasoningConfig()), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False, "think": True}),
    ("think level", req(Message.user("hi"), reasoning=ReasoningConfig(effort="high")), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False, "think": "high"}),
    ("tools", req(Message.user("weather?"), tools=(WEATHER,)), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "weather?"}], "stream": False,
      "tools": [WEATHER_WIRE]}),
    ("tool_choice none sends no tools", req(Message.user("w"), tools=(WEATHER,), tool_choice="none"), False,
     {"model": "llama3.2", "messages": [{"role": "user", "content": "w"}], "stream": False}),
    ("images: base64 and data: URLs",
     req(Message.user([TextPart("what is this?"), ImagePart(data=PNG, media_type="image/png"),
                       ImagePart(url=f"data:image/png;base64,{PNG}"), ImagePart(url="data:text/plain,hi%21")])),
     False,
     {"model": "llama3.2", "stream": False,
      "messages": [{"role": "user", "content": "what is this?", "images": [PNG, PNG, "aGkh"]}]}),
    ("assistant history with thinking and a tool call, then the result",
     req(Message.user("weather in Paris?"),
         Message.assistant([ReasoningPart(text="need the tool")],
                           [ToolCall("call_1", "get_weather", '{"city": "Paris"}')]),
         Message.tool("call_1", "sunny")), False,
     {"model": "llama3.2", "stream": False, "messages": [
         {"role": "user", "content": "weather in Paris?"},
         {"role": "assistant", "content": "", "thinking": "need the tool",
          "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_1"}]},
         {"role": "tool", "content": "sunny", "tool_name": "get_weather", "tool_call_id": "call_1"}]}),
]


@pytest.mark.parametrize(("label", "request_", "stream", "expected"), ENCODE_CASES, ids=[c[0] for c in ENCODE_CASES])
def test_encode_golden(label: str, request_: ChatRequest, stream: bool, expected: dict[str, Any]) -> None:
    """Each unified request encodes to exactly the body Ollama documents."""
    assert wire(request_, stream=stream) == expected


def test_encode_request_line_and_headers() -> None:
    """POST /api/chat on the default local base, no auth unless a key is configured."""
    r = OLLAMA.encode_request(req(Message.user("hi")), CFG, stream=True).unwrap()
    assert (r.method, r.url) == ("POST", "http://127.0.0.1:11434/api/chat")
    assert r.headers["accept"] == "application/x-ndjson"
    assert "authorization" not in r.headers
    keyed = OLLAMA.encode_request(req(Message.user("hi")),
                                  ProviderConfig(base_url="https://ollama.com", api_key=Secret("k-1"))).unwrap()
    assert keyed.url == "https://ollama.com/api/chat"
    assert keyed.headers["authorization"] == "Bearer k-1"
    assert "k-1" not in repr(keyed)


@pytest.mark.parametrize(("request_", "fragment"), [
    (req(Message.user([ImagePart(url="https://example.com/cat.png")])), "cannot fetch"),
    (req(Message.user("x"), Message.assistant("", [ToolCall("c", "f", "{not json")])), "invalid JSON"),
    (req(Message.user("x"), Message.assistant("", [ToolCall("c", "f", "[1, 2]")])), "JSON object"),
    (req(Message.user("x"), tools=(WEATHER,), tool_choice=ToolChoiceFunction("nope")), "not in tools"),
    (ChatRequest(model="llama3.2", messages=()), "must not be empty"),
])
def test_encode_refuses(request_: ChatRequest, fragment: str) -> None:
    """What Ollama cannot take is an invalid_request Failure, never a silent drop."""
    r = OLLAMA.encode_request(request_, CFG)
    assert isinstance(r, Failure)
    assert r.failure().kind is ErrorKind.INVALID_REQUEST
    assert fragment in r.failure().message


def test_named_tool_choice_narrows_tools() -> None:
    """Ollama cannot force a call; a named tool_choice sends only that tool."""
    other = ToolSpec(name="other")
    body = wire(req(Message.user("x"), tools=(other, WEATHER), tool_choice=ToolChoiceFunction("get_weather")))
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]


def test_lan_http_needs_opt_in() -> None:
    """Plain http to a LAN Ollama is refused unless allow_insecure_http is set; loopback is fine."""
    lan = ProviderConfig(base_url="http://192.168.1.20:11434")
    assert OLLAMA.encode_request(req(Message.user("x")), lan).failure().kind is ErrorKind.INVALID_REQUEST
    ok = msgspec.structs.replace(lan, allow_insecure_http=True)
    assert OLLAMA.encode_request(req(Message.user("x")), ok).unwrap().url == "http://192.168.1.20:11434/api/chat"


def test_cross_dialect_tool_conversation() -> None:
    """user → assistant with 2 calls → 2 results → user, in the unified schema, encodes for Ollama."""
    conv = req(
        Message.system("You are a travel agent."),
        Message.user("Weather and time in Paris?"),
        Message.assistant("Let me check.", [ToolCall("call_a", "get_weather", '{"city":"Paris"}'),
                                            ToolCall("call_b", "get_time", '{"tz":"Europe/Paris","fmt":24}')]),
        Message.tool("call_b", "14:05"),
        Message.tool("call_a", '{"sky":"clear","c":21}'),
        Message.user("Thanks! And tomorrow?"),
        tools=(WEATHER, ToolSpec(name="get_time")),
    )
    assert wire(conv)["messages"] == [
        {"role": "system", "content": "You are a travel agent."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}, "id": "call_a"},
            {"function": {"name": "get_time", "arguments": {"tz": "Europe/Paris", "fmt": 24}}, "id": "call_b"}]},
        {"role": "tool", "content": "14:05", "tool_name": "get_time", "tool_call_id": "call_b"},
        {"role": "tool", "content": '{"sky":"clear","c":21}', "tool_name": "get_weather", "tool_call_id": "call_a"},
        {"role": "user", "content": "Thanks! And tomorrow?"},
    ]


# ---------------------------------------------------------------------------------------------
# Decode: wire body -> unified response (and back again, for the assistant turn)

T0 = "2024-07-22T20:33:28.123648Z"
T0_UNIX = 1721680408
METRICS = {"total_duration": 885095291, "load_duration": 3753500, "prompt_eval_count": 122,
           "prompt_eval_duration": 328493000, "eval_count": 33, "eval_duration": 552222000}
DURATIONS = {k: v for k, v in METRICS.items() if k.endswith("duration")}


USAGE = Usage(prompt_tokens=122, completion_tokens=33, total_tokens=155)


def response(message: Message, finish: FinishReason, raw: str | None, usage: Usage = USAGE,
             meta: dict[str, Any] | None = None) -> ChatResponse:
    return ChatResponse(id="", model="llama3.2", created=T0_UNIX, message=message, finish_reason=finish,
                        raw_finish_reason=raw, usage=usage, provider="ollama",
                        provider_metadata=DURATIONS if meta is None else meta)


DECODE_CASES: list[tuple[str, dict[str, Any], ChatResponse]] = [
    ("text", {"message": {"role": "assistant", "content": "Hello!"}, "done_reason": "stop", "done": True, **METRICS},
     response(Message.assistant("Hello!"), FinishReason.STOP, "stop")),
    ("thinking then answer",
     {"message": {"role": "assistant", "content": "3", "thinking": "count the r's"}, "done_reason": "stop",
      "done": True, **METRICS},
     response(Message.assistant([ReasoningPart(text="count the r's"), TextPart("3")]), FinishReason.STOP, "stop")),
    ("tool call with id (current servers): done_reason stop → tool_calls",
     {"message": {"role": "assistant", "content": "", "tool_calls": [
         {"id": "call_k3x9", "function": {"index": 0, "name": "get_weather",
                                          "arguments": {"format": "celsius", "location": "Paris, FR"}}}]},
      "done_reason": "stop", "done": True, **METRICS},
     response(Message.assistant("", [ToolCall("call_k3x9", "get_weather",
                                              '{"format":"celsius","location":"Paris, FR"}')]),
              FinishReason.TOOL_CALLS, "stop")),
    ("tool call without id (older servers) gets a synthetic stable id",
     {"message": {"role": "assistant", "content": "", "tool_calls": [
         {"function": {"name": "f", "arguments": {}}}]}, "done": True, **METRICS},
     response(Message.assistant("", [ToolCall(synthetic_call_id(0, "f", "{}"), "f", "{}")]),
              FinishReason.TOOL_CALLS, None)),
    ("length", {"message": {"role": "assistant", "content": "Once"}, "done_reason": "length", "done": True, **METRICS},
     response(Message.assistant("Once"), FinishReason.LENGTH, "length")),
    ("load: no generation", {"message": {"role": "assistant", "content": ""}, "done_reason": "load", "done": True},
     response(Message.assistant(""), FinishReason.OTHER, "load", Usage(), {})),
    ("older server: done without done_reason",
     {"message": {"role": "assistant", "content": "Hi"}, "done": True, **METRICS},
     response(Message.assistant("Hi"), FinishReason.STOP, None)),
]


@pytest.mark.parametrize(("label", "body", "expected"), DECODE_CASES, ids=[c[0] for c in DECODE_CASES])
def test_decode_golden(label: str, body: dict[str, Any], expected: ChatResponse) -> None:
    """Each documented response decodes to exactly this unified response."""
    full = {"model": "llama3.2", "created_at": T0, **body}
    assert OLLAMA.decode_response(HttpResponse(200, body=json.dumps(full).encode())).unwrap() == expected


@pytest.mark.parametrize(("label", "body", "expected"), DECODE_CASES[:5], ids=[c[0] for c in DECODE_CASES[:5]])
def test_decoded_turn_encodes_back(label: str, body: dict[str, Any], expected: ChatResponse) -> None:
    """The decoded assistant turn, sent back as history, is the message Ollama sent (plus the call ids)."""
    sent = wire(req(Message.user("q"), expected.message))["messages"][1]
    original = body["message"]
    assert sent["content"] == original["content"]
    assert sent.get("thinking") == original.get("thinking")
    assert [c["function"]["arguments"] for c in sent.get("tool_calls", [])] == \
        [c["function"]["arguments"] for c in original.get("tool_calls", [])]


def test_decode_via_generic_entry_point() -> None:
    """The registry knows "ollama" and the generic decode goes through this dialect."""
    assert get_dialect("ollama").unwrap() is OLLAMA


# ---------------------------------------------------------------------------------------------
# Errors

ERROR_CASES: list[tuple[int, bytes, dict[str, str], ErrorKind, str]] = [
    (404, b'{"error":"model \\"llama9\\" not found, try pulling it first"}', {}, ErrorKind.NOT_FOUND,
     "run `ollama pull llama9`"),
    (404, b"{\"error\":\"model 'qwen9' not found\"}", {}, ErrorKind.NOT_FOUND, "ollama pull qwen9"),
    (400, b'{"error":"registry.ollama.ai/library/llava:7b does not support tools"}', {}, ErrorKind.INVALID_REQUEST,
     "does not support tools"),
    (400, b'{"error":"\\"llama3.2\\" does not support thinking"}', {}, ErrorKind.INVALID_REQUEST, "thinking"),
    (401, b'{"error":"unauthorized"}', {}, ErrorKind.AUTHENTICATION, "unauthorized"),
    (429, b'{"error":"too many requests"}', {"Retry-After": "2"}, ErrorKind.RATE_LIMIT, "too many"),
    (500, b'{"error":"an error was encountered while running the model"}', {}, ErrorKind.PROVIDER, "running the model"),
    (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {}, ErrorKind.PROVIDER, "HTML error page"),
    (503, b'{"error":"server busy, please try again.  maximum pending requests exceeded"}', {},
     ErrorKind.OVERLOADED, "server busy"),
    (500, b'{"error":"cut sh', {}, ErrorKind.PROVIDER, "HTTP 500"),
    (500, b"", {}, ErrorKind.PROVIDER, "empty body"),
]


@pytest.mark.parametrize(("status", "body", "headers", "kind", "fragment"), ERROR_CASES)
def test_error_mapping(status: int, body: bytes, headers: dict[str, str], kind: ErrorKind, fragment: str) -> None:
    """(status, headers, body) → the LlmError kind and a message that says what happened."""
    err = OLLAMA.decode_response(HttpResponse(status, Headers(headers), body)).failure()
    assert (err.kind, err.status, err.provider) == (kind, status, "ollama")
    assert fragment in err.message
    if "Retry-After" in headers:
        assert err.retry_after == 2.0


def test_error_body_with_200() -> None:
    """A 200 carrying only {"error": ...} is a provider failure, not an empty answer."""
    err = OLLAMA.decode_response(HttpResponse(200, body=b'{"error":"boom"}')).failure()
    assert err.kind is ErrorKind.PROVIDER and "boom" in err.message


# ---------------------------------------------------------------------------------------------
# Streams

STREAM = (
    b'{"model":"qwen3:8b","created_at":"2024-07-22T20:33:28.1Z","message":{"role":"assistant","content":"","thinking":"Hmm"},"done":false}\n'
    b'{"model":"qwen3:8b","created_at":"2024-07-22T20:33:28.2Z","message":{"role":"assistant","content":"Hel"},"done":false}\n'
    b'{"model":"qwen3:8b","created_at":"2024-07-22T20:33:28.3Z","message":{"role":"assistant","content":"lo \xc3\xa9"},"done":false}\n'
    b'{"model":"qwen3:8b","created_at":"2024-07-22T20:33:28.4Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":4,"total_duration":9}\n'
)


def fold(pieces: list[bytes]) -> Any:
    return decode_stream("ollama", pieces)


def test_stream_golden() -> None:
    """Thinking, content and the done line fold into one response with usage and durations."""
    r = fold([STREAM]).unwrap()
    assert r.message == Message.assistant([ReasoningPart(text="Hmm"), TextPart("Hello é")])
    assert (r.finish_reason, r.raw_finish_reason, r.model, r.created) == (FinishReason.STOP, "stop", "qwen3:8b", T0_UNIX)
    assert r.usage == Usage(prompt_tokens=5, completion_tokens=4, total_tokens=9)
    assert r.provider_metadata == {"total_duration": 9}


def test_stream_byte_at_a_time() -> None:
    """Every byte its own read (UTF-8 split included) gives the same response."""
    assert fold([STREAM[i : i + 1] for i in range(len(STREAM))]) == fold([STREAM])


def test_stream_usage_only_on_done_line() -> None:
    """Only the done chunk carries usage (cumulative), with the finish reason."""
    st_, events = OLLAMA.stream_feed(OLLAMA.stream_start(), STREAM)
    chunks = [e for e in events if isinstance(e, ChatChunk)]
    assert [c.usage is not None for c in chunks] == [False, False, False, True]
    assert chunks[-1].finish_reason is FinishReason.STOP
    assert OLLAMA.stream_finish(st_).unwrap() == ()


def test_stream_error_line() -> None:
    """An {"error": ...} line mid-stream is a streaming LlmError and ends the stream."""
    body = STREAM.split(b"\n")[0] + b'\n{"error":"an error was encountered while running the model"}\n'
    err = fold([body]).failure()
    assert err.kind is ErrorKind.STREAMING and "running the model" in err.message


@pytest.mark.parametrize(("body", "fragment"), [
    (STREAM.rsplit(b"\n", 2)[0] + b"\n", '"done": true'),          # no done line at all
    (STREAM[: len(STREAM) - 40], "cut mid-line"),                  # cut inside the done line
    (b"", '"done": true'),
    (b"{not json}\n", "malformed stream line"),
])
def test_stream_cut_short(body: bytes, fragment: str) -> None:
    """A stream without its done line, or cut inside a line, is a streaming error."""
    err = fold([body]).failure()
    assert err.kind is ErrorKind.STREAMING and fragment in err.message


def test_stream_after_done_is_ignored() -> None:
    """Bytes after the done line cannot change the result."""
    assert fold([STREAM + b'{"message":{"content":"late"}}\n']) == fold([STREAM])


def test_stream_tool_calls_indexed_across_lines() -> None:
    """Calls in separate lines get consecutive indexes; the finish reason becomes tool_calls."""
    line = b'{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"%s","arguments":{"n":%d}}}]},"done":false}\n'
    body = line % (b"a", 1) + line % (b"b", 2) + b'{"model":"m","message":{"content":""},"done":true,"done_reason":"stop"}\n'
    r = fold([body]).unwrap()
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        (synthetic_call_id(0, "a", '{"n":1}'), "a", '{"n":1}'), (synthetic_call_id(1, "b", '{"n":2}'), "b", '{"n":2}')]
    assert (r.finish_reason, r.raw_finish_reason) == (FinishReason.TOOL_CALLS, "stop")


# ---------------------------------------------------------------------------------------------
# Round trips through the fake's own builders (written from Ollama's docs, not from this dialect)

decisions = st.builds(
    lambda text, reasoning, call, length: Decision(
        text=text, reasoning=reasoning, tool_name=call[0] if call else None, tool_args=call[1] if call else None,
        finish="tool_calls" if call else ("length" if length else "stop")),
    st.text(max_size=40), st.text(max_size=20),
    st.none() | st.tuples(st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                          st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5) | st.booleans(),
                                          max_size=3)),
    st.booleans(),
)


def _wire_call(d: Decision, with_id: bool) -> dict[str, Any] | None:
    if d.tool_name is None:
        return None
    call: dict[str, Any] = {"function": {"index": 0, "name": d.tool_name, "arguments": d.tool_args}}
    if with_id:
        call["id"] = "call_abc12345"
    return call


@settings(max_examples=150, deadline=None)
@given(decisions, st.booleans(), st.lists(st.integers(min_value=0, max_value=2000)), st.integers(0, 500),
       st.integers(0, 500))
def test_stream_fold_equals_non_stream(d: Decision, with_id: bool, cuts: list[int], p: int, e: int) -> None:
    """Any split of the fake's NDJSON stream folds to the fake's non-streamed answer, decoded."""
    call = _wire_call(d, with_id)
    whole = OLLAMA.decode_response(HttpResponse(200, body=json.dumps(chat_payload("qwen3:8b", T0, d, call, p, e)).encode()))
    data = b"".join(stream_lines("qwen3:8b", T0, d, call, p, e))
    assert fold(split_at(data, cuts)) == whole
    r = whole.unwrap()
    assert r.text == d.text and r.reasoning == d.reasoning
    assert r.usage == Usage(prompt_tokens=p, completion_tokens=e, total_tokens=p + e)
    if call:
        assert r.finish_reason is FinishReason.TOOL_CALLS
        assert msgspec.json.decode(r.tool_calls[0].arguments) == d.tool_args


@settings(max_examples=100, deadline=None)
@given(decisions)
def test_decode_encode_idempotent(d: Decision) -> None:
    """encode(decode(wire)) as history keeps the fake's message: content, thinking and argument objects."""
    call = _wire_call(d, with_id=True)
    r = OLLAMA.decode_response(HttpResponse(200, body=json.dumps(chat_payload("m", T0, d, call, 1, 1)).encode())).unwrap()
    sent = wire(req(Message.user("q"), r.message))["messages"][1]
    assert sent["content"] == d.text and sent.get("thinking", "") == d.reasoning
    if call:
        assert sent["tool_calls"] == [{"function": {"name": d.tool_name, "arguments": d.tool_args}, "id": "call_abc12345"}]


# ---------------------------------------------------------------------------------------------
# Totality


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(100, 599), st.lists(st.integers(0, 300), max_size=5))
def test_decoders_are_total(data: bytes, status: int, cuts: list[int]) -> None:
    """Arbitrary bytes never raise: every decoder answers with a value."""
    resp = HttpResponse(status, body=data)
    assert isinstance(OLLAMA.decode_response(resp), Success | Failure)
    assert isinstance(OLLAMA.decode_error(resp), LlmError)
    assert isinstance(OLLAMA.decode_list_models(resp), Success | Failure)
    assert isinstance(OLLAMA.decode_show(resp), Success | Failure)
    assert isinstance(fold(split_at(data, cuts)), Success | Failure)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=6))
def test_stream_feed_total_on_json_like_lines(lines: list[bytes]) -> None:
    """Lines of junk between valid ones still end in a value, never an exception."""
    body = b"\n".join([STREAM.split(b"\n")[0], *lines]) + b"\n"
    assert isinstance(fold([body]), Success | Failure)


# ---------------------------------------------------------------------------------------------
# Model listing and capabilities

TAGS = json.dumps({"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest",
                               "modified_at": "2025-09-18T10:41:05.716372884+02:00", "size": 2019393189,
                               "digest": "a80c4f17acd5", "details": {
                                   "parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                                   "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}}]}).encode()
SHOW = json.dumps({"details": {"family": "qwen3", "parameter_size": "8.2B", "quantization_level": "Q4_K_M"},
                   "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
                   "capabilities": ["completion", "tools", "thinking"]}).encode()


def test_list_models() -> None:
    """GET /api/tags → the installed models with size, digest and details."""
    r = OLLAMA.encode_list_models(CFG).unwrap()
    assert (r.method, r.url) == ("GET", "http://127.0.0.1:11434/api/tags")
    (m,) = OLLAMA.decode_list_models(HttpResponse(200, body=TAGS)).unwrap()
    assert (m.name, m.size, m.family, m.parameter_size, m.quantization_level) == (
        "llama3.2:latest", 2019393189, "llama", "3.2B", "Q4_K_M")


def test_show_capabilities() -> None:
    """POST /api/show → capabilities and the context length from model_info."""
    r = OLLAMA.encode_show("ollama:qwen3:8b", CFG).unwrap()
    assert (r.method, r.url, json.loads(r.body)) == ("POST", "http://127.0.0.1:11434/api/show", {"model": "qwen3:8b"})
    s = OLLAMA.decode_show(HttpResponse(200, body=SHOW)).unwrap()
    assert (s.supports_tools, s.supports_vision, s.supports_thinking, s.context_length) == (True, False, True, 40960)
    info = s.to_model_info("qwen3:8b")
    assert (info.provider, info.context_window, info.supports_reasoning) == ("ollama", 40960, True)


def test_show_not_found() -> None:
    """An unknown model in /api/show is not_found with the pull hint."""
    err = OLLAMA.decode_show(HttpResponse(404, body=b"{\"error\":\"model 'x' not found\"}")).failure()
    assert err.kind is ErrorKind.NOT_FOUND and "ollama pull x" in err.message


# ---------------------------------------------------------------------------------------------
# Config helpers


@pytest.mark.parametrize(("value", "expected"), [
    ("", "http://127.0.0.1:11434"),
    ("127.0.0.1:11500", "http://127.0.0.1:11500"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),
    ("gpu-box", "http://gpu-box:11434"),
    ("http://gpu-box", "http://gpu-box"),
    ("https://ollama.example.com:8443/", "https://ollama.example.com:8443"),
    ("[::1]:9000", "http://[::1]:9000"),
])
def test_normalize_host(value: str, expected: str) -> None:
    """OLLAMA_HOST in every form Ollama accepts becomes a base URL."""
    assert normalize_host(value) == expected


def test_env_config() -> None:
    """OLLAMA_HOST and OLLAMA_API_KEY are read once, into the ollama ProviderConfig."""
    cfg = LlmConfig.from_env({"OLLAMA_HOST": "0.0.0.0:11434", "OLLAMA_API_KEY": "k"}).provider("ollama")
    assert cfg.base_url == "http://127.0.0.1:11434" and cfg.api_key is not None
    assert LlmConfig.from_env({}).providers.get("ollama") is None


@pytest.mark.parametrize(("s", "expected"), [
    ("2024-07-22T20:33:28.123648Z", T0_UNIX),
    ("2023-08-04T08:52:19.385406455-07:00", 1691164339),
    ("2023-08-04T15:52:19+00:00", 1691164339),
    ("2023-13-04T15:52:19Z", None),
    (None, None),
])
def test_parse_rfc3339(s: str | None, expected: int | None) -> None:
    """Go's RFC 3339 (nanosecond) timestamps become unix seconds; junk becomes None."""
    assert parse_rfc3339(s) == expected


def test_fold_of_chunks_matches() -> None:
    """The dialect's chunks fold with the shared fold (sanity for the role of Role.ASSISTANT)."""
    _, events = OLLAMA.stream_feed(OLLAMA.stream_start(), STREAM)
    r = fold_chunks([e for e in events if isinstance(e, ChatChunk)], "ollama")
    assert r.message.role is Role.ASSISTANT and r.text == "Hello é"
