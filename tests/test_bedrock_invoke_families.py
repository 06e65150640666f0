"""InvokeModel and InvokeModelWithResponseStream for the native bodies of Meta Llama, Mistral AI (text and
chat completion), Amazon Nova and Amazon Titan Text on the Bedrock fake: raw HTTP (each family's body and
Bedrock's headers, the base64 chunks decoded by botocore's own event-stream parser, streamed text and counts
equal to the non-streamed ones, Bedrock's schema violations, converse and invoke agreeing) and boto3's
bedrock-runtime client unmodified. LiteLLM's invoke route is driven in test_fidelity_clients.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from botocore.eventstream import ChecksumMismatch
from botocore.exceptions import ClientError

from interlingua.fakes import FakeServer

# boto3 clients as the Converse tests make them, closed after each test by the same autouse fixture
from .test_bedrock_fake import _close_boto3_clients, sdk  # noqa: F401
from .test_bedrock_invoke_fake import chunks, error_of, frames, post

LLAMA = "meta.llama3-1-8b-instruct-v1:0"
LLAMA_PROFILE = "us.meta.llama3-3-70b-instruct-v1:0"
LLAMA4 = "us.meta.llama4-maverick-17b-instruct-v1:0"
MISTRAL = "mistral.mistral-7b-instruct-v0:2"
MIXTRAL = "mistral.mixtral-8x7b-instruct-v0:1"
MISTRAL_LARGE = "mistral.mistral-large-2407-v1:0"
NOVA = "us.amazon.nova-lite-v1:0"
NOVA_MICRO = "amazon.nova-micro-v1:0"
TITAN = "amazon.titan-text-express-v1"
TITAN_LITE = "amazon.titan-text-lite-v1"
TITAN_PREMIER = "amazon.titan-text-premier-v1:0"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
EXPECTED = "Fake reply: hello there"


def nova_body(text: str, **more: Any) -> dict[str, Any]:
    return {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": text}]}], **more}


@dataclass(frozen=True)
class Family:
    """One family: a model, a body saying "hello there", and how its answers read (text, input and output
    tokens) non-streamed and streamed."""

    name: str
    model: str
    body: dict[str, Any]
    keys: list[str]
    text: Callable[[dict[str, Any]], str]
    counts: Callable[[dict[str, Any]], tuple[int, int] | None]
    piece: Callable[[dict[str, Any]], str]


def _mistral_piece(c: dict[str, Any]) -> str:
    return str(c["outputs"][0]["text"])


def _chat_piece(c: dict[str, Any]) -> str:
    return str(c["choices"][0]["message"]["content"])


def _nova_piece(c: dict[str, Any]) -> str:
    return str(c.get("contentBlockDelta", {}).get("delta", {}).get("text", ""))


FAMILIES = [
    Family("llama", LLAMA, {"prompt": "hello there", "max_gen_len": 100, "temperature": 0.5, "top_p": 0.9},
           ["generation", "prompt_token_count", "generation_token_count", "stop_reason"],
           lambda b: str(b["generation"]), lambda b: (b["prompt_token_count"], b["generation_token_count"]),
           lambda c: str(c["generation"])),
    Family("llama-profile", LLAMA_PROFILE, {"prompt": "hello there"},
           ["generation", "prompt_token_count", "generation_token_count", "stop_reason"],
           lambda b: str(b["generation"]), lambda b: (b["prompt_token_count"], b["generation_token_count"]),
           lambda c: str(c["generation"])),
    Family("mistral", MISTRAL, {"prompt": "hello there", "max_tokens": 100, "temperature": 0.5, "top_p": 0.9,
                                "top_k": 50}, ["outputs"], lambda b: str(b["outputs"][0]["text"]), lambda b: None,
           _mistral_piece),
    Family("mistral-chat", MISTRAL_LARGE, {"messages": [{"role": "user", "content": "hello there"}],
                                           "max_tokens": 100, "temperature": 0.5}, ["choices"],
           lambda b: str(b["choices"][0]["message"]["content"]), lambda b: None, _chat_piece),
    Family("nova", NOVA, nova_body("hello there", inferenceConfig={"max_new_tokens": 100, "temperature": 0.7,
                                                                   "top_p": 0.9, "top_k": 20}),
           ["output", "stopReason", "usage"], lambda b: str(b["output"]["message"]["content"][0]["text"]),
           lambda b: (b["usage"]["inputTokens"], b["usage"]["outputTokens"]), _nova_piece),
    Family("titan", TITAN, {"inputText": "hello there", "textGenerationConfig": {"maxTokenCount": 100,
                                                                                 "temperature": 0.7, "topP": 0.9}},
           ["inputTextTokenCount", "results"], lambda b: str(b["results"][0]["outputText"]),
           lambda b: (b["inputTextTokenCount"], b["results"][0]["tokenCount"]), lambda c: str(c["outputText"])),
]
by_family = pytest.mark.parametrize("fam", FAMILIES, ids=[f.name for f in FAMILIES])


def headers_counts(headers: dict[str, str]) -> tuple[int, int]:
    return int(headers["x-amzn-bedrock-input-token-count"]), int(headers["x-amzn-bedrock-output-token-count"])


# -- every family: the body, the headers, the stream -----------------------------------------------------------


async def assert_invoke_answers(fam: Any, fake: FakeServer) -> None:
    """The family's body answered in its own keys with Bedrock's headers, counted as Converse counts it (a
    family whose body carries counts says the same)."""
    status, headers, raw = await post(fake, fam.model, "invoke", fam.body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    assert list(body) == fam.keys
    assert fam.text(body) == EXPECTED
    prompt, completion = headers_counts(headers)
    assert (prompt, completion) == (5, 5)  # Converse's count of one user message "hello there" and its answer
    counts = getattr(fam, "counts", None)
    assert counts is None or counts(body) in (None, (prompt, completion))
    assert headers["x-amzn-bedrock-invocation-latency"] == str(100 + completion)
    assert fake.requests[-1].endpoint == "chat" and fake.requests[-1].path == f"/model/{fam.model}/invoke"


async def assert_stream_adds_up(fam: Any, fake: FakeServer, min_events: int = 2) -> None:
    """Each chunk is an event-stream `chunk` event of base64 JSON; the text concatenated is the non-streamed
    text, and the last chunk's invocation metrics are the non-streamed counts."""
    _, whole_headers, whole = await post(fake, fam.model, "invoke", fam.body)
    status, headers, raw = await post(fake, fam.model, "invoke-with-response-stream", fam.body)
    assert status == 200 and headers["Content-Type"] == "application/vnd.amazon.eventstream"
    assert headers["X-Amzn-Bedrock-Content-Type"] == "application/json"
    events = chunks(raw)
    assert len(events) >= min_events
    assert "".join(fam.piece(e) for e in events) == fam.text(json.loads(whole))
    assert [e for e in events if "amazon-bedrock-invocationMetrics" in e] == [events[-1]]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == headers_counts(whole_headers)
    assert metrics["invocationLatency"] == int(whole_headers["x-amzn-bedrock-invocation-latency"])
    assert metrics["firstByteLatency"] == 100


@by_family
async def test_invoke_answers_the_familys_body_with_bedrocks_headers(fam: Family, fake: FakeServer) -> None:
    await assert_invoke_answers(fam, fake)


@by_family
async def test_stream_chunks_add_up_to_the_invoke_answer(fam: Family, fake: FakeServer) -> None:
    await assert_stream_adds_up(fam, fake)


async def test_llama_stream_chunks_carry_the_running_counts(fake: FakeServer) -> None:
    """The first chunk has the prompt count, every chunk the generation count so far, the last one (empty
    text) the stop reason."""
    events = chunks((await post(fake, LLAMA, "invoke-with-response-stream", {"prompt": "hello there"}))[2])
    assert events[0] == {"generation": "Fake reply:", "prompt_token_count": 5, "generation_token_count": 3,
                         "stop_reason": None}
    assert events[1] == {"generation": " hello there", "prompt_token_count": None, "generation_token_count": 5,
                         "stop_reason": None}
    last = dict(events[2])
    del last["amazon-bedrock-invocationMetrics"]
    assert last == {"generation": "", "prompt_token_count": None, "generation_token_count": 5, "stop_reason": "stop"}


async def test_titan_stream_chunks_carry_the_counts_first_and_last(fake: FakeServer) -> None:
    events = chunks((await post(fake, TITAN, "invoke-with-response-stream", {"inputText": "hello there"}))[2])
    assert [list(e)[:5] for e in events] == [["outputText", "index", "totalOutputTextTokenCount",
                                              "completionReason", "inputTextTokenCount"]] * 2
    assert (events[0]["inputTextTokenCount"], events[0]["totalOutputTextTokenCount"],
            events[0]["completionReason"]) == (5, None, None)
    assert (events[1]["inputTextTokenCount"], events[1]["totalOutputTextTokenCount"],
            events[1]["completionReason"]) == (None, 5, "FINISH")
    assert {e["index"] for e in events} == {0}


async def test_nova_stream_is_converse_streams_events_as_chunks(fake: FakeServer) -> None:
    body = nova_body("hello there")
    _, _, whole = await post(fake, NOVA, "invoke", body)
    events = chunks((await post(fake, NOVA, "invoke-with-response-stream", body))[2])
    assert [next(iter(e)) for e in events] == ["messageStart", "contentBlockDelta", "contentBlockDelta",
                                               "contentBlockStop", "messageStop", "metadata"]
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert events[1] == {"contentBlockDelta": {"delta": {"text": "Fake reply:"}, "contentBlockIndex": 0}}
    assert events[4] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[5]["metadata"]["usage"] == json.loads(whole)["usage"] == {
        "inputTokens": 5, "outputTokens": 5, "totalTokens": 10, "cacheReadInputTokenCount": 0,
        "cacheWriteInputTokenCount": 0}
    assert json.loads(whole)["output"]["message"]["role"] == "assistant"


async def test_mistral_stream_ends_with_an_empty_output_and_its_stop_reason(fake: FakeServer) -> None:
    events = chunks((await post(fake, MISTRAL, "invoke-with-response-stream", {"prompt": "hello there"}))[2])
    assert [e["outputs"] for e in events] == [[{"text": "Fake reply:", "stop_reason": None}],
                                              [{"text": " hello there", "stop_reason": None}],
                                              [{"text": "", "stop_reason": "stop"}]]
    chat = chunks((await post(fake, MISTRAL_LARGE, "invoke-with-response-stream",
                              {"messages": [{"role": "user", "content": "hello there"}]}))[2])
    assert chat[-1]["choices"] == [{"index": 0, "message": {"role": "assistant", "content": ""},
                                    "stop_reason": "stop"}]
    assert {c["choices"][0]["stop_reason"] for c in chat[:-1]} == {None}


# -- limits, stop sequences, tools ---------------------------------------------------------------------------


async def test_limits_end_each_family_with_its_own_reason(fake: FakeServer) -> None:
    async def body(model: str, b: dict[str, Any]) -> dict[str, Any]:
        status, _, raw = await post(fake, model, "invoke", b)
        assert status == 200, raw
        return dict(json.loads(raw))

    llama = await body(LLAMA, {"prompt": "hello there", "max_gen_len": 2})
    assert (llama["generation"], llama["generation_token_count"], llama["stop_reason"]) == ("Fake reply", 2, "length")
    mistral = await body(MISTRAL, {"prompt": "hello there", "max_tokens": 2})
    assert mistral["outputs"] == [{"text": "Fake reply", "stop_reason": "length"}]
    stopped = await body(MISTRAL, {"prompt": "hello there", "stop": ["there"]})
    assert stopped["outputs"] == [{"text": "Fake reply: hello ", "stop_reason": "stop"}]
    titan = await body(TITAN, {"inputText": "hello there", "textGenerationConfig": {"maxTokenCount": 2}})
    assert titan["results"] == [{"tokenCount": 2, "outputText": "Fake reply", "completionReason": "LENGTH"}]
    titan = await body(TITAN, {"inputText": "hello there", "textGenerationConfig": {"stopSequences": ["hello"]}})
    assert titan["results"][0]["outputText"] == "Fake reply: " and \
        titan["results"][0]["completionReason"] == "STOP_CRITERIA_MET"
    nova = await body(NOVA, nova_body("hello there", inferenceConfig={"maxTokens": 2}))
    assert (nova["stopReason"], nova["usage"]["outputTokens"]) == ("max_tokens", 2)
    chat = await body(MISTRAL_LARGE, {"messages": [{"role": "user", "content": "hello there"}], "max_tokens": 2})
    assert chat["choices"][0]["stop_reason"] == "length"


async def test_nova_tool_use_non_streamed_and_streamed(fake: FakeServer) -> None:
    body = nova_body("weather in Paris?", toolConfig={
        "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": SCHEMA}}}], "toolChoice": {"any": {}}})
    _, headers, raw = await post(fake, NOVA, "invoke", body)
    answer = json.loads(raw)
    use = answer["output"]["message"]["content"][0]["toolUse"]
    assert (use["name"], use["input"], answer["stopReason"]) == ("get_weather", {"city": "Paris"}, "tool_use")
    events = chunks((await post(fake, NOVA, "invoke-with-response-stream", body))[2])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"] == {"toolUseId": use["toolUseId"], "name": "get_weather"}
    args = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
                   if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {}))
    assert json.loads(args) == {"city": "Paris"}
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}
    assert events[-1]["metadata"]["usage"]["outputTokens"] == int(headers["x-amzn-bedrock-output-token-count"])


async def test_mistral_chat_tool_call_and_its_result(fake: FakeServer) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}}]
    first = {"messages": [{"role": "user", "content": "weather in Paris?"}], "tools": tools, "tool_choice": "any"}
    _, _, raw = await post(fake, MISTRAL_LARGE, "invoke", first)
    choice = json.loads(raw)["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert choice["stop_reason"] == "tool_calls" and len(call["id"]) == 22 and call["id"].isalnum()
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    streamed = chunks((await post(fake, MISTRAL_LARGE, "invoke-with-response-stream", first))[2])
    assert [c["choices"][0]["message"].get("tool_calls") for c in streamed if "tool_calls" in
            c["choices"][0]["message"]] == [[call]]
    second = {**first, "tool_choice": "auto", "messages": [
        *first["messages"], {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]}
    _, _, raw = await post(fake, MISTRAL_LARGE, "invoke", second)
    assert json.loads(raw)["choices"][0] == {"index": 0, "message": {
        "role": "assistant", "content": "Fake reply: tool get_weather returned sunny"}, "stop_reason": "stop"}
    _, none_headers, raw = await post(fake, MISTRAL_LARGE, "invoke", {**first, "tool_choice": "none"})
    _, auto_headers, _ = await post(fake, MISTRAL_LARGE, "invoke", {**first, "tool_choice": "auto"})
    assert json.loads(raw)["choices"][0]["message"]["content"] == "Fake reply: weather in Paris?"
    assert none_headers["x-amzn-bedrock-input-token-count"] == auto_headers["x-amzn-bedrock-input-token-count"]


# -- invoke and converse agree ---------------------------------------------------------------------------------


def converse_of(text: str, **more: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **more}


@pytest.mark.parametrize(("model", "invoke", "converse"), [
    (LLAMA, {"prompt": "tell me about Lisbon"}, converse_of("tell me about Lisbon")),
    (MISTRAL, {"prompt": "tell me about Lisbon"}, converse_of("tell me about Lisbon")),
    (TITAN, {"inputText": "tell me about Lisbon"}, converse_of("tell me about Lisbon")),
    (NOVA, nova_body("tell me about Lisbon", system=[{"text": "be brief"}]),
     converse_of("tell me about Lisbon", system=[{"text": "be brief"}])),
    (MISTRAL_LARGE, {"messages": [{"role": "system", "content": "be brief"},
                                  {"role": "user", "content": "tell me about Lisbon"}]},
     converse_of("tell me about Lisbon", system=[{"text": "be brief"}])),
], ids=["llama", "mistral", "titan", "nova", "mistral-chat"])
async def test_invoke_and_converse_agree(fake: FakeServer, model: str, invoke: dict[str, Any],
                                         converse: dict[str, Any]) -> None:
    """The same conversation gets the same text and costs the same tokens on both APIs (a prompt string is
    one user message)."""
    _, headers, raw = await post(fake, model, "invoke", invoke)
    _, _, conv = await post(fake, model, "converse", converse)
    c = json.loads(conv)
    body = json.loads(raw)
    text = (body.get("generation") or (body.get("outputs") or [{}])[0].get("text")
            or (body.get("results") or [{}])[0].get("outputText")
            or (body.get("choices") or [{}])[0].get("message", {}).get("content")
            or body["output"]["message"]["content"][0]["text"])
    assert text == c["output"]["message"]["content"][0]["text"] == "Fake reply: tell me about Lisbon"
    assert headers_counts(headers) == (c["usage"]["inputTokens"], c["usage"]["outputTokens"])


async def test_nova_and_converse_agree_on_a_tool_conversation(fake: FakeServer) -> None:
    conv = {"system": [{"text": "be brief"}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
                                                   "inputSchema": {"json": SCHEMA}}}]},
            "messages": [{"role": "user", "content": [{"text": "weather in Paris?"}]},
                         {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather",
                                                                        "input": {"city": "Paris"}}}]},
                         {"role": "user", "content": [{"toolResult": {"toolUseId": "t1",
                                                                      "content": [{"text": "sunny"}]}}]}]}
    _, headers, raw = await post(fake, NOVA, "invoke", {"schemaVersion": "messages-v1", **conv})
    _, _, c = await post(fake, NOVA, "converse", conv)
    assert json.loads(raw)["output"] == json.loads(c)["output"]
    assert json.loads(raw)["output"]["message"]["content"] == [{"text": "Fake reply: tool get_weather returned sunny"}]
    assert headers_counts(headers) == (json.loads(c)["usage"]["inputTokens"], json.loads(c)["usage"]["outputTokens"])


# -- Bedrock's refusals ----------------------------------------------------------------------------------------


def malformed(*violations: str) -> str:
    return f"Malformed input request: {''.join(violations)}, please reformat your input and try again."


@pytest.mark.parametrize(("model", "body", "expected"), [
    (LLAMA, {"messages": [{"role": "user", "content": "hi"}]},
     malformed("#: required key [prompt] not found", "#: extraneous key [messages] is not permitted")),
    (LLAMA, {"prompt": "hi", "max_gen_len": 8192}, malformed("#/max_gen_len: 8192 is not less or equal to 2048")),
    (LLAMA, {"prompt": "hi", "max_gen_len": 0}, malformed("#/max_gen_len: 0 is not greater or equal to 1")),
    (LLAMA, {"prompt": "hi", "temperature": "hot", "top_p": 1.5},
     malformed("#/temperature: expected type: Number, found: String", "#/top_p: 1.5 is not less or equal to 1")),
    (LLAMA, {"prompt": 7, "max_gen_len": 1.5},
     malformed("#/prompt: expected type: String, found: Integer",
               "#/max_gen_len: expected type: Integer, found: BigDecimal")),
    (MISTRAL, {"prompt": "hi", "max_tokens": 0}, malformed("#/max_tokens: 0 is not greater or equal to 1")),
    (MIXTRAL, {"prompt": "hi", "max_tokens": 5000}, malformed("#/max_tokens: 5000 is not less or equal to 4096")),
    (MISTRAL, {"messages": [{"role": "user", "content": "hi"}]},
     malformed("#: required key [prompt] not found", "#: extraneous key [messages] is not permitted")),
    (MISTRAL, {"prompt": "hi", "stop": "x", "top_k": 0},
     malformed("#/stop: expected type: JSONArray, found: String", "#/top_k: 0 is not greater or equal to 1")),
    (MISTRAL_LARGE, {"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"},
     malformed('#/tool_choice: "required" is not a valid enum value')),
    (MISTRAL_LARGE, {"messages": [{"role": "human", "content": "hi"}], "stream": True},
     malformed("#: extraneous key [stream] is not permitted", '#/messages/0/role: "human" is not a valid enum value')),
    (MISTRAL_LARGE, {"messages": []}, malformed("#/messages: expected minimum item count: 1, found: 0")),
    (NOVA, {"messages": [{"role": "user", "content": "hi"}]},
     malformed("#/messages/0/content: expected type: JSONArray, found: String")),
    (NOVA, {"messages": [{"content": [{"text": "hi"}]}]}, malformed("#/messages/0: required key [role] not found")),
    (NOVA, {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
     malformed("#/messages/0/content/0: extraneous key [type] is not permitted")),
    (NOVA, nova_body("hi", inferenceConfig={"max_new_tokens": 6000}),
     malformed("#/inferenceConfig/max_new_tokens: 6000 is not less or equal to 5000")),
    (NOVA_MICRO, nova_body("hi", schemaVersion="messages-v2", inferenceConfig={"top_k": 501}),
     malformed('#/schemaVersion: "messages-v2" is not a valid enum value',
               "#/inferenceConfig/top_k: 501 is not less or equal to 500")),
    (NOVA, {"prompt": "hi"}, malformed("#: required key [messages] not found",
                                       "#: extraneous key [prompt] is not permitted")),
    (NOVA, {"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]},
     "A conversation must start with a user message. Try again with a conversation that starts with a user "
     "message."),
    (TITAN, {"inputText": "hi", "textGenerationConfig": {"maxTokenCount": 9000}},
     malformed("#/textGenerationConfig/maxTokenCount: 9000 is not less or equal to 8192")),
    (TITAN_LITE, {"inputText": "hi", "textGenerationConfig": {"maxTokenCount": 5000}},
     malformed("#/textGenerationConfig/maxTokenCount: 5000 is not less or equal to 4096")),
    (TITAN_PREMIER, {"inputText": "hi", "textGenerationConfig": {"maxTokens": 10, "temperature": -1}},
     malformed("#/textGenerationConfig: extraneous key [maxTokens] is not permitted",
               "#/textGenerationConfig/temperature: -1 is not greater or equal to 0")),
    (TITAN, {"prompt": "hi"}, malformed("#: required key [inputText] not found",
                                        "#: extraneous key [prompt] is not permitted")),
    (LLAMA, [1], malformed("#: expected type: JSONObject, found: JSONArray")),
    (NOVA, b"{not json", "Malformed input request, please reformat your input and try again."),
    ("qwen.qwen3-32b-v1:0", {"prompt": "hi"}, "The provided model identifier is invalid."),
    ("mistral.pixtral-large-2502-v1:0", {"prompt": "hi"}, "The provided model identifier is invalid."),
    ("meta.llama2-13b-chat-v1", {"prompt": "hi"}, "The provided model identifier is invalid."),
])
async def test_bedrocks_validation_errors(fake: FakeServer, model: str, body: Any, expected: str) -> None:
    """400 ValidationException in Bedrock's REST-JSON shape, on both actions, with everit's violations."""
    assert error_of(*await post(fake, model, "invoke", body)) == (400, "ValidationException", expected)
    assert error_of(*await post(fake, model, "invoke-with-response-stream", body)) == \
        (400, "ValidationException", expected)


async def test_llama_4_answers_but_does_not_stream(fake: FakeServer) -> None:
    status, _, raw = await post(fake, LLAMA4, "invoke", {"prompt": "hello there"})
    assert status == 200 and json.loads(raw)["generation"] == EXPECTED
    got = error_of(*await post(fake, LLAMA4, "invoke-with-response-stream", {"prompt": "hello there"}))
    assert got == (400, "ValidationException", "The model is unsupported for streaming.")


# -- faults, scripts, auth ---------------------------------------------------------------------------------------


@by_family
async def test_faults_up_front_and_mid_stream(fam: Family, fake: FakeServer) -> None:
    await assert_faults(fam, fake)


async def assert_faults(fam: Any, fake: FakeServer) -> None:
    """A 429 up front is ThrottlingException; an error event mid-stream ends the chunks with an exception frame."""
    fake.fail_next("bedrock", "429")
    assert error_of(*await post(fake, fam.model, "invoke", fam.body))[:2] == (429, "ThrottlingException")
    fake.fail_next("bedrock", "error-event=424")
    status, _, raw = await post(fake, fam.model, "invoke-with-response-stream", fam.body)
    msgs = frames(raw)
    assert status == 200 and msgs[0].headers[":event-type"] == "chunk"
    assert (msgs[-1].headers[":message-type"], msgs[-1].headers[":exception-type"]) == \
        ("exception", "modelStreamErrorException")


async def test_malformed_fault_breaks_a_crc_even_in_a_one_chunk_stream(fake: FakeServer) -> None:
    body = {"inputText": "hello there", "textGenerationConfig": {"maxTokenCount": 1}}
    assert len(chunks((await post(fake, TITAN, "invoke-with-response-stream", body))[2])) == 1
    fake.fail_next("bedrock", "malformed")
    _, _, raw = await post(fake, TITAN, "invoke-with-response-stream", body)
    with pytest.raises(ChecksumMismatch):
        frames(raw)


async def test_scripted_answer_and_wrong_key(fake: FakeServer) -> None:
    fake.script("bedrock", ["scripted words"])
    _, _, raw = await post(fake, LLAMA, "invoke", {"prompt": "hello there"})
    assert json.loads(raw)["generation"] == "scripted words"
    async with aiohttp.ClientSession() as http, http.post(
            f"{fake.url_for('bedrock')}/model/{NOVA}/invoke", json=nova_body("hi"),
            headers={"Authorization": "Bearer wrong"}) as r:
        assert (r.status, r.headers["x-amzn-ErrorType"].split(":")[0]) == (403, "UnrecognizedClientException")


# -- boto3 ------------------------------------------------------------------------------------------------------


@by_family
async def test_boto3_invoke_model_and_stream(fam: Family, fake: FakeServer) -> None:
    """boto3 signs with SigV4 and parses the event stream itself; its chunks' bytes are the family's JSON."""
    def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        client = sdk(fake)
        r = client.invoke_model(modelId=fam.model, body=json.dumps(fam.body), contentType="application/json",
                                accept="application/json")
        s = client.invoke_model_with_response_stream(modelId=fam.model, body=json.dumps(fam.body))
        events = [json.loads(e["chunk"]["bytes"]) for e in s["body"]]
        return r, json.loads(r["body"].read()), events
    r, body, events = await asyncio.to_thread(run)
    assert r["contentType"] == "application/json"
    http_headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert fam.text(body) == "".join(fam.piece(e) for e in events) == EXPECTED
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert (str(metrics["inputTokenCount"]), str(metrics["outputTokenCount"])) == \
        (http_headers["x-amzn-bedrock-input-token-count"], http_headers["x-amzn-bedrock-output-token-count"])


async def test_boto3_validation_error_and_stream_exception(fake: FakeServer) -> None:
    def refused() -> None:
        sdk(fake).invoke_model(modelId=LLAMA, body=json.dumps({"prompt": "hi", "max_gen_len": 4096}))
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(refused)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["Error"]["Message"] == malformed("#/max_gen_len: 4096 is not less or equal to 2048")
    fake.fail_next("bedrock", "error-event")

    def throttled() -> None:
        stream = sdk(fake).invoke_model_with_response_stream(modelId=NOVA, body=json.dumps(nova_body("a b c d")))
        try:
            list(stream["body"])
        finally:
            stream["body"].close()
    with pytest.raises(Exception) as mid:
        await asyncio.to_thread(throttled)
    assert "throttlingException" in str(mid.value)
