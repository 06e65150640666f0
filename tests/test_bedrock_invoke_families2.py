"""InvokeModel and InvokeModelWithResponseStream for the native bodies of Cohere Command R and R+, AI21 Labs
Jamba, DeepSeek-R1 and OpenAI gpt-oss on the Bedrock fake: raw HTTP (each family's body, Bedrock's headers,
the base64 chunks decoded by botocore's own event-stream parser, streamed text and counts equal to the
non-streamed ones, Bedrock's schema violations, converse and invoke agreeing), boto3's bedrock-runtime client
unmodified, and LiteLLM's routes for these models (whichever of them send the body AWS documents)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the cost map

import litellm

from interlingua.fakes import FakeServer
from interlingua.fakes.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY

# boto3 clients as the Converse tests make them, closed after each test by the same autouse fixture
from .test_bedrock_fake import _close_boto3_clients, sdk  # noqa: F401
from .test_bedrock_invoke_fake import chunks, error_of, post
from .test_bedrock_invoke_families import (
    EXPECTED,
    SCHEMA,
    assert_faults,
    assert_invoke_answers,
    assert_stream_adds_up,
    converse_of,
    headers_counts,
    malformed,
)

COHERE = "cohere.command-r-v1:0"
COHERE_PLUS = "cohere.command-r-plus-v1:0"
JAMBA = "ai21.jamba-1-5-mini-v1:0"
JAMBA_LARGE = "ai21.jamba-1-5-large-v1:0"
JAMBA_INSTRUCT = "ai21.jamba-instruct-v1:0"
DEEPSEEK = "us.deepseek.r1-v1:0"
GPT_OSS = "openai.gpt-oss-20b-1:0"
GPT_OSS_120 = "openai.gpt-oss-120b-1:0"
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}}
COHERE_TOOL = {"name": "get_weather", "description": "Weather",
               "parameter_definitions": {"city": {"description": "The city", "type": "str", "required": True}}}
HELLO = [{"role": "user", "content": "hello there"}]


def chat(text: str, **more: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **more}


@dataclass(frozen=True)
class Family:
    """One family: a model, a body saying "hello there", its answer's keys, how its answer and chunks read,
    and whether it streams."""

    name: str
    model: str
    body: dict[str, Any]
    keys: list[str]
    text: Callable[[dict[str, Any]], str]
    piece: Callable[[dict[str, Any]], str]
    streams: bool = True


def _choice_text(b: dict[str, Any]) -> str:
    return str(b["choices"][0]["message"]["content"])


FAMILIES = [
    Family("cohere", COHERE, {"message": "hello there", "max_tokens": 100, "temperature": 0.3, "p": 0.75, "k": 0},
           ["response_id", "text", "generation_id", "chat_history", "finish_reason"], lambda b: str(b["text"]),
           lambda c: str(c.get("text", "")) if c["event_type"] == "text-generation" else ""),
    Family("cohere-plus", COHERE_PLUS, {"message": "hello there", "preamble": "", "chat_history": []},
           ["response_id", "text", "generation_id", "chat_history", "finish_reason"], lambda b: str(b["text"]),
           lambda c: str(c.get("text", "")) if c["event_type"] == "text-generation" else ""),
    Family("jamba", JAMBA, chat("hello there", max_tokens=100, temperature=0.7, top_p=0.9),
           ["id", "choices", "usage", "meta", "model"], _choice_text,
           lambda c: str(c["choices"][0]["delta"].get("content") or "")),
    Family("jamba-instruct", JAMBA_INSTRUCT, chat("hello there"), ["id", "choices", "usage", "meta", "model"],
           _choice_text, lambda c: str(c["choices"][0]["delta"].get("content") or "")),
    Family("deepseek", DEEPSEEK, {"prompt": "hello there", "max_tokens": 100, "temperature": 0.6, "top_p": 0.9},
           ["choices"], lambda b: str(b["choices"][0]["text"]), lambda c: str(c["choices"][0]["text"])),
    Family("gpt-oss", GPT_OSS, chat("hello there", max_completion_tokens=100, temperature=0.7),
           ["id", "object", "created", "model", "choices", "usage"], _choice_text, lambda c: "", streams=False),
]
by_family = pytest.mark.parametrize("fam", FAMILIES, ids=[f.name for f in FAMILIES])
streaming = [f for f in FAMILIES if f.streams]
by_streaming_family = pytest.mark.parametrize("fam", streaming, ids=[f.name for f in streaming])


async def answer(fake: FakeServer, model: str, body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    status, headers, raw = await post(fake, model, "invoke", body)
    assert status == 200, raw
    return dict(json.loads(raw)), headers


# -- every family: the body, the headers, the stream -----------------------------------------------------------


@by_family
async def test_invoke_answers_the_familys_body_with_bedrocks_headers(fam: Family, fake: FakeServer) -> None:
    await assert_invoke_answers(fam, fake)


@by_streaming_family
async def test_stream_chunks_add_up_to_the_invoke_answer(fam: Family, fake: FakeServer) -> None:
    await assert_stream_adds_up(fam, fake, min_events=3)


async def test_cohere_answer_and_its_stream_events(fake: FakeServer) -> None:
    """The answer carries the conversation so far in Cohere's roles; the stream is Cohere's stream-start,
    text-generation events and a stream-end whose response is the non-streamed answer."""
    body = {"message": "hello there", "chat_history": [{"role": "USER", "message": "hi"},
                                                       {"role": "CHATBOT", "message": "hello"}]}
    whole, _ = await answer(fake, COHERE, body)
    assert whole["chat_history"] == [*body["chat_history"], {"role": "USER", "message": "hello there"},
                                     {"role": "CHATBOT", "message": EXPECTED}]
    assert whole["finish_reason"] == "COMPLETE"
    events = chunks((await post(fake, COHERE, "invoke-with-response-stream", body))[2])
    assert events[0] == {"is_finished": False, "event_type": "stream-start", "generation_id": whole["generation_id"]}
    assert events[1] == {"is_finished": False, "event_type": "text-generation", "text": "Fake reply:"}
    assert events[2] == {"is_finished": False, "event_type": "text-generation", "text": " hello there"}
    last = dict(events[3])
    metrics = last.pop("amazon-bedrock-invocationMetrics")
    # "meta: API usage data (only exists for streaming)": Cohere's billed units, the invocation's own counts
    meta = {"api_version": {"version": "1"}, "billed_units": {"input_tokens": metrics["inputTokenCount"],
                                                              "output_tokens": metrics["outputTokenCount"]}}
    assert "meta" not in whole and "prompt" not in whole
    assert last == {"is_finished": True, "event_type": "stream-end", "response": {**whole, "meta": meta},
                    "finish_reason": "COMPLETE"}
    shown, _ = await answer(fake, COHERE, {**body, "preamble": "Be brief.", "return_prompt": True})
    assert shown["prompt"] == (
        "<BOS_TOKEN><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Be brief.<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>hi<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>hello<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>hello there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>")


async def test_jamba_stream_is_chat_completion_chunks_with_usage_last(fake: FakeServer) -> None:
    whole, _ = await answer(fake, JAMBA, chat("hello there"))
    assert whole["model"] == "jamba-1.5-mini" and whole["id"].startswith("chatcmpl-")
    assert whole["choices"] == [{"index": 0, "message": {"role": "assistant", "content": EXPECTED, "tool_calls": None},
                                 "finish_reason": "stop"}]
    events = chunks((await post(fake, JAMBA, "invoke-with-response-stream", chat("hello there")))[2])
    assert {e["id"] for e in events} == {whole["id"]}
    assert events[0]["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    assert [e["choices"][0]["finish_reason"] for e in events] == [None] * (len(events) - 1) + ["stop"]
    assert [e["usage"] for e in events[:-1]] == [None] * (len(events) - 1)
    assert events[-1]["usage"] == whole["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    assert (await answer(fake, JAMBA_LARGE, chat("hi")))[0]["model"] == "jamba-1.5-large"


async def test_jamba_n_answers_n_choices_and_counts_them_all(fake: FakeServer) -> None:
    body, headers = await answer(fake, JAMBA, chat("hello there", n=2))
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert {c["message"]["content"] for c in body["choices"]} == {EXPECTED}
    assert body["usage"]["completion_tokens"] == 10 and headers_counts(headers) == (5, 10)
    events = chunks((await post(fake, JAMBA, "invoke-with-response-stream", chat("hello there", n=2)))[2])
    for i in (0, 1):
        assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events
                       if e["choices"][0]["index"] == i) == EXPECTED
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 10


async def test_deepseek_stream_ends_with_an_empty_choice_and_its_stop_reason(fake: FakeServer) -> None:
    events = chunks((await post(fake, DEEPSEEK, "invoke-with-response-stream", {"prompt": "hello there"}))[2])
    assert [e["choices"] for e in events] == [[{"text": "Fake reply:", "stop_reason": None}],
                                              [{"text": " hello there", "stop_reason": None}],
                                              [{"text": "", "stop_reason": "stop"}]]


async def test_gpt_oss_answers_a_chat_completion_and_does_not_stream(fake: FakeServer) -> None:
    body, _ = await answer(fake, GPT_OSS_120, chat("hello there", model=GPT_OSS_120, stream=False))
    assert body["object"] == "chat.completion" and body["model"] == GPT_OSS_120 and isinstance(body["created"], int)
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": EXPECTED},
                                "finish_reason": "stop"}]
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    for action in ("invoke-with-response-stream",):
        assert error_of(*await post(fake, GPT_OSS, action, chat("hello there"))) == \
            (400, "ValidationException", "The model is unsupported for streaming.")
    assert error_of(*await post(fake, GPT_OSS, "invoke", chat("hi", stream=True))) == \
        (400, "ValidationException", "The model is unsupported for streaming.")


# -- limits, stop sequences, tools ---------------------------------------------------------------------------


async def test_limits_and_stops_end_each_family_with_its_own_reason(fake: FakeServer) -> None:
    cohere, _ = await answer(fake, COHERE, {"message": "hello there", "max_tokens": 2})
    assert (cohere["text"], cohere["finish_reason"]) == ("Fake reply", "MAX_TOKENS")
    cohere, _ = await answer(fake, COHERE, {"message": "hello there", "stop_sequences": ["there"]})
    assert (cohere["text"], cohere["finish_reason"]) == ("Fake reply: hello ", "COMPLETE")
    jamba, _ = await answer(fake, JAMBA, chat("hello there", max_tokens=2))
    assert (_choice_text(jamba), jamba["choices"][0]["finish_reason"]) == ("Fake reply", "length")
    jamba, _ = await answer(fake, JAMBA, chat("hello there", stop="there"))
    assert (_choice_text(jamba), jamba["choices"][0]["finish_reason"]) == ("Fake reply: hello ", "stop")
    deepseek, _ = await answer(fake, DEEPSEEK, {"prompt": "hello there", "max_tokens": 2})
    assert deepseek["choices"] == [{"text": "Fake reply", "stop_reason": "length"}]
    deepseek, _ = await answer(fake, DEEPSEEK, {"prompt": "hello there", "stop": ["hello"]})
    assert deepseek["choices"] == [{"text": "Fake reply: ", "stop_reason": "stop"}]
    oss, headers = await answer(fake, GPT_OSS, chat("hello there", max_tokens=2))
    assert (_choice_text(oss), oss["choices"][0]["finish_reason"], headers_counts(headers)) == \
        ("Fake reply", "length", (5, 2))


async def test_cohere_tool_call_and_its_result(fake: FakeServer) -> None:
    first = {"message": "get_weather in Paris?", "tools": [COHERE_TOOL]}
    body, _ = await answer(fake, COHERE, first)
    assert body["tool_calls"] == [{"name": "get_weather", "parameters": {"city": "Paris"}}]
    assert body["chat_history"][-1] == {"role": "CHATBOT", "message": body["text"], "tool_calls": body["tool_calls"]}
    events = chunks((await post(fake, COHERE, "invoke-with-response-stream", first))[2])
    calls = [e for e in events if e["event_type"] == "tool-calls-generation"]
    assert [c["tool_calls"] for c in calls] == [body["tool_calls"]]
    assert events[-1]["response"]["tool_calls"] == body["tool_calls"]
    second = {"message": "", "tools": [COHERE_TOOL], "chat_history": [{"role": "USER", "message": "get_weather in Paris?"}],
              "tool_results": [{"call": {"name": "get_weather", "parameters": {"city": "Paris"}},
                                "outputs": [{"weather": "sunny"}]}]}
    body, _ = await answer(fake, COHERE, second)
    assert body["text"] == 'Fake reply: tool get_weather returned {"weather": "sunny"}' and "tool_calls" not in body


async def test_jamba_and_gpt_oss_tool_calls(fake: FakeServer) -> None:
    for model in (JAMBA, GPT_OSS):
        body, _ = await answer(fake, model, chat("get_weather in Paris?", tools=[TOOL]))
        choice = body["choices"][0]
        call = choice["message"]["tool_calls"][0]
        assert choice["finish_reason"] == "tool_calls" and call["type"] == "function"
        assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
        follow = chat("get_weather in Paris?", tools=[TOOL])
        follow["messages"] += [{"role": "assistant", "content": "", "tool_calls": [call]},
                               {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
        again, _ = await answer(fake, model, follow)
        assert _choice_text(again) == "Fake reply: tool get_weather returned sunny"
    events = chunks((await post(fake, JAMBA, "invoke-with-response-stream", chat("get_weather in Paris?", tools=[TOOL])))[2])
    streamed = [d["tool_calls"] for e in events if "tool_calls" in (d := e["choices"][0]["delta"])]
    assert streamed[0][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
    forced, _ = await answer(fake, GPT_OSS, chat("hello", tools=[TOOL], tool_choice="required"))
    assert forced["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


# -- invoke and converse agree ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "invoke", "text"), [
    (COHERE, {"message": "tell me about Lisbon", "preamble": "be brief"}, lambda b: b["text"]),
    (JAMBA, {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "tell me about Lisbon"}]},
     _choice_text),
    (GPT_OSS, {"messages": [{"role": "developer", "content": "be brief"},
                            {"role": "user", "content": "tell me about Lisbon"}]}, _choice_text),
], ids=["cohere", "jamba", "gpt-oss"])
async def test_invoke_and_converse_agree(fake: FakeServer, model: str, invoke: dict[str, Any],
                                         text: Callable[[dict[str, Any]], str]) -> None:
    body, headers = await answer(fake, model, invoke)
    c, _ = await answer_converse(fake, model, converse_of("tell me about Lisbon", system=[{"text": "be brief"}]))
    assert text(body) == c["output"]["message"]["content"][0]["text"] == "Fake reply: tell me about Lisbon"
    assert headers_counts(headers) == (c["usage"]["inputTokens"], c["usage"]["outputTokens"])


async def test_deepseek_prompt_is_one_user_message_on_converse(fake: FakeServer) -> None:
    body, headers = await answer(fake, DEEPSEEK, {"prompt": "tell me about Lisbon"})
    c, _ = await answer_converse(fake, DEEPSEEK, converse_of("tell me about Lisbon"))
    assert body["choices"][0]["text"] == c["output"]["message"]["content"][0]["text"]
    assert headers_counts(headers) == (c["usage"]["inputTokens"], c["usage"]["outputTokens"])


async def test_cohere_history_reads_as_the_converse_conversation(fake: FakeServer) -> None:
    invoke = {"message": "and Porto?", "chat_history": [{"role": "USER", "message": "tell me about Lisbon"},
                                                         {"role": "CHATBOT", "message": "A city."}]}
    conv = {"messages": [{"role": "user", "content": [{"text": "tell me about Lisbon"}]},
                         {"role": "assistant", "content": [{"text": "A city."}]},
                         {"role": "user", "content": [{"text": "and Porto?"}]}]}
    body, headers = await answer(fake, COHERE_PLUS, invoke)
    c, _ = await answer_converse(fake, COHERE_PLUS, conv)
    assert body["text"] == c["output"]["message"]["content"][0]["text"] == "Fake reply: and Porto?"
    assert headers_counts(headers) == (c["usage"]["inputTokens"], c["usage"]["outputTokens"])


async def answer_converse(fake: FakeServer, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    status, headers, raw = await post(fake, model, "converse", body)
    assert status == 200, raw
    return dict(json.loads(raw)), headers


# -- Bedrock's refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "body", "expected"), [
    (COHERE, {"prompt": "hi"}, malformed("#: required key [message] not found",
                                         "#: extraneous key [prompt] is not permitted")),
    (COHERE, {"message": "hi", "stream": True}, malformed("#: extraneous key [stream] is not permitted")),
    (COHERE, {"message": "hi", "max_tokens": 5000, "p": 1.0},
     malformed("#/max_tokens: 5000 is not less or equal to 4000", "#/p: 1.0 is not less or equal to 0.99")),
    (COHERE, {"message": "hi", "chat_history": [{"role": "user", "message": "x"}, {"role": "CHATBOT"}]},
     malformed('#/chat_history/0/role: "user" is not a valid enum value',
               "#/chat_history/1: required key [message] not found")),
    (COHERE_PLUS, {"message": "hi", "stop_sequences": ["a", "b", "c", "d", "e"], "prompt_truncation": "AUTO"},
     malformed('#/prompt_truncation: "AUTO" is not a valid enum value',
               "#/stop_sequences: expected maximum item count: 4, found: 5")),
    (COHERE, {"message": "hi", "tools": [{"description": "x"}]}, malformed("#/tools/0: required key [name] not found")),
    (JAMBA, {"prompt": "hi"}, malformed("#: required key [messages] not found",
                                        "#: extraneous key [prompt] is not permitted")),
    (JAMBA, chat("hi", max_tokens=5000, temperature=2.5),
     malformed("#/max_tokens: 5000 is not less or equal to 4096", "#/temperature: 2.5 is not less or equal to 2")),
    (JAMBA_LARGE, {"messages": [], "n": 17},
     malformed("#/messages: expected minimum item count: 1, found: 0", "#/n: 17 is not less or equal to 16")),
    (JAMBA, {"messages": [{"role": "human", "content": "hi"}], "stream": True},
     malformed("#: extraneous key [stream] is not permitted", '#/messages/0/role: "human" is not a valid enum value')),
    (DEEPSEEK, {"prompt": "hi", "max_tokens": 40000, "temperature": 1.5},
     malformed("#/temperature: 1.5 is not less or equal to 1", "#/max_tokens: 40000 is not less or equal to 32768")),
    (DEEPSEEK, {"prompt": "hi", "stop": [str(i) for i in range(11)]},
     malformed("#/stop: expected maximum item count: 10, found: 11")),
    (DEEPSEEK, {"messages": [{"role": "user", "content": "hi"}]},
     malformed("#: required key [prompt] not found", "#: extraneous key [messages] is not permitted")),
    (GPT_OSS, {"prompt": "hi"}, malformed("#: required key [messages] not found")),
    (GPT_OSS, {"messages": [{"role": "human", "content": "hi"}], "max_completion_tokens": 0},
     malformed('#/messages/0/role: "human" is not a valid enum value',
               "#/max_completion_tokens: 0 is not greater or equal to 1")),
    (JAMBA, [1], malformed("#: expected type: JSONObject, found: JSONArray")),
    (COHERE, b"{not json", "Malformed input request, please reformat your input and try again."),
    ("deepseek.r1-v1:0", {"prompt": "hi"},
     "Invocation of model ID deepseek.r1-v1:0 with on-demand throughput isn\u2019t supported. Retry your request "
     "with the ID or ARN of an inference profile that contains this model."),
    ("qwen.qwen3-32b-v1:0", {"prompt": "hi"}, "The provided model identifier is invalid."),
    ("writer.palmyra-x5-v1:0", {"prompt": "hi"}, "The provided model identifier is invalid."),
    ("cohere.command-text-v14", {"prompt": "hi"}, "The provided model identifier is invalid."),
    ("ai21.j2-ultra-v1", {"prompt": "hi"}, "The provided model identifier is invalid."),
])
async def test_bedrocks_validation_errors(fake: FakeServer, model: str, body: Any, expected: str) -> None:
    """400 ValidationException in Bedrock's REST-JSON shape, on both actions (gpt-oss refuses to stream before
    it reads the body), with everit's violations."""
    assert error_of(*await post(fake, model, "invoke", body)) == (400, "ValidationException", expected)
    if not model.startswith("openai."):
        assert error_of(*await post(fake, model, "invoke-with-response-stream", body)) == \
            (400, "ValidationException", expected)


async def test_gpt_oss_model_member_must_name_the_called_model(fake: FakeServer) -> None:
    assert (await answer(fake, GPT_OSS, chat("hi", model=GPT_OSS)))[0]["model"] == GPT_OSS
    assert error_of(*await post(fake, GPT_OSS, "invoke", chat("hi", model=GPT_OSS_120)))[:2] == \
        (400, "ValidationException")


# -- faults ------------------------------------------------------------------------------------------------------


@by_streaming_family
async def test_faults_up_front_and_mid_stream(fam: Family, fake: FakeServer) -> None:
    await assert_faults(fam, fake)


async def test_scripted_answer(fake: FakeServer) -> None:
    fake.script("bedrock", ["scripted words", "more words"])
    assert (await answer(fake, COHERE, {"message": "hello there"}))[0]["text"] == "scripted words"
    assert (await answer(fake, DEEPSEEK, {"prompt": "hello there"}))[0]["choices"][0]["text"] == "more words"


# -- boto3 ------------------------------------------------------------------------------------------------------


@by_family
async def test_boto3_invoke_model_and_stream(fam: Family, fake: FakeServer) -> None:
    """boto3 signs with SigV4 and parses the event stream itself; its chunks' bytes are the family's JSON (and
    gpt-oss's stream is refused as ValidationException)."""
    def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]] | str]:
        client = sdk(fake)
        r = client.invoke_model(modelId=fam.model, body=json.dumps(fam.body), contentType="application/json",
                                accept="application/json")
        try:
            s = client.invoke_model_with_response_stream(modelId=fam.model, body=json.dumps(fam.body))
        except ClientError as e:
            return r, json.loads(r["body"].read()), str(e.response["Error"]["Message"])
        events = [json.loads(e["chunk"]["bytes"]) for e in s["body"]]
        return r, json.loads(r["body"].read()), events
    r, body, events = await asyncio.to_thread(run)
    assert r["contentType"] == "application/json" and fam.text(body) == EXPECTED
    http_headers = r["ResponseMetadata"]["HTTPHeaders"]
    if not fam.streams:
        assert events == "The model is unsupported for streaming."
        return
    assert isinstance(events, list) and "".join(fam.piece(e) for e in events) == EXPECTED
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert (str(metrics["inputTokenCount"]), str(metrics["outputTokenCount"])) == \
        (http_headers["x-amzn-bedrock-input-token-count"], http_headers["x-amzn-bedrock-output-token-count"])


async def test_boto3_validation_error(fake: FakeServer) -> None:
    def refused() -> None:
        sdk(fake).invoke_model(modelId=JAMBA, body=json.dumps(chat("hi", max_tokens=8192)))
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(refused)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["Error"]["Message"] == malformed("#/max_tokens: 8192 is not less or equal to 4096")


# -- LiteLLM ----------------------------------------------------------------------------------------------------


def _lite(fake: FakeServer, model: str) -> dict[str, Any]:
    return {"model": model, "aws_bedrock_runtime_endpoint": fake.url_for("bedrock"),
            "aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY,
            "aws_region_name": "us-east-1", "num_retries": 0}


async def test_litellm_cohere_command_r(fake: FakeServer) -> None:
    """``bedrock/cohere.command-r-v1:0`` sends the Command R body (``message``, ``chat_history``) to InvokeModel:
    text and the header counts non-streamed, the text-generation events' text streamed."""
    kwargs = _lite(fake, f"bedrock/{COHERE}")
    r = await litellm.acompletion(messages=HELLO, **kwargs)
    sent = fake.requests_for("bedrock")[-1]
    assert sent.path == f"/model/{COHERE}/invoke" and sent.json()["message"] == "hello there"
    assert r.choices[0].message.content == EXPECTED
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (5, 5)
    stream = await litellm.acompletion(messages=HELLO, stream=True, **kwargs)
    pieces = [c async for c in stream]
    assert fake.requests_for("bedrock")[-1].path == f"/model/{COHERE}/invoke-with-response-stream"
    assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == EXPECTED


async def test_litellm_invoke_route_sends_the_legacy_bodies_bedrock_refuses(fake: FakeServer) -> None:
    """``bedrock/invoke/cohere.command-r…`` sends the legacy Command body (``prompt``) and ``bedrock/invoke/ai21…``
    the Jurassic one: Bedrock checks them against the Command R and Jamba schemas and refuses both."""
    with pytest.raises(litellm.BadRequestError) as cohere:
        await litellm.acompletion(messages=HELLO, **_lite(fake, f"bedrock/invoke/{COHERE_PLUS}"))
    assert malformed("#: required key [message] not found", "#: extraneous key [prompt] is not permitted") \
        in str(cohere.value)
    with pytest.raises(litellm.BadRequestError) as jamba:
        await litellm.acompletion(messages=HELLO, **_lite(fake, f"bedrock/invoke/{JAMBA}"))
    assert malformed("#: required key [messages] not found", "#: extraneous key [prompt] is not permitted") \
        in str(jamba.value)


async def test_litellm_gpt_oss(fake: FakeServer) -> None:
    """``bedrock/openai/openai.gpt-oss-20b-1:0`` sends the Chat Completions body to InvokeModel and reads the
    chat completion; streamed it calls InvokeModelWithResponseStream, which gpt-oss refuses."""
    kwargs = _lite(fake, f"bedrock/openai/{GPT_OSS}")
    r = await litellm.acompletion(messages=HELLO, **kwargs)
    sent = fake.requests_for("bedrock")[-1]
    assert sent.path == f"/model/{GPT_OSS}/invoke" and sent.json()["model"] == GPT_OSS
    assert r.choices[0].message.content == EXPECTED and r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (5, 5)
    tool = await litellm.acompletion(messages=[{"role": "user", "content": "call get_weather"}], tools=[TOOL], **kwargs)
    assert tool.choices[0].message.tool_calls[0].function.name == "get_weather"
    with pytest.raises(litellm.BadRequestError) as streamed:
        stream = await litellm.acompletion(messages=HELLO, stream=True, **kwargs)
        _ = [c async for c in stream]
    assert "The model is unsupported for streaming." in str(streamed.value)
