"""Bedrock's InvokeModel and InvokeModelWithResponseStream on the fake: raw HTTP (body fields, headers, the
event-stream frames decoded by botocore's own parser, the base64 chunks in order, the invocation
metrics, errors) and the real clients unmodified — the anthropic SDK's AsyncAnthropicBedrock and boto3's
bedrock-runtime client — for Claude and Titan Text Embeddings."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
from typing import Any

import aiohttp
import anthropic
import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from interlingua.fakes import FakeServer
from interlingua.fakes.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY

# boto3 clients as the Converse tests make them, closed after each test by the same autouse fixture
from .test_bedrock_fake import _close_boto3_clients, sdk  # noqa: F401

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
HAIKU_45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
VERSION = "bedrock-2023-05-31"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
HELLO = {"anthropic_version": VERSION, "max_tokens": 100, "messages": [{"role": "user", "content": "hello there"}]}

def bedrock(fake: FakeServer) -> anthropic.AsyncAnthropicBedrock:
    return anthropic.AsyncAnthropicBedrock(aws_region="us-east-1", base_url=fake.url_for("bedrock"),
                                           aws_access_key=ACCESS_KEY_ID, aws_secret_key=SECRET_ACCESS_KEY,
                                           max_retries=0)


async def post(fake: FakeServer, model: str, action: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    """A raw POST with the Bedrock API key as bearer token."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http, http.post(
            f"{fake.url_for('bedrock')}/model/{model}/{action}", data=raw,
            headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"}) as r:
        return r.status, dict(r.headers), await r.read()


def frames(raw: bytes) -> list[Any]:
    """The event-stream messages, parsed (prelude, headers, both CRCs) by botocore's own decoder."""
    buf = EventStreamBuffer()
    buf.add_data(raw)
    return list(buf)


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """Each chunk's payload: its base64 ``bytes`` decoded as one Anthropic event's JSON."""
    out = []
    for m in frames(raw):
        assert (m.headers[":message-type"], m.headers[":event-type"]) == ("event", "chunk")
        payload = json.loads(m.payload)
        assert set(payload) == {"bytes", "p"}
        out.append(json.loads(base64.b64decode(payload["bytes"])))
    return out


def error_of(status: int, headers: dict[str, str], raw: bytes) -> tuple[int, str, str]:
    return status, headers["x-amzn-ErrorType"].split(":")[0], json.loads(raw)["message"]


# -- raw HTTP ------------------------------------------------------------------------------------------------


async def test_invoke_answers_anthropics_message_with_bedrocks_headers(fake: FakeServer) -> None:
    """The body is Anthropic's message (Bedrock's msg_bdrk_ id, the Anthropic model name); the token counts
    and latency ride in Bedrock's headers."""
    status, headers, raw = await post(fake, MODEL, "invoke", HELLO)
    assert status == 200 and headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    assert list(body) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"]
    assert re.fullmatch(r"msg_bdrk_01[0-9A-Za-z]{22}", body["id"])
    assert (body["type"], body["role"], body["model"]) == ("message", "assistant", "claude-3-5-haiku-20241022")
    assert body["content"] == [{"type": "text", "text": "Fake reply: hello there"}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    usage = body["usage"]
    assert usage == {"input_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                     "output_tokens": 5}
    assert headers["x-amzn-bedrock-input-token-count"] == "5"
    assert headers["x-amzn-bedrock-output-token-count"] == "5"
    assert headers["x-amzn-bedrock-invocation-latency"] == "105"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", headers["x-amzn-RequestId"])
    assert fake.requests[-1].endpoint == "chat" and fake.requests[-1].path == f"/model/{MODEL}/invoke"


async def test_stream_is_base64_chunks_of_anthropics_events_with_metrics(fake: FakeServer) -> None:
    """One chunk per Anthropic event, in order; the last carries amazon-bedrock-invocationMetrics equal to
    the non-streamed usage."""
    status, headers, raw = await post(fake, MODEL, "invoke-with-response-stream", HELLO)
    assert status == 200 and headers["Content-Type"] == "application/vnd.amazon.eventstream"
    assert headers["X-Amzn-Bedrock-Content-Type"] == "application/json"
    events = chunks(raw)
    assert [e["type"] for e in events] == ["message_start", "content_block_start", "content_block_delta",
                                           "content_block_delta", "content_block_stop", "message_delta",
                                           "message_stop"]
    start = events[0]["message"]
    assert re.fullmatch(r"msg_bdrk_01[0-9A-Za-z]{22}", start["id"]) and start["content"] == []
    assert (start["stop_reason"], start["usage"]["input_tokens"], start["usage"]["output_tokens"]) == (None, 5, 1)
    assert events[1]["content_block"] == {"type": "text", "text": ""}
    assert "".join(e["delta"]["text"] for e in events[2:4]) == "Fake reply: hello there"
    assert events[5] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                         "usage": {"output_tokens": 5}}
    assert events[6] == {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
        "inputTokenCount": 5, "outputTokenCount": 5, "invocationLatency": 105, "firstByteLatency": 100}}
    _, _, whole = await post(fake, MODEL, "invoke", HELLO)
    assert json.loads(whole)["id"] == start["id"]


async def test_invoke_and_converse_agree_on_text_and_usage(fake: FakeServer) -> None:
    """The same conversation (system, a tool, a tool call and its result) costs the same tokens and gets
    the same answer on both APIs."""
    schema_tool = {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}
    invoke = {"anthropic_version": VERSION, "max_tokens": 200, "system": "be brief", "tools": [schema_tool],
              "messages": [{"role": "user", "content": "weather in Paris?"},
                           {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather",
                                                              "input": {"city": "Paris"}}]},
                           {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                                         "content": "sunny"}]}]}
    converse = {"system": [{"text": "be brief"}], "inferenceConfig": {"maxTokens": 200},
                "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather",
                                                       "inputSchema": {"json": SCHEMA}}}]},
                "messages": [{"role": "user", "content": [{"text": "weather in Paris?"}]},
                             {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather",
                                                                            "input": {"city": "Paris"}}}]},
                             {"role": "user", "content": [{"toolResult": {"toolUseId": "t1",
                                                                          "content": [{"text": "sunny"}]}}]}]}
    _, _, raw = await post(fake, MODEL, "invoke", invoke)
    _, _, conv = await post(fake, MODEL, "converse", converse)
    i, c = json.loads(raw), json.loads(conv)
    assert i["content"][0]["text"] == c["output"]["message"]["content"][0]["text"] == \
        "Fake reply: tool get_weather returned sunny"
    assert (i["usage"]["input_tokens"], i["usage"]["output_tokens"]) == \
        (c["usage"]["inputTokens"], c["usage"]["outputTokens"])
    assert i["usage"]["input_tokens"] > 20  # the tool definition and system are counted


async def test_tool_use_streams_partial_json_and_stops_for_the_tool(fake: FakeServer) -> None:
    body = {**HELLO, "tools": [{"name": "get_weather", "input_schema": SCHEMA}], "tool_choice": {"type": "any"}}
    _, _, raw = await post(fake, MODEL, "invoke", body)
    block = json.loads(raw)["content"][0]
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "get_weather", {"city": "sample"})
    assert re.fullmatch(r"toolu_bdrk_01[0-9A-Za-z]{22}", block["id"]) and json.loads(raw)["stop_reason"] == "tool_use"
    _, _, sraw = await post(fake, MODEL, "invoke-with-response-stream", body)
    events = chunks(sraw)
    assert events[1]["content_block"] == {"type": "tool_use", "id": block["id"], "name": "get_weather", "input": {}}
    assert json.loads("".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta")) == \
        {"city": "sample"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


async def test_tool_choice_none_answers_in_text_but_counts_the_tools(fake: FakeServer) -> None:
    body = {**HELLO, "messages": [{"role": "user", "content": "call get_weather"}],
            "tools": [{"name": "get_weather", "input_schema": SCHEMA}]}
    _, _, auto = await post(fake, MODEL, "invoke", body)
    _, _, none = await post(fake, MODEL, "invoke", {**body, "tool_choice": {"type": "none"}})
    a, n = json.loads(auto), json.loads(none)
    assert a["stop_reason"] == "tool_use" and n["stop_reason"] == "end_turn"
    assert n["content"] == [{"type": "text", "text": "Fake reply: call get_weather"}]
    assert n["usage"]["input_tokens"] == a["usage"]["input_tokens"] > 10


async def test_stop_sequence_and_max_tokens(fake: FakeServer) -> None:
    _, _, raw = await post(fake, MODEL, "invoke", {**HELLO, "stop_sequences": ["there"]})
    body = json.loads(raw)
    assert (body["content"][0]["text"], body["stop_reason"], body["stop_sequence"]) == \
        ("Fake reply: hello ", "stop_sequence", "there")
    _, _, raw = await post(fake, MODEL, "invoke", {**HELLO, "max_tokens": 2})
    body = json.loads(raw)
    assert (body["stop_reason"], body["usage"]["output_tokens"]) == ("max_tokens", 2)


@pytest.mark.parametrize(("model", "body", "expected"), [
    (MODEL, {"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
     'Malformed input request: #: subject must not be valid against schema {"required":["messages"]}'
     "#: required key [anthropic_version] not found, please reformat your input and try again."),
    (MODEL, {"anthropic_version": VERSION, "messages": [{"role": "user", "content": "hi"}]},
     'Malformed input request: #: subject must not be valid against schema {"required":["messages"]}'
     "#: required key [max_tokens] not found, please reformat your input and try again."),
    (MODEL, {**HELLO, "model": MODEL, "stream": True},
     'Malformed input request: #: subject must not be valid against schema {"required":["messages"]}'
     "#: extraneous key [model] is not permitted#: extraneous key [stream] is not permitted, please reformat your "
     "input and try again."),
    (MODEL, {"anthropic_version": VERSION},
     "Malformed input request: #: required key [messages] not found#: required key [max_tokens] not found, please "
     "reformat your input and try again."),
    (MODEL, {**HELLO, "anthropic_version": "claude-3-sonnet-20240229-v1:0"},
     "Invalid API version: claude-3-sonnet-20240229-v1:0"),
    (SONNET_45, {**HELLO, "anthropic_version": "2026-10-21"}, "Invalid API version: 2026-10-21"),
    (MODEL, {**HELLO, "messages": [{"role": "assistant", "content": "hi"}]},
     'messages: first message must use the "user" role'),
    (MODEL, [1, 2], "Malformed input request: #: expected type: JSONObject, found: JSONArray, please reformat your "
                    "input and try again."),
    (MODEL, b"{not json", "Malformed input request, please reformat your input and try again."),
    ("anthropic.nope", HELLO, "The provided model identifier is invalid."),
    ("qwen.qwen3-32b-v1:0", HELLO, "The provided model identifier is invalid."),  # Llama, Cohere…: test_bedrock_invoke_families*
    (TITAN, {"inputText": "hi", "dimensions": 100},
     "Malformed input request: #/dimensions: 100 is not a valid enum value, please reformat your input and try "
     "again."),
    (TITAN, {"text": "hi"}, "Malformed input request: #: required key [inputText] not found#: extraneous key [text] "
                            "is not permitted, please reformat your input and try again."),
])
async def test_bedrocks_validation_errors(fake: FakeServer, model: str, body: Any, expected: str) -> None:
    """Bedrock's 400 ValidationException, in its REST-JSON shape, with the message Bedrock words."""
    assert error_of(*await post(fake, model, "invoke", body)) == (400, "ValidationException", expected)


async def test_titan_does_not_stream_and_claude_accepts_the_sdk_version_only_on_haiku_4_5(fake: FakeServer) -> None:
    got = error_of(*await post(fake, TITAN, "invoke-with-response-stream", {"inputText": "hi"}))
    assert got == (400, "ValidationException", "The model is unsupported for streaming.")
    status, _, raw = await post(fake, HAIKU_45, "invoke", {**HELLO, "anthropic_version": "2026-10-21"})
    assert status == 200 and json.loads(raw)["model"] == "claude-haiku-4-5-20251001"


async def test_converse_refuses_the_embedding_model(fake: FakeServer) -> None:
    """Titan Text Embeddings answers InvokeModel only: Converse gets Bedrock's 'not a text or chat model' 400."""
    got = error_of(*await post(fake, TITAN, "converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}))
    assert got == (400, "ValidationException", "This action doesn't support the model that you provided. Try again "
                   "with a supported text or chat model.")


async def test_faults_up_front_and_mid_stream(fake: FakeServer) -> None:
    """A queued 429 is Bedrock's ThrottlingException; error-event is an exception frame after the first chunk,
    error-event=424 the modelStreamErrorException member."""
    fake.fail_next("bedrock", "429")
    assert error_of(*await post(fake, MODEL, "invoke", HELLO))[:2] == (429, "ThrottlingException")
    fake.fail_next("bedrock", "error-event")
    status, _, raw = await post(fake, MODEL, "invoke-with-response-stream", HELLO)
    msgs = frames(raw)
    assert status == 200 and len(msgs) == 2 and msgs[0].headers[":event-type"] == "chunk"
    assert (msgs[1].headers[":message-type"], msgs[1].headers[":exception-type"]) == ("exception", "throttlingException")
    fake.fail_next("bedrock", "error-event=424")
    _, _, raw = await post(fake, MODEL, "invoke-with-response-stream", HELLO)
    last = frames(raw)[-1]
    assert last.headers[":exception-type"] == "modelStreamErrorException"
    assert json.loads(last.payload)["originalStatusCode"] == 500


async def test_scripted_answer_and_wrong_key(fake: FakeServer) -> None:
    fake.script("bedrock", ["scripted words"])
    _, _, raw = await post(fake, MODEL, "invoke", HELLO)
    assert json.loads(raw)["content"] == [{"type": "text", "text": "scripted words"}]
    async with aiohttp.ClientSession() as http, http.post(
            f"{fake.url_for('bedrock')}/model/{MODEL}/invoke", json=HELLO,
            headers={"Authorization": "Bearer wrong"}) as r:
        assert (r.status, r.headers["x-amzn-ErrorType"].split(":")[0]) == (403, "UnrecognizedClientException")


# -- the anthropic SDK's Bedrock client ---------------------------------------------------------------------


async def test_anthropic_bedrock_create_stream_and_tools(fake: FakeServer) -> None:
    """AsyncAnthropicBedrock signs with SigV4 and posts to invoke / invoke-with-response-stream; its parsed
    message and its accumulated stream are the same message."""
    async with bedrock(fake) as client:
        msg = await client.messages.create(model=HAIKU_45, max_tokens=100,
                                           messages=[{"role": "user", "content": "hello there"}])
        async with client.messages.stream(model=HAIKU_45, max_tokens=100,
                                          messages=[{"role": "user", "content": "hello there"}]) as stream:
            final = await stream.get_final_message()
        tool = await client.messages.create(
            model=HAIKU_45, max_tokens=100, messages=[{"role": "user", "content": "weather in Paris?"}],
            tools=[{"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}],
            tool_choice={"type": "any"})
    assert msg.content[0].type == "text" and msg.content[0].text == "Fake reply: hello there"
    assert (msg.id, msg.model, msg.stop_reason) == (final.id, "claude-haiku-4-5-20251001", "end_turn")
    assert final.content[0].type == "text" and final.content[0].text == msg.content[0].text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (msg.usage.input_tokens, msg.usage.output_tokens) \
        == (5, 5)
    block = tool.content[0]
    assert block.type == "tool_use" and (block.name, block.input, tool.stop_reason) == \
        ("get_weather", {"city": "Paris"}, "tool_use")
    paths = [r.path for r in fake.requests_for("bedrock")]
    assert paths == [f"/model/{HAIKU_45}/invoke", f"/model/{HAIKU_45}/invoke-with-response-stream",
                     f"/model/{HAIKU_45}/invoke"]
    assert fake.requests[-1].json()["anthropic_version"] == "2026-10-21"  # the SDK's default


async def test_anthropic_bedrock_version_errors_and_throttling(fake: FakeServer) -> None:
    """The SDK's default anthropic_version is refused on Sonnet 4.5 (BadRequestError with Bedrock's message);
    pinning bedrock-2023-05-31 in the body works; a 429 is RateLimitError; a mid-stream throttlingException
    raises out of the stream."""
    async with bedrock(fake) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(model=SONNET_45, max_tokens=50, messages=[{"role": "user", "content": "hi"}])
        assert info.value.body == {"message": "Invalid API version: 2026-10-21"}
        ok = await client.messages.create(model=SONNET_45, max_tokens=50, messages=[{"role": "user", "content": "hi"}],
                                          extra_body={"anthropic_version": VERSION})
        assert ok.model == "claude-sonnet-4-5-20250929" and ok.content[0].type == "text"
        fake.fail_next("bedrock", "429")
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model=HAIKU_45, max_tokens=50, messages=[{"role": "user", "content": "hi"}])
        fake.fail_next("bedrock", "error-event")
        with pytest.raises(anthropic.APIError) as mid:
            async with client.messages.stream(model=HAIKU_45, max_tokens=50,
                                              messages=[{"role": "user", "content": "a b c d e f"}]) as stream:
                await stream.get_final_message()
        assert "throttlingException" in str(mid.value)


# -- boto3 ------------------------------------------------------------------------------------------------


async def test_boto3_invoke_model_and_stream(fake: FakeServer) -> None:
    def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        client = sdk(fake)
        r = client.invoke_model(modelId=MODEL, body=json.dumps(HELLO), contentType="application/json",
                                accept="application/json")
        s = client.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(HELLO))
        events = [json.loads(e["chunk"]["bytes"]) for e in s["body"]]
        return r, json.loads(r["body"].read()), events
    r, body, events = await asyncio.to_thread(run)
    assert r["contentType"] == "application/json"
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"] == "5"
    assert body["content"] == [{"type": "text", "text": "Fake reply: hello there"}]
    assert events[0]["message"]["id"] == body["id"]
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == body["usage"]["output_tokens"]


async def test_boto3_stream_exception_event(fake: FakeServer) -> None:
    fake.fail_next("bedrock", "error-event=424")

    def run() -> None:
        stream = sdk(fake).invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(HELLO))["body"]
        try:
            list(stream)
        finally:
            stream.close()
    with pytest.raises(EventStreamError) as info:
        await asyncio.to_thread(run)
    assert info.value.response["Error"]["Code"] == "modelStreamErrorException"


async def test_boto3_titan_embeddings(fake: FakeServer) -> None:
    """Deterministic unit vectors of the requested size, the binary one their signs; the token count."""
    def embed(**body: Any) -> dict[str, Any]:
        r = sdk(fake).invoke_model(modelId=TITAN, body=json.dumps(body))
        return dict(json.loads(r["body"].read()))
    default = await asyncio.to_thread(embed, inputText="hello world")
    again = await asyncio.to_thread(embed, inputText="hello world")
    other = await asyncio.to_thread(embed, inputText="goodbye")
    both = await asyncio.to_thread(embed, inputText="hello world", dimensions=256, embeddingTypes=["float", "binary"])
    raw = await asyncio.to_thread(embed, inputText="hello world", dimensions=512, normalize=False)
    assert list(default) == ["embedding", "inputTextTokenCount", "embeddingsByType"]
    assert len(default["embedding"]) == 1024 and default["inputTextTokenCount"] == 2
    assert default["embeddingsByType"] == {"float": default["embedding"]}
    assert math.isclose(math.fsum(x * x for x in default["embedding"]), 1.0, rel_tol=1e-5)
    assert again == default and other["embedding"] != default["embedding"]
    assert len(both["embedding"]) == 256 and math.isclose(math.fsum(x * x for x in both["embedding"]), 1.0, rel_tol=1e-5)
    assert both["embeddingsByType"]["binary"] == [1 if x > 0 else 0 for x in both["embedding"]]
    assert set(both["embeddingsByType"]["binary"]) == {0, 1}
    assert math.fsum(x * x for x in raw["embedding"]) < 0.9  # the first 512 components, not re-normalised
    assert fake.requests[-1].endpoint == "embeddings"
    fake.fail_next("bedrock", "429", endpoint="embeddings")
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(embed, inputText="x")
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
