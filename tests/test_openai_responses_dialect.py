"""The Responses dialect against documented and captured bodies, and its properties: encode round
trips through the fake's independent validator, split-anywhere stream folds equal the non-stream
decode, decoders total on arbitrary bytes."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import (
    ChatRequest,
    ErrorKind,
    FinishReason,
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
    decode_response,
    decode_stream,
    encode_request,
)
from interlingua.core.openai_responses import AZURE_RESPONSES, OPENAI_RESPONSES
from interlingua.fakes import openai_responses as fake_responses
from interlingua.fakes._content import Decision

from .helpers import split_at
from .strategies import chat_request, ident, json_object, text

DATA = Path(__file__).parent / "data" / "openai_responses"
P = "openai_responses"
ENC1 = "gAAAAABpPDIVOKrsHNZ0GwsoEKA_IGfuJ5f8Ma_6-EojH4yZFL50qlfUzM7FREdQlpkqlnIHLRx2YJxZfzvbnc0E3J=="


def _body(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- golden decodes ------------------------------------------------------------------------------


def test_documented_text_answer() -> None:
    """The reference's message/output_text answer: text, stop, usage, id/model/created."""
    r = decode_response(P, 200, _body("text.json")).unwrap()
    assert r.text.startswith("In a peaceful grove beneath a silver moon")
    assert (r.finish_reason, r.raw_finish_reason) == (FinishReason.STOP, "completed")
    assert r.usage == Usage(prompt_tokens=36, completion_tokens=87, total_tokens=123)
    assert (r.id, r.model, r.created) == ("resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "gpt-4.1-2025-04-14", 1765552659)
    assert r.provider == P


def test_reasoning_and_function_call() -> None:
    """Reasoning summary + encrypted content land on one ReasoningPart; call_id is the tool call id."""
    r = decode_response(P, 200, _body("reasoning_tool_call.json")).unwrap()
    assert r.message.content == (
        ReasoningPart(text="**Calculating step-by-step**\n\nI'll add 12 and 7 first.", signature=ENC1),
    )
    assert r.tool_calls == (ToolCall(id="call_AB6AaRZ1FYZB2RwS6A5vbdqn", name="calculator", arguments='{"a":12,"b":7,"op":"add"}'),)
    assert r.finish_reason is FinishReason.TOOL_CALLS
    assert r.usage == Usage(prompt_tokens=112, completion_tokens=94, total_tokens=206, reasoning_tokens=64)


def test_incomplete_is_length_and_bare_reasoning_is_dropped() -> None:
    """max_output_tokens → length; a reasoning item with neither summary nor encrypted content adds nothing."""
    r = decode_response(P, 200, _body("incomplete.json")).unwrap()
    assert (r.finish_reason, r.raw_finish_reason) == (FinishReason.LENGTH, "max_output_tokens")
    assert r.message.content == "The first three primes are 2, 3"


def test_refusal_is_content_filter() -> None:
    """A refusal content part is the message's refusal and a content-filter finish."""
    r = decode_response(P, 200, _body("refusal.json")).unwrap()
    assert r.message.refusal == "I'm sorry, I can't help with that."
    assert r.finish_reason is FinishReason.CONTENT_FILTER and r.text == ""


def test_failed_response_over_200_is_a_typed_failure() -> None:
    """status: failed with error.code rate_limit_exceeded → RATE_LIMIT, never a Success."""
    err = decode_response(P, 200, _body("failed.json")).failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.code == "rate_limit_exceeded" and "TPM" in err.message


def test_usage_details_may_be_missing() -> None:
    """Only input/output totals (compatible servers): the rest is zero, total is computed."""
    assert decode_response(P, 200, _body("sparse_usage.json")).unwrap().usage == Usage(
        prompt_tokens=5, completion_tokens=3, total_tokens=8
    )


def test_http_errors_use_the_chat_completions_mapping() -> None:
    """Same error bodies as Chat Completions: code → kind, Retry-After kept, not-retryable quota."""
    body = b'{"error":{"message":"Incorrect API key provided: sk-xx.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}'
    assert decode_response(P, 401, body).failure().kind is ErrorKind.AUTHENTICATION
    limited = decode_response(P, 429, b'{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}',
                              {"retry-after": "2"}).failure()
    assert limited.kind is ErrorKind.RATE_LIMIT and limited.retry_after == 2.0
    ctx = b'{"error":{"message":"Your input exceeds the context window of this model.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}'
    assert decode_response(P, 400, ctx).failure().kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED
    quota = decode_response(P, 429, b'{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}')
    assert quota.failure().is_retryable() is False


# -- streams -------------------------------------------------------------------------------------


def test_text_stream_equals_the_object() -> None:
    """event:+data: framed text stream folds to exactly the non-stream decode of its final object."""
    assert decode_stream(P, [_body("stream_text.sse")]) == decode_response(P, 200, _body("text.json"))


def test_reasoning_tool_stream_equals_the_object() -> None:
    """Data-only stream; arguments.done without name; the final encrypted content (item.done) wins."""
    streamed = decode_stream(P, [_body("stream_reasoning_tool.sse")]).unwrap()
    assert streamed == decode_response(P, 200, _body("reasoning_tool_call.json")).unwrap()
    assert streamed.message.parts[0] == ReasoningPart(text="**Calculating step-by-step**\n\nI'll add 12 and 7 first.", signature=ENC1)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["stream_text.sse", "stream_reasoning_tool.sse"]), st.lists(st.integers(0, 20000), max_size=20))
def test_any_split_folds_the_same(name: str, cuts: list[int]) -> None:
    """Cut anywhere (inside events, lines, UTF-8), the fold is the same response."""
    raw = _body(name)
    assert decode_stream(P, split_at(raw, cuts)) == decode_stream(P, [raw])


def test_nested_error_event_is_typed() -> None:
    """The real error event nests code/message under "error": insufficient_quota → RATE_LIMIT, not retryable."""
    err = decode_stream(P, [_body("stream_error_nested.sse")]).failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.code == "insufficient_quota" and "quota" in err.message
    assert not err.is_retryable()


def test_flat_error_event_is_typed() -> None:
    """The SDK type's flat error event is read too: a server error mid-stream is a streaming error."""
    err = decode_stream(P, [_body("stream_error_flat.sse")]).failure()
    assert err.kind is ErrorKind.STREAMING and err.code == "server_error"


def test_response_failed_event_is_typed() -> None:
    """response.failed alone carries the error in response.error."""
    err = decode_stream(P, [_body("stream_failed.sse")]).failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.code == "rate_limit_exceeded"


def test_stream_without_terminal_event_fails() -> None:
    """A stream cut before response.completed is a streaming error, not a short answer."""
    raw = _body("stream_text.sse")
    cut = raw[: raw.index(b"event: response.completed")]
    assert decode_stream(P, [cut]).failure().kind is ErrorKind.STREAMING


# -- encode --------------------------------------------------------------------------------------

WEATHER = ToolSpec(name="get_weather", description="Weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}})


def _encode(req: ChatRequest, **kw: object) -> dict[str, object]:
    return json.loads(encode_request(P, req, api_key="sk-test", **kw).unwrap().body)  # type: ignore[arg-type]


def test_full_request_body() -> None:
    """Every mapped field in its Responses place (instructions, items, flat tools, text.format, reasoning)."""
    req = ChatRequest(
        model="openai_responses:gpt-5",
        messages=(
            Message.system("Be brief."),
            Message.user([TextPart("What is this?"), ImagePart(url="https://example.com/cat.png", detail="low")]),
            Message.assistant([ReasoningPart(text="Looking.", signature="gAAAAABenc"), TextPart("Let me check.")],
                              [ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')]),
            Message.tool("call_1", "sunny"),
        ),
        tools=(WEATHER,),
        tool_choice=ToolChoiceFunction("get_weather"),
        max_tokens=300,
        temperature=0.5,
        top_p=0.9,
        response_format=ResponseFormat(name="out", schema={"type": "object"}, strict=True),
        reasoning=ReasoningConfig(effort="low"),
        user="u1",
    )
    assert _encode(req) == {
        "model": "gpt-5",
        "input": [
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Looking."}], "encrypted_content": "gAAAAABenc"},
            {"type": "message", "role": "assistant", "content": "Let me check."},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
        "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "get_weather", "parameters": WEATHER.parameters, "strict": False,
                   "description": "Weather"}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "temperature": 0.5,
        "top_p": 0.9,
        "max_output_tokens": 300,
        "reasoning": {"effort": "low", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
        "user": "u1",
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }


def test_stream_flag_headers_and_url() -> None:
    """stream: true, SSE accept header, bearer auth at /v1/responses."""
    http = encode_request(P, ChatRequest(model="gpt-4o", messages=(Message.user("hi"),)), api_key="sk-test", stream=True).unwrap()
    assert http.url == "https://api.openai.com/v1/responses"
    assert http.headers["authorization"] == "Bearer sk-test" and http.headers["accept"] == "text/event-stream"
    assert json.loads(http.body)["stream"] is True


def test_previous_response_id_turns_store_on() -> None:
    """Stateless by default; naming a previous response (stored) keeps the chain stored."""
    req = ChatRequest(model="gpt-4o", messages=(Message.user("more"),), provider_options={"previous_response_id": "resp_1"})
    body = _encode(req)
    assert body["store"] is True and body["previous_response_id"] == "resp_1"


def test_stop_is_refused_not_dropped() -> None:
    """The Responses API has no stop sequences: a request with them fails instead of changing meaning."""
    req = ChatRequest(model="gpt-4o", messages=(Message.user("hi"),), stop=("END",))
    assert encode_request(P, req, api_key="k").failure().kind is ErrorKind.INVALID_REQUEST


def test_missing_key_is_an_authentication_failure() -> None:
    """No key → typed failure before anything is built."""
    req = ChatRequest(model="gpt-4o", messages=(Message.user("hi"),))
    assert encode_request(P, req).failure().kind is ErrorKind.AUTHENTICATION


def test_azure_urls() -> None:
    """Azure: v1 path by default; a dated version is /openai/responses?api-version (not deployment-scoped)."""
    req = ChatRequest(model="azure:my-gpt", messages=(Message.user("hi"),))
    v1 = AZURE_RESPONSES.encode_request(req, ProviderConfig(base_url="https://r.openai.azure.com", api_key=Secret("k"))).unwrap()
    assert v1.url == "https://r.openai.azure.com/openai/v1/responses" and v1.headers["api-key"] == "k"
    assert json.loads(v1.body)["model"] == "my-gpt"
    dated = AZURE_RESPONSES.encode_request(
        req, ProviderConfig(base_url="https://r.openai.azure.com/", api_key=Secret("k"), api_version="2025-04-01-preview")
    ).unwrap()
    assert dated.url == "https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview"


def test_tool_call_ids_survive_a_round_trip() -> None:
    """A decoded answer sent back: the function_call keeps its call_id, the output answers it, and
    the encrypted reasoning travels back unchanged."""
    first = decode_response(P, 200, _body("reasoning_tool_call.json")).unwrap()
    call = first.tool_calls[0]
    req = ChatRequest(model="gpt-5", messages=(Message.user("12+7?"), first.message, Message.tool(call.id, "19")))
    items = _encode(req)["input"]
    assert isinstance(items, list)
    assert items[1] == {"type": "reasoning", "summary": [{"type": "summary_text", "text": first.reasoning}], "encrypted_content": ENC1}
    assert items[2] == {"type": "function_call", "call_id": "call_AB6AaRZ1FYZB2RwS6A5vbdqn", "name": "calculator",
                        "arguments": '{"a":12,"b":7,"op":"add"}'}
    assert items[3] == {"type": "function_call_output", "call_id": "call_AB6AaRZ1FYZB2RwS6A5vbdqn", "output": "19"}
    assert fake_responses._validate({"model": "gpt-5", "input": items}, []) is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_request(model="gpt-4o-mini"))
def test_generated_requests_are_valid_responses_json(req: ChatRequest) -> None:
    """Every generated request (stop removed) encodes to a body the fake's independent validator
    accepts, each function_call_output answering an earlier call_id."""
    req = ChatRequest(**{**{f: getattr(req, f) for f in req.__struct_fields__}, "stop": ()})
    body = json.loads(encode_request(P, req, api_key="k").unwrap().body)
    if body.get("max_output_tokens") is not None and body["max_output_tokens"] < 16:
        body["max_output_tokens"] = 16  # the service's own minimum; the fake checks it separately
    assert fake_responses._validate(body, []) is None
    outputs = [i["call_id"] for i in body["input"] if i["type"] == "function_call_output"]
    calls = [i["call_id"] for i in body["input"] if i["type"] == "function_call"]
    assert outputs == [m.tool_call_id for m in req.messages if m.tool_call_id]
    assert set(outputs) <= set(calls)
    for t in body.get("tools", ()):
        assert set(t) >= {"type", "name", "parameters", "strict"} and "function" not in t


# -- the fake's answers decode back, streamed or not ---------------------------------------------

decisions = st.one_of(
    st.builds(lambda t, r: Decision(text=t, reasoning=r), text, st.one_of(st.just(""), text)),
    st.builds(lambda n, a, r: Decision(tool_name=n, tool_args=a, finish="tool_calls", reasoning=r), ident, json_object,
              st.one_of(st.just(""), text)),
    st.builds(lambda t: Decision(text=t, finish="length"), text),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions, st.booleans(), st.booleans(), st.lists(st.integers(0, 8000), max_size=10))
def test_fake_answers_decode_and_streams_agree(d: Decision, summary: bool, encrypted: bool, cuts: list[int]) -> None:
    """What the fake writes decodes to its content, and any split of its stream folds to the same response."""
    body: dict[str, object] = {"model": "gpt-5", "input": "x", "reasoning": {"summary": "auto"} if summary else {}}
    if encrypted:
        body["include"] = ["reasoning.encrypted_content"]
    obj = fake_responses.response_object("resp_x", 1700000000, body, d, 11, "seed")
    plain = decode_response(P, 200, json.dumps(obj).encode()).unwrap()
    if d.tool_name:
        assert [(c.name, json.loads(c.arguments)) for c in plain.tool_calls] == [(d.tool_name, d.tool_args)]
        assert plain.finish_reason is FinishReason.TOOL_CALLS
    else:
        assert plain.text == d.text
        assert plain.finish_reason is (FinishReason.LENGTH if d.finish == "length" else FinishReason.STOP)
    assert plain.reasoning == (d.reasoning if summary else "")
    signed = [p for p in plain.message.parts if isinstance(p, ReasoningPart) and (p.signature or p.redacted)]
    assert len(signed) == (1 if d.reasoning and encrypted else 0)
    streamed = decode_stream(P, split_at(b"".join(fake_responses.response_frames(obj)), cuts)).unwrap()
    assert streamed == plain


# -- totality ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=300))
def test_decode_response_is_total(status: int, body: bytes) -> None:
    """Arbitrary bytes with any status give a Result; nothing raises."""
    assert isinstance(decode_response(P, status, body), Success | Failure)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_decode_stream_is_total(pieces: list[bytes]) -> None:
    """Arbitrary byte pieces give a Result; nothing raises."""
    assert isinstance(decode_stream(P, pieces), Success | Failure)


_TOKENS = [b"data: ", b"event: error\n", b"{", b"}", b'"type":', b'"response.completed"', b'"response.output_item.done"',
           b'"response.output_text.delta"', b'"item":', b'"response":', b'"error":', b'"output":', b"[", b"]", b"null",
           b'"delta":"x"', b'"type":"function_call"', b'"type":"reasoning"', b",", b":", b"\n", b"\n\n", b"1"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=60))
def test_decoders_total_on_near_valid_input(parts: list[bytes]) -> None:
    """Inputs made of the format's own pieces (the likeliest to reach deep branches) never raise."""
    raw = b"".join(parts)
    assert isinstance(decode_stream(P, [raw]), Success | Failure)
    assert isinstance(decode_response(P, 200, raw.replace(b"data: ", b"")), Success | Failure)


def test_hostile_nesting_is_a_failure() -> None:
    """Deeply nested JSON is a decode failure, not a RecursionError."""
    assert decode_response(P, 200, b"[" * 100_000).failure().kind is ErrorKind.DECODE
    assert decode_stream(P, [b"data: " + b"[" * 100_000 + b"\n\n"]).failure().kind is ErrorKind.STREAMING


def test_registered_under_its_name() -> None:
    """openai_responses:<model> parses and encodes through the generic entry points."""
    assert OPENAI_RESPONSES.name == P
    req = ChatRequest(model="openai_responses:gpt-5", messages=(Message.user("hi"),))
    assert json.loads(encode_request(P, req, api_key="k").unwrap().body)["model"] == "gpt-5"


# -- streams built event by event: the shapes the captured files do not cover ----------------------


def _sse(*events: dict[str, object]) -> bytes:
    return b"".join(b"data: " + json.dumps({**e, "sequence_number": n}).encode() + b"\n\n" for n, e in enumerate(events))


def _done(obj: dict[str, object]) -> dict[str, object]:
    return {"type": "response.completed", "response": obj}


MULTI = {"id": "resp_m", "object": "response", "created_at": 1, "model": "gpt-5", "status": "completed",
         "output": [{"id": "rs_m", "type": "reasoning", "encrypted_content": "gAAAAABm",
                     "summary": [{"type": "summary_text", "text": "**First**"}, {"type": "summary_text", "text": "Second part."}]},
                    {"id": "msg_m", "type": "message", "role": "assistant", "status": "completed",
                     "content": [{"type": "output_text", "text": "Answer."}]}],
         "usage": {"input_tokens": 3, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4}}}


def test_multi_part_summary_streams_like_the_object() -> None:
    """Two summary parts (Azure gpt-5 streams them) join with a blank line, streamed or not."""
    rs = MULTI["output"][0]  # type: ignore[index]
    raw = _sse(
        {"type": "response.created", "response": {**MULTI, "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {**rs, "summary": []}},  # type: ignore[dict-item]
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "**First"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "**"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": "Second"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": " part."},
        {"type": "response.output_item.done", "output_index": 0, "item": rs},
        {"type": "response.output_item.added", "output_index": 1, "item": {"id": "msg_m", "type": "message", "content": []}},
        {"type": "response.output_text.delta", "output_index": 1, "content_index": 0, "delta": "Answer."},
        {"type": "response.output_item.done", "output_index": 1, "item": MULTI["output"][1]},  # type: ignore[index]
        _done(MULTI),
    )
    plain = decode_response(P, 200, json.dumps(MULTI).encode()).unwrap()
    assert plain.message.parts[0] == ReasoningPart(text="**First**\n\nSecond part.", signature="gAAAAABm")
    assert plain.text == "Answer."
    assert decode_stream(P, [raw]).unwrap() == plain


def test_items_without_deltas_still_arrive() -> None:
    """A server that sends only output_item.done (no deltas, no added) loses nothing."""
    call = {"id": "fc_1", "type": "function_call", "call_id": "call_9", "name": "f", "arguments": '{"x":1}'}
    obj = {**MULTI, "output": [*MULTI["output"], call]}  # type: ignore[misc]
    raw = _sse(*({"type": "response.output_item.done", "output_index": i, "item": it} for i, it in enumerate(obj["output"])),
               _done(obj))
    streamed = decode_stream(P, [raw]).unwrap()
    assert streamed == decode_response(P, 200, json.dumps(obj).encode()).unwrap()
    assert streamed.tool_calls[0].id == "call_9" and streamed.finish_reason is FinishReason.TOOL_CALLS


def test_two_encrypted_reasoning_items_stay_apart() -> None:
    """Reasoning, call, reasoning (no summary), call: each encrypted item stays its own part, in order."""
    out = [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "a"}], "encrypted_content": "gAAAAABa"},
           {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
           {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABb"},
           {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"}]
    r = decode_response(P, 200, json.dumps({"id": "r", "status": "completed", "output": out}).encode()).unwrap()
    assert r.message.content == (ReasoningPart(text="a", signature="gAAAAABa"), ReasoningPart(redacted="gAAAAABb"))
    items = _encode(ChatRequest(model="gpt-5", messages=(Message.user("q"), r.message)))["input"]
    assert [(i["type"], i.get("encrypted_content")) for i in items[1:3]] == [  # type: ignore[index]
        ("reasoning", "gAAAAABa"), ("reasoning", "gAAAAABb")]


_enc = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", min_size=1, max_size=30).map(
    lambda s: "gAAAAAB" + s)
_reasoning_item = st.builds(
    lambda summary, enc: {"type": "reasoning", "summary": [{"type": "summary_text", "text": t} for t in summary],
                          **({"encrypted_content": enc} if enc else {})},
    st.lists(text, max_size=2), st.one_of(st.none(), _enc))
_call_item = st.builds(lambda cid, name, args: {"type": "function_call", "call_id": "call_" + cid, "name": name, "arguments": args},
                       ident, ident, st.sampled_from(['{}', '{"a":1}', '{"q":"x y"}']))
_message_item = st.builds(lambda t: {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": t}]}, text)


@settings(max_examples=200, deadline=None)
@given(st.lists(_reasoning_item, max_size=2), st.lists(_message_item, max_size=2),
       st.lists(_call_item, max_size=3, unique_by=lambda c: c["call_id"]))
def test_decoded_turns_go_back_as_the_same_items(reasoning: list[dict[str, object]], messages: list[dict[str, object]],
                                                 calls: list[dict[str, object]]) -> None:
    """Any decoded answer sent back re-creates its encrypted reasoning (in order), its text, and its
    function calls with the same call_id/name/arguments; each tool result answers its call."""
    output = [*reasoning, *messages, *calls]
    r = decode_response(P, 200, json.dumps({"id": "r", "status": "completed", "output": output}).encode()).unwrap()
    results = [Message.tool(str(c["call_id"]), "ok") for c in calls]
    items = _encode(ChatRequest(model="gpt-5", messages=(Message.user("q"), r.message, *results)))["input"]
    assert isinstance(items, list)
    sent = items[1:]
    assert [i["encrypted_content"] for i in sent if i["type"] == "reasoning"] == [
        i["encrypted_content"] for i in reasoning if "encrypted_content" in i]
    assert "".join(i["content"] for i in sent if i["type"] == "message") == "".join(
        str(m["content"][0]["text"]) for m in messages)  # type: ignore[index]
    assert [(i["call_id"], i["name"], i["arguments"]) for i in sent if i["type"] == "function_call"] == [
        (c["call_id"], c["name"], c["arguments"]) for c in calls]
    assert [i["call_id"] for i in sent if i["type"] == "function_call_output"] == [c["call_id"] for c in calls]
    assert fake_responses._validate({"model": "gpt-5", "input": items}, []) is None


def test_incomplete_content_filter() -> None:
    """incomplete_details.reason content_filter → CONTENT_FILTER, the partial text kept."""
    body = {"id": "r", "status": "incomplete", "incomplete_details": {"reason": "content_filter"},
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "Part"}]}]}
    r = decode_response(P, 200, json.dumps(body).encode()).unwrap()
    assert (r.finish_reason, r.raw_finish_reason, r.text) == (FinishReason.CONTENT_FILTER, "content_filter", "Part")


def test_unread_events_and_items_of_other_shapes_are_tolerated() -> None:
    """Hosted-tool events and items shaped unlike ours (an object ``delta``, object ``arguments``, as the
    SDK types ``response.shell_call_output_content.delta`` and ``tool_search_call``) do not break a decode;
    a malformed event of a type we read still does."""
    search = {"id": "ts_1", "type": "tool_search_call", "status": "completed", "arguments": {"query": "x"}}
    obj = {**MULTI, "output": [search, *MULTI["output"]]}  # type: ignore[misc]
    plain = decode_response(P, 200, json.dumps(obj).encode()).unwrap()
    assert plain == decode_response(P, 200, json.dumps(MULTI).encode()).unwrap()
    raw = _sse({"type": "response.created", "response": {**MULTI, "output": []}},
               {"type": "response.output_item.added", "output_index": 0, "item": search},
               {"type": "response.shell_call_output_content.delta", "output_index": 0, "delta": {"stdout": "hi"}},
               {"type": "response.output_item.done", "output_index": 0, "item": search},
               *({"type": "response.output_item.done", "output_index": i + 1, "item": it} for i, it in enumerate(MULTI["output"])),  # type: ignore[arg-type]
               _done(obj))
    assert decode_stream(P, [raw]).unwrap() == plain
    bad = _sse({"type": "response.output_text.delta", "delta": "x", "output_index": "zero"})
    assert decode_stream(P, [bad]).failure().kind is ErrorKind.STREAMING


def test_a_registered_row_can_borrow_a_responses_dialect() -> None:
    """register() with a Responses dialect value works (the row is not relabelled field by field)."""
    from interlingua.core.registry import ProviderSpec, get_dialect, register, unregister

    register(ProviderSpec(name="acme_responses", dialect_module="openai_responses", dialect_attr="COMPATIBLE_RESPONSES",
                          env_base_url=("ACME_BASE_URL",)))
    try:
        d = get_dialect("acme_responses").unwrap()
        http = d.encode_request(ChatRequest(model="acme_responses:m", messages=(Message.user("hi"),)),
                                ProviderConfig(base_url="https://llm.acme.test/v1")).unwrap()
        assert http.url == "https://llm.acme.test/v1/responses"
    finally:
        unregister("acme_responses")
