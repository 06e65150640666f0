"""The Gemini dialect on its own: golden tables both ways, errors, streams, properties."""

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
    ErrorKind,
    FinishReason,
    HttpResponse,
    ImagePart,
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
from interlingua.core.gemini import GEMINI, synthesize_call_id
from interlingua.core.http import Headers
from interlingua.fakes._content import Decision
from interlingua.fakes.gemini import generate_payload, stream_frames

from .helpers import split_at

CFG = ProviderConfig(api_key=Secret("AIza-test"))
MODEL = "gemini-2.5-flash"
WEATHER = ToolSpec(name="get_weather", description="Weather", parameters={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


def body_of(req: ChatRequest, **kw: Any) -> dict[str, Any]:
    return json.loads(GEMINI.encode_request(req, CFG, **kw).unwrap().body)


def req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=messages, **kw)


# -- encode golden table ------------------------------------------------------------------------

ENCODE_CASES: list[tuple[str, ChatRequest, dict[str, Any]]] = [
    ("system + user", req(Message.system("Be brief."), Message.user("Hi")),
     {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "systemInstruction": {"parts": [{"text": "Be brief."}]}}),
    ("assistant is model", req(Message.user("a"), Message.assistant("b"), Message.user("c")),
     {"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}]},
                   {"role": "user", "parts": [{"text": "c"}]}]}),
    ("inline image", req(Message.user([TextPart("see"), ImagePart(data="aGk=", media_type="image/png")])),
     {"contents": [{"role": "user", "parts": [{"text": "see"}, {"inlineData": {"mimeType": "image/png", "data": "aGk="}}]}]}),
    ("data url image", req(Message.user([ImagePart(url="data:image/jpeg;base64,aGk=")])),
     {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/jpeg", "data": "aGk="}}]}]}),
    ("gs image", req(Message.user([ImagePart(url="gs://b/cat.png")])),
     {"contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/cat.png", "mimeType": "image/png"}}]}]}),
    ("files api uri", req(Message.user([ImagePart(url="https://generativelanguage.googleapis.com/v1beta/files/abc")])),
     {"contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]}),
    ("tools + auto", req(Message.user("w"), tools=(WEATHER,), tool_choice="auto"),
     {"contents": [{"role": "user", "parts": [{"text": "w"}]}],
      "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
                                           "parametersJsonSchema": WEATHER.parameters}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}}),
    ("required", req(Message.user("w"), tool_choice="required"),
     {"contents": [{"role": "user", "parts": [{"text": "w"}]}], "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}),
    ("none", req(Message.user("w"), tool_choice="none"),
     {"contents": [{"role": "user", "parts": [{"text": "w"}]}], "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}),
    ("named", req(Message.user("w"), tool_choice=ToolChoiceFunction("get_weather")),
     {"contents": [{"role": "user", "parts": [{"text": "w"}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}}),
    ("generation config", req(Message.user("x"), temperature=0.5, top_p=0.9, max_tokens=7, stop=("END",), seed=3),
     {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
      "generationConfig": {"stopSequences": ["END"], "maxOutputTokens": 7, "temperature": 0.5, "topP": 0.9, "seed": 3}}),
    ("json schema", req(Message.user("x"), response_format=ResponseFormat(schema={"type": "object"})),
     {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
      "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}}}),
    ("json object", req(Message.user("x"), response_format=ResponseFormat(type="json_object")),
     {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "application/json"}}),
    ("thinking budget", req(Message.user("x"), reasoning=ReasoningConfig(budget_tokens=1024, effort="high")),
     {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
      "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}}),
    ("thinking level", req(Message.user("x"), reasoning=ReasoningConfig(effort="low", include_thoughts=False)),
     {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
      "generationConfig": {"thinkingConfig": {"includeThoughts": False, "thinkingLevel": "LOW"}}}),
    ("tool turn with signature", req(
        Message.user("w"),
        Message.assistant([ReasoningPart(text="hmm", signature="sigA")],
                          [ToolCall("c1", "get_weather", '{"city":"Paris"}', signature="sigB")]),
        Message.tool("c1", "sunny")),
     {"contents": [{"role": "user", "parts": [{"text": "w"}]},
                   {"role": "model", "parts": [{"text": "hmm", "thought": True, "thoughtSignature": "sigA"},
                                               {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                                "thoughtSignature": "sigB"}]},
                   {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}]}]}),
    ("provider options", req(Message.user("x"), max_tokens=5,
                             provider_options={"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
                                               "generationConfig": {"topK": 4}}),
     {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
      "generationConfig": {"maxOutputTokens": 5, "topK": 4},
      "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]}),
]


@pytest.mark.parametrize(("name", "request_", "wire"), ENCODE_CASES, ids=[c[0] for c in ENCODE_CASES])
def test_encode_golden(name: str, request_: ChatRequest, wire: dict[str, Any]) -> None:
    """Each unified request encodes to exactly the documented Gemini body."""
    assert body_of(request_) == wire


def test_encode_url_headers_and_stream() -> None:
    """Key only in x-goog-api-key; streaming uses :streamGenerateContent?alt=sse; prefixes stripped."""
    r = GEMINI.encode_request(req(Message.user("x")), CFG, stream=True).unwrap()
    assert r.url == f"https://generativelanguage.googleapis.com/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
    assert r.headers["x-goog-api-key"] == "AIza-test" and "AIza-test" not in r.url and "AIza-test" not in repr(r)
    r2 = GEMINI.encode_request(ChatRequest(model="google:models/gemini-2.5-pro", messages=(Message.user("x"),)),
                               ProviderConfig(api_key=Secret("k"), base_url="http://127.0.0.1:9/v1beta")).unwrap()
    assert r2.url == "http://127.0.0.1:9/v1beta/models/gemini-2.5-pro:generateContent"
    assert get_dialect("google").unwrap() is GEMINI


@pytest.mark.parametrize(("request_", "cfg", "kind"), [
    (req(Message.user("x")), ProviderConfig(), ErrorKind.AUTHENTICATION),
    (req(Message.tool("nope", "r")), CFG, ErrorKind.INVALID_REQUEST),
    (req(Message.user([ImagePart(url="ftp://x/y.png")])), CFG, ErrorKind.INVALID_REQUEST),
    (req(Message.user([ImagePart(url="https://example.com/picture")])), CFG, ErrorKind.INVALID_REQUEST),
    (req(Message.user([ImagePart(url="data:image/png;base64,@@@")])), CFG, ErrorKind.INVALID_REQUEST),
    (req(Message.user("x"), Message.assistant("", [ToolCall("c", "f", "{bad")])), CFG, ErrorKind.INVALID_REQUEST),
    (req(Message.system("only")), CFG, ErrorKind.INVALID_REQUEST),
    (req(Message.user("x")), ProviderConfig(api_key=Secret("k"), base_url="http://example.com"), ErrorKind.INVALID_REQUEST),
])
def test_encode_refusals(request_: ChatRequest, cfg: ProviderConfig, kind: ErrorKind) -> None:
    """Requests Gemini cannot take are a Failure with a clear kind, never an exception."""
    r = GEMINI.encode_request(request_, cfg)
    assert isinstance(r, Failure) and r.failure().kind is kind


def test_https_image_with_type_goes_in_file_data() -> None:
    """A public https image URL is fileData (the API fetches it) with its MIME type from the extension."""
    assert body_of(req(Message.user([ImagePart(url="https://example.com/cat.JPG")])))["contents"][0]["parts"] == [
        {"fileData": {"fileUri": "https://example.com/cat.JPG", "mimeType": "image/jpeg"}}]


def test_cross_dialect_tool_conversation() -> None:
    """user → assistant with 2 calls → 2 results (out of order) → user: results follow the calls' order by name."""
    calls = [ToolCall("call_a", "get_weather", '{"city":"Paris"}'), ToolCall("call_b", "get_time", '{"tz":"CET"}')]
    conv = req(Message.user("Weather and time in Paris?"), Message.assistant("Checking.", calls),
               Message.tool("call_b", "12:00"), Message.tool("call_a", "sunny", is_error=False),
               Message.user("Thanks!"))
    assert body_of(conv)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
        {"role": "model", "parts": [{"text": "Checking."},
                                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                                    {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
                                   {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}}]},
        {"role": "user", "parts": [{"text": "Thanks!"}]},
    ]
    err = body_of(req(Message.user("x"), Message.assistant("", calls[:1]), Message.tool("call_a", "boom", is_error=True)))
    assert err["contents"][-1]["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"error": "boom"}}}]


def test_count_tokens_round_trip() -> None:
    """countTokens encodes the whole request and decodes totalTokens (or an error)."""
    r = GEMINI.encode_count_tokens(req(Message.system("s"), Message.user("x"), tools=(WEATHER,)), CFG).unwrap()
    body = json.loads(r.body)["generateContentRequest"]
    assert r.url.endswith(f"/models/{MODEL}:countTokens") and body["model"] == f"models/{MODEL}"
    assert body["systemInstruction"] == {"parts": [{"text": "s"}]} and "tools" in body
    assert GEMINI.decode_count_tokens(HttpResponse(200, body=b'{"totalTokens":12}')).unwrap() == 12
    bad = GEMINI.decode_count_tokens(HttpResponse(404, body=b'{"error":{"code":404,"message":"m","status":"NOT_FOUND"}}'))
    assert bad.failure().kind is ErrorKind.NOT_FOUND


# -- decode golden table ------------------------------------------------------------------------

RID = "resp-1"
SIG_CALL = synthesize_call_id(RID, 0, "get_weather")

DECODE_CASES: list[tuple[str, dict[str, Any], Message, FinishReason, str | None, Usage]] = [
    ("text",
     {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo"}]}, "finishReason": "STOP"}],
      "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}},
     Message.assistant("Hello"), FinishReason.STOP, "STOP", Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)),
    ("thoughts + signed text",
     {"candidates": [{"content": {"role": "model", "parts": [{"text": "plan", "thought": True},
                                                             {"text": "Answer", "thoughtSignature": "SIG"}]},
                      "finishReason": "MAX_TOKENS"}],
      "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 6,
                        "cachedContentTokenCount": 8, "toolUsePromptTokenCount": 2, "totalTokenCount": 22}},
     Message.assistant([ReasoningPart(text="plan", signature="SIG"), TextPart("Answer")]), FinishReason.LENGTH,
     "MAX_TOKENS", Usage(prompt_tokens=12, completion_tokens=10, total_tokens=22, cached_tokens=8, reasoning_tokens=6)),
    ("function call",
     {"candidates": [{"content": {"role": "model", "parts": [
         {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "S1"},
         {"functionCall": {"id": "given", "name": "get_time", "args": {}}}]}, "finishReason": "STOP"}]},
     Message.assistant("", [ToolCall(SIG_CALL, "get_weather", '{"city":"Paris"}', signature="S1"),
                            ToolCall("given", "get_time", "{}")]), FinishReason.TOOL_CALLS, "STOP", Usage()),
    ("safety", {"candidates": [{"finishReason": "SAFETY"}]}, Message.assistant(""), FinishReason.CONTENT_FILTER,
     "SAFETY", Usage()),
    ("malformed call", {"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}]}, Message.assistant(""),
     FinishReason.OTHER, "MALFORMED_FUNCTION_CALL", Usage()),
]


@pytest.mark.parametrize(("name", "wire", "message", "finish", "raw", "usage"), DECODE_CASES,
                         ids=[c[0] for c in DECODE_CASES])
def test_decode_golden(name: str, wire: dict[str, Any], message: Message, finish: FinishReason, raw: str | None,
                       usage: Usage) -> None:
    """Each documented response shape decodes to the unified response, raw finish kept."""
    wire = {**wire, "responseId": RID, "modelVersion": MODEL}
    r = GEMINI.decode_response(HttpResponse(200, body=json.dumps(wire).encode())).unwrap()
    assert (r.message, r.finish_reason, r.raw_finish_reason, r.usage) == (message, finish, raw, usage)
    assert (r.id, r.model, r.provider) == (RID, MODEL, "gemini")


def test_decode_encode_round_trip_of_signatures() -> None:
    """A decoded tool turn, sent back, carries the thought signatures where Gemini put them."""
    wire = DECODE_CASES[2][1]
    msg = GEMINI.decode_response(HttpResponse(200, body=json.dumps(wire).encode())).unwrap().message
    sent = body_of(req(Message.user("w"), msg))["contents"][1]["parts"]
    assert sent[0] == {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "S1"}


def test_prompt_blocked_is_content_filter() -> None:
    """promptFeedback.blockReason with no candidates is a content_filter Failure (stream too)."""
    body = b'{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":3}}'
    err = GEMINI.decode_response(HttpResponse(200, body=body)).failure()
    assert err.kind is ErrorKind.CONTENT_FILTER and err.code == "SAFETY"
    streamed = decode_stream("gemini", [b"data: " + body + b"\r\n\r\n"])
    assert streamed.failure().kind is ErrorKind.CONTENT_FILTER


# -- errors --------------------------------------------------------------------------------------

def status(code: int, st_: str, message: str = "m", details: list[Any] | None = None) -> bytes:
    e: dict[str, Any] = {"code": code, "message": message, "status": st_}
    if details is not None:
        e["details"] = details
    return json.dumps({"error": e}).encode()


KEY_INVALID = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com"}]
RETRY = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]
ERROR_CASES: list[tuple[int, bytes, dict[str, str], ErrorKind, float | None, str | None]] = [
    (400, status(400, "INVALID_ARGUMENT"), {}, ErrorKind.INVALID_REQUEST, None, "INVALID_ARGUMENT"),
    (400, status(400, "INVALID_ARGUMENT", "API key not valid.", KEY_INVALID), {}, ErrorKind.AUTHENTICATION, None,
     "API_KEY_INVALID"),
    (400, status(400, "INVALID_ARGUMENT", "The input token count (2000000) exceeds the maximum number of tokens "
                 "allowed (1048576)."), {}, ErrorKind.CONTEXT_LENGTH_EXCEEDED, None, "INVALID_ARGUMENT"),
    (400, status(400, "FAILED_PRECONDITION", "User location is not supported"), {}, ErrorKind.INVALID_REQUEST, None,
     "FAILED_PRECONDITION"),
    (401, status(401, "UNAUTHENTICATED"), {}, ErrorKind.AUTHENTICATION, None, "UNAUTHENTICATED"),
    (403, status(403, "PERMISSION_DENIED"), {}, ErrorKind.PERMISSION, None, "PERMISSION_DENIED"),
    (404, status(404, "NOT_FOUND"), {}, ErrorKind.NOT_FOUND, None, "NOT_FOUND"),
    (429, status(429, "RESOURCE_EXHAUSTED", details=RETRY), {}, ErrorKind.RATE_LIMIT, 17.0, "RESOURCE_EXHAUSTED"),
    (429, status(429, "RESOURCE_EXHAUSTED", details=RETRY), {"retry-after": "3"}, ErrorKind.RATE_LIMIT, 3.0,
     "RESOURCE_EXHAUSTED"),
    (500, status(500, "INTERNAL"), {}, ErrorKind.PROVIDER, None, "INTERNAL"),
    (503, status(503, "UNAVAILABLE"), {}, ErrorKind.OVERLOADED, None, "UNAVAILABLE"),
    (504, status(504, "DEADLINE_EXCEEDED"), {}, ErrorKind.TIMEOUT, None, "DEADLINE_EXCEEDED"),
    (502, b"<!DOCTYPE html><title>Error 502 (Server Error)!!1</title>", {}, ErrorKind.PROVIDER, None, None),
    (500, b'[{"error":{"code":500,"message":"m","status":"INTERNAL"}}]', {}, ErrorKind.PROVIDER, None, "INTERNAL"),
    (400, b"", {}, ErrorKind.INVALID_REQUEST, None, None),
    (500, b'{"error": {"code": 5', {}, ErrorKind.PROVIDER, None, None),
]


@pytest.mark.parametrize(("code", "body", "headers", "kind", "retry_after", "err_code"), ERROR_CASES)
def test_error_mapping(code: int, body: bytes, headers: dict[str, str], kind: ErrorKind,
                       retry_after: float | None, err_code: str | None) -> None:
    """(status, headers, body) → kind, retry_after (RetryInfo unless a header says otherwise) and code."""
    e = GEMINI.decode_error(HttpResponse(code, Headers(headers), body))
    assert (e.kind, e.retry_after, e.code, e.status, e.provider) == (kind, retry_after, err_code, code, "gemini")


# -- streams -------------------------------------------------------------------------------------

def frames(*objs: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(o).encode() + b"\r\n\r\n" for o in objs)


def test_stream_mid_error_and_cut() -> None:
    """An error event mid-stream fails the stream; a stream without finishReason is cut short."""
    first = {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}
    err = decode_stream("gemini", [frames(first, {"error": {"code": 500, "message": "x", "status": "INTERNAL"}})])
    assert err.failure().kind is ErrorKind.STREAMING
    cut = decode_stream("gemini", [frames(first)])
    assert cut.failure().kind is ErrorKind.STREAMING and "finishReason" in cut.failure().message
    usage_only = frames(first, {"candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}]},
                        {"usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3}})
    done = decode_stream("gemini", [usage_only]).unwrap()
    assert done.text == "ab" and done.usage.total_tokens == 3


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def decisions(draw: st.DrawFn) -> tuple[Decision, bool]:
    thinking = draw(st.booleans())
    if draw(st.booleans()):
        args = draw(st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | texts, max_size=3))
        d = Decision(tool_name=draw(st.sampled_from(["get_weather", "f"])), tool_args=args, finish="tool_calls",
                     reasoning=draw(texts))
    else:
        d = Decision(text=draw(texts), reasoning=draw(texts), finish=draw(st.sampled_from(["stop", "length"])))
    return d, thinking


@settings(max_examples=80, deadline=None)
@given(decisions(), st.integers(0, 500), st.lists(st.integers(0, 4000), max_size=8))
def test_stream_fold_equals_non_stream(dt: tuple[Decision, bool], prompt: int, cuts: list[int]) -> None:
    """The fake's streamed answer, cut anywhere, folds to exactly the decoded non-stream answer."""
    d, thinking = dt
    whole = GEMINI.decode_response(HttpResponse(200, body=json.dumps(
        generate_payload(MODEL, d, prompt, RID, thinking=thinking)).encode())).unwrap()
    data = b"".join(stream_frames(MODEL, d, prompt, RID, thinking=thinking))
    assert decode_stream("gemini", split_at(data, cuts)).unwrap() == whole
    assert whole.text == d.text and (whole.reasoning == d.reasoning if thinking else whole.reasoning == "")
    if d.tool_name:
        assert [(c.name, json.loads(c.arguments)) for c in whole.tool_calls] == [(d.tool_name, d.tool_args)]
        assert whole.finish_reason is FinishReason.TOOL_CALLS


@settings(max_examples=60, deadline=None)
@given(decisions())
def test_decode_encode_idempotent(dt: tuple[Decision, bool]) -> None:
    """encode(decode(wire)) as history, decoded again and re-encoded, is stable (lossless where Gemini is)."""
    d, thinking = dt
    resp = GEMINI.decode_response(HttpResponse(200, body=json.dumps(
        generate_payload(MODEL, d, 1, RID, thinking=thinking)).encode())).unwrap()
    once = body_of(req(Message.user("q"), resp.message))
    model_turn = once["contents"][1]["parts"] if len(once["contents"]) > 1 else []
    wire_parts = generate_payload(MODEL, d, 1, RID, thinking=thinking)["candidates"][0]["content"]["parts"]
    # Every part Gemini sent comes back, except empty texts it would reject anyway.
    assert model_turn == [p for p in _normal(wire_parts) if p != {"text": ""}]


def _normal(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gemini's parts as the decoder keeps them: a signature on an answer text moves onto the thought
    before it, or onto an empty signed part of its own when there is none."""
    out: list[dict[str, Any]] = []
    for p in parts:
        p = dict(p)
        if "text" in p and not p.get("thought") and "thoughtSignature" in p:
            sig = p.pop("thoughtSignature")
            if out and out[-1].get("thought"):
                out[-1]["thoughtSignature"] = sig
            else:
                out.append({"text": "", "thoughtSignature": sig})
        if p.get("thought") and not p["text"]:
            p = {"text": "", **({"thoughtSignature": p["thoughtSignature"]} if "thoughtSignature" in p else {})}
            if "thoughtSignature" not in p:
                continue
        out.append(p)
    return out


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(100, 599))
def test_decoders_total(data: bytes, code: int) -> None:
    """Arbitrary bytes never raise: decode, error and stream all return values."""
    assert isinstance(GEMINI.decode_response(HttpResponse(code, body=data)), Success | Failure)
    assert GEMINI.decode_error(HttpResponse(code, body=data)).provider == "gemini"
    assert isinstance(GEMINI.decode_count_tokens(HttpResponse(code, body=data)), Success | Failure)
    state = GEMINI.stream_start()
    state, events = GEMINI.stream_feed(state, data)
    assert all(isinstance(e, ChatChunk) or e.kind for e in events)
    assert isinstance(GEMINI.stream_finish(state), Success | Failure)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"data: ", b"{", b"}", b"\r\n", b"\n", b'"candidates"', b":", b"[", b"]",
                                 b'{"text":"\xc3\xa9"}', b'"finishReason":"STOP"', b","]), max_size=30))
def test_stream_total_on_sse_like_noise(pieces: list[bytes]) -> None:
    """SSE-shaped noise never raises."""
    result = decode_stream("gemini", pieces)
    assert isinstance(result, Success | Failure)


def test_byte_at_a_time() -> None:
    """A stream fed one byte at a time (cutting CRLFs and UTF-8 characters) folds like the whole."""
    d = Decision(text="héllo wörld — ✓ done", reasoning="thinking 🤔 hard", finish="stop")
    data = b"".join(stream_frames(MODEL, d, 3, RID, thinking=True))
    whole = decode_stream("gemini", [data]).unwrap()
    assert decode_stream("gemini", [data[i:i + 1] for i in range(len(data))]).unwrap() == whole
    assert whole.text == d.text and whole.message.parts[0] == ReasoningPart(text=d.reasoning, signature=whole.message.parts[0].signature)
    assert whole.message.parts[0].signature


def test_chunks_are_cumulative_usage() -> None:
    """Each streamed chunk's usage is the running total, so the last one is the whole call's."""
    d = Decision(text="one two three four five", finish="stop")
    data = b"".join(stream_frames(MODEL, d, 7, RID, thinking=False))
    state, events = GEMINI.stream_feed(GEMINI.stream_start(), data)
    usages = [e.usage.completion_tokens for e in events if isinstance(e, ChatChunk) and e.usage]
    assert usages == sorted(usages) and len(usages) > 1
    assert fold_chunks([e for e in events if isinstance(e, ChatChunk)], "gemini").usage.prompt_tokens == 7
    assert msgspec.json.decode(msgspec.json.encode(GEMINI.stream_finish(state).unwrap()), type=tuple[ChatChunk, ...]) == ()
