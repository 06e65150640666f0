"""The Ollama fake's ``POST /v1/responses`` (Ollama's stateless Responses endpoint): its wire behaviour
over raw HTTP, checked against what Ollama's source writes (openai/responses.go, middleware/openai.go),
and the official ``openai`` SDK driving it unmodified."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from interlingua.fakes import FakeServer
from interlingua.fakes._content import count_tokens

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CHAT_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                 "parameters": WEATHER["parameters"]}}


@pytest.fixture
async def http(fake: FakeServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.origin("ollama") + "/v1", timeout=30) as c:
        yield c


@pytest.fixture
async def sdk(fake: FakeServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.origin("ollama") + "/v1", api_key="ollama", max_retries=0) as c:
        yield c


def events_of(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The SSE frames: each ``event: <type>`` line with its ``data:`` line, nothing else."""
    out = []
    for block in text.split("\n\n"):
        if not block:
            continue
        kind_line, data_line = block.split("\n")
        assert kind_line.startswith("event: ") and data_line.startswith("data: "), block
        out.append((kind_line[len("event: "):], json.loads(data_line[len("data: "):])))
    return out


# -- the body ------------------------------------------------------------------------------------------


async def test_non_streamed_body_has_toresponse_fields(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """Every field ToResponse writes, in its order; stateless fields stay what Ollama says whatever is sent."""
    r = await http.post("/responses", json={
        "model": "llama3.2", "input": "hello there", "instructions": "Be kind.", "temperature": 0.5,
        "max_output_tokens": 200, "previous_response_id": "resp_1", "store": True, "metadata": {"a": "b"},
        "tool_choice": "required", "truncation": "auto"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == [
        "id", "object", "created_at", "completed_at", "status", "incomplete_details", "model", "previous_response_id",
        "instructions", "output", "error", "tools", "tool_choice", "truncation", "parallel_tool_calls", "text", "top_p",
        "presence_penalty", "frequency_penalty", "top_logprobs", "temperature", "reasoning", "usage",
        "max_output_tokens", "max_tool_calls", "store", "background", "service_tier", "metadata", "safety_identifier",
        "prompt_cache_key"]
    assert re.fullmatch(r"resp_\d{1,6}", body["id"]) and body["object"] == "response"
    assert (body["status"], body["model"], body["instructions"]) == ("completed", "llama3.2", "Be kind.")
    assert (body["previous_response_id"], body["store"], body["metadata"]) == (None, False, {})
    assert (body["tool_choice"], body["truncation"], body["temperature"], body["max_output_tokens"]) == (
        "auto", "auto", 0.5, 200)
    assert body["top_p"] == 1 and isinstance(body["top_p"], int)  # Go writes float64 1 as `1`
    assert body["text"] == {"format": {"type": "text"}} and body["reasoning"] is None
    (msg,) = body["output"]
    assert re.fullmatch(r"msg_\d{1,6}", msg["id"])
    assert msg == {"id": msg["id"], "type": "message", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": "Fake reply: hello there", "annotations": [],
                                "logprobs": []}]}
    usage = body["usage"]
    assert usage["output_tokens"] == count_tokens("Fake reply: hello there")
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"] == {"cached_tokens": 0} and usage["output_tokens_details"] == {
        "reasoning_tokens": 0}
    assert body["completed_at"] >= body["created_at"] > 1_700_000_000
    (req,) = fake.requests_for("ollama")
    assert (req.path, req.endpoint) == ("/v1/responses", "responses")


async def test_usage_and_text_equal_the_chat_completions_route(http: httpx.AsyncClient) -> None:
    """The same conversation through /v1/chat/completions and /v1/responses: the same text and counts
    (a model that does not think, a thinking one told effort none, and one that thinks: both routes think
    by default)."""
    for model, extra in (("llama3.2", {}), ("qwen3:8b", {"reasoning": {"effort": "none"}}), ("qwen3:8b", {})):
        chat = (await http.post("/chat/completions", json={"model": model, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "what is the tallest tree?"}],
            "tools": [CHAT_WEATHER], **extra})).json()
        resp = (await http.post("/responses", json={"model": model, "instructions": "Be brief.",
                                                    "input": "what is the tallest tree?", "tools": [WEATHER],
                                                    **extra})).json()
        assert resp["output"][-1]["content"][0]["text"] == chat["choices"][0]["message"]["content"]
        assert (resp["usage"]["input_tokens"], resp["usage"]["output_tokens"]) == (
            chat["usage"]["prompt_tokens"], chat["usage"]["completion_tokens"]), model
        assert chat["usage"]["prompt_tokens"] > count_tokens("Be brief.what is the tallest tree?")


async def test_thinking_model_answers_with_a_reasoning_item(http: httpx.AsyncClient) -> None:
    """qwen3 thinks unless told none: a reasoning item first (summary and encrypted_content the thinking in
    plain text, id rs_<response id>), its tokens in output_tokens, reasoning_tokens still 0."""
    body = (await http.post("/responses", json={"model": "qwen3:8b", "input": "hello there",
                                                "reasoning": {"effort": "high"}})).json()
    reasoning, msg = body["output"]
    assert reasoning == {"id": "rs_" + body["id"], "type": "reasoning",
                         "summary": [{"type": "summary_text", "text": "Thinking about: hello there"}],
                         "encrypted_content": "Thinking about: hello there"}
    assert msg["content"][0]["text"] == "Fake reply: hello there"
    assert body["reasoning"] == {"effort": "high"}  # ToResponse omits the summary it was not given
    assert body["usage"]["output_tokens"] == count_tokens("Fake reply: hello there") + count_tokens(
        "Thinking about: hello there")
    assert body["usage"]["output_tokens_details"] == {"reasoning_tokens": 0}


async def test_max_output_tokens_cuts_and_stays_completed(http: httpx.AsyncClient) -> None:
    body = (await http.post("/responses", json={"model": "llama3.2", "input": "one two three four five six",
                                                "max_output_tokens": 3})).json()
    assert body["status"] == "completed" and body["incomplete_details"] is None
    assert body["output"][0]["content"][0]["text"] == "Fake reply:" and body["usage"]["output_tokens"] == 3


# -- the stream ----------------------------------------------------------------------------------------


async def test_stream_events_order_sequence_and_framing(http: httpx.AsyncClient) -> None:
    """ResponsesStreamConverter's events for a thinking answer, numbered from 0, keys sorted (Go maps), no
    [DONE]; response.completed carries the output and the usage the non-streamed answer has."""
    request = {"model": "qwen3:8b", "input": "one two three"}
    r = await http.post("/responses", json={**request, "stream": True})
    assert r.headers["content-type"] == "text/event-stream" and r.headers["cache-control"] == "no-cache"
    assert "[DONE]" not in r.text
    events = events_of(r.text)
    kinds = [k for k, _ in events]
    assert kinds == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [d["type"] for _, d in events] == kinds
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert all(list(d) == sorted(d) for _, d in events)
    assert [d.get("output_index") for _, d in events[2:-1]] == [0] * 6 + [1] * 8
    created = events[0][1]["response"]
    assert (created["status"], created["output"], created["usage"]) == ("in_progress", [], None)
    rs_id = events[2][1]["item"]["id"]
    assert re.fullmatch(r"rs_\d{1,6}", rs_id) and events[2][1]["item"] == {"id": rs_id, "type": "reasoning",
                                                                           "summary": []}
    assert "".join(d["delta"] for k, d in events if k == "response.reasoning_summary_text.delta") == \
        "Thinking about: one two three"
    assert "".join(d["delta"] for k, d in events if k == "response.output_text.delta") == \
        "Fake reply: one two three"
    done = events[-1][1]["response"]
    assert done["status"] == "completed" and done["completed_at"] is not None
    assert [i["type"] for i in done["output"]] == ["reasoning", "message"]
    assert done["output"][1]["id"] == events[8][1]["item"]["id"]
    assert done["output"][1]["content"][0]["text"] == "Fake reply: one two three"
    whole = (await http.post("/responses", json=request)).json()
    assert done["usage"] == {k: whole["usage"][k] for k in sorted(whole["usage"])}


async def test_stream_of_a_tool_call(http: httpx.AsyncClient) -> None:
    """A function call streams as added (in_progress, empty arguments), the arguments delta and done, item done."""
    r = await http.post("/responses", json={"model": "llama3.2", "input": "call get_weather for Paris",
                                            "tools": [WEATHER], "stream": True})
    events = events_of(r.text)
    assert [k for k, _ in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed"]
    added, delta, args_done, item_done = (d for _, d in events[2:6])
    fc_id = added["item"]["id"]
    assert re.fullmatch(r"fc_\d{1,6}_0", fc_id)
    assert added["item"]["status"] == "in_progress" and added["item"]["arguments"] == ""
    assert delta["delta"] == args_done["arguments"] == '{"city":"Paris"}'
    assert item_done["item"]["status"] == "completed" and item_done["item"]["name"] == "get_weather"
    assert events[-1][1]["response"]["output"] == [item_done["item"]]
    assert events[-1][1]["response"]["tools"] == [{"description": "Weather for a city", "name": "get_weather",
                                                   "parameters": WEATHER["parameters"], "strict": None,
                                                   "type": "function"}]


async def test_request_without_input_only_loads_the_model(http: httpx.AsyncClient) -> None:
    """No messages: ChatHandler loads the model and answers empty; ToResponse still writes a message item."""
    body = (await http.post("/responses", json={"model": "llama3.2"})).json()
    assert body["output"][0]["content"][0]["text"] == "" and body["usage"]["total_tokens"] == 0
    r = await http.post("/responses", json={"model": "llama3.2", "stream": True})
    events = events_of(r.text)
    assert [k for k, _ in events] == ["response.created", "response.in_progress", "response.completed"]
    assert events[-1][1]["response"]["output"] == []


# -- tools, formats --------------------------------------------------------------------------------------


async def test_tool_call_round_trip_with_function_call_output(http: httpx.AsyncClient) -> None:
    """The call (fc_<response id>_0, arguments from the prompt), then its output by call_id: the answer reads it."""
    first = (await http.post("/responses", json={"model": "llama3.2", "input": "Weather in Paris? call get_weather",
                                                 "tools": [WEATHER], "tool_choice": "none"})).json()
    (call,) = first["output"]
    assert call["id"] == f"fc_{first['id']}_0" and re.fullmatch(r"call_[0-9a-f]{8}", call["call_id"])
    assert (call["type"], call["status"], call["name"], call["arguments"]) == (
        "function_call", "completed", "get_weather", '{"city":"Paris"}')
    second = (await http.post("/responses", json={"model": "llama3.2", "tools": [WEATHER], "input": [
        {"role": "user", "content": "Weather in Paris? call get_weather"}, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny, 21C"}]})).json()
    assert second["output"][0]["content"][0]["text"] == "Fake reply: tool get_weather returned sunny, 21C"
    # the output as content parts is read as their text
    parts = (await http.post("/responses", json={"model": "llama3.2", "tools": [WEATHER], "input": [
        call, {"type": "function_call_output", "call_id": call["call_id"],
               "output": [{"type": "input_text", "text": "rain"}]}]})).json()
    assert parts["output"][0]["content"][0]["text"] == "Fake reply: tool get_weather returned rain"


async def test_tool_choice_is_not_read(http: httpx.AsyncClient) -> None:
    """Ollama ignores tool_choice: "required" forces nothing, and the echo says "auto"."""
    body = (await http.post("/responses", json={"model": "llama3.2", "input": "hello there", "tools": [WEATHER],
                                                "tool_choice": "required"})).json()
    assert body["output"][0]["type"] == "message" and body["tool_choice"] == "auto"


async def test_text_formats(http: httpx.AsyncClient) -> None:
    """json_schema constrains the answer to the schema and is echoed field for field; json_object is only echoed."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
              "required": ["city", "n"]}
    body = (await http.post("/responses", json={"model": "llama3.2", "input": "a city", "text": {"format": {
        "type": "json_schema", "name": "City", "schema": schema, "strict": True}}})).json()
    assert json.loads(body["output"][0]["content"][0]["text"]) == {"city": "sample", "n": 1}
    assert body["text"] == {"format": {"type": "json_schema", "name": "City", "schema": schema, "strict": True}}
    plain = (await http.post("/responses", json={"model": "llama3.2", "input": "a city",
                                                 "text": {"format": {"type": "json_object"}}})).json()
    assert plain["output"][0]["content"][0]["text"] == "Fake reply: a city"
    assert plain["text"] == {"format": {"type": "json_object"}}


# -- errors -----------------------------------------------------------------------------------------------

_FC = {"type": "function_call", "call_id": "call_1", "name": "f"}
BAD: list[tuple[Any, int, str]] = [
    (b"", 400, "EOF"),
    (b'{"model": "llama3.2", "input": "x"', 400, "unexpected EOF"),
    (b'{"model": "llama3.2",}', 400, "invalid character '}' looking for beginning of object key string"),
    ([1], 400, "json: cannot unmarshal array into Go value of type openai.ResponsesRequest"),
    ({"model": 5, "input": "x"}, 400, "json: cannot unmarshal number into Go struct field ResponsesRequest.model of type string"),
    ({"model": "llama3.2", "input": "x", "max_output_tokens": 1.5}, 400,
     "json: cannot unmarshal number 1.5 into Go struct field ResponsesRequest.max_output_tokens of type int"),
    ({"model": "llama3.2", "input": "x", "tools": [{"type": "function", "name": 5}]}, 400,
     "json: cannot unmarshal number into Go struct field ResponsesTool.tools.name of type string"),
    # an input error is Go's answer even after a type error elsewhere
    ({"model": 5, "input": 7}, 400,
     "input must be a string or array: json: cannot unmarshal number into Go value of type []json.RawMessage"),
    ({"model": "llama3.2", "input": [{"type": "foo"}]}, 400, 'input[0]: unknown input item type: "foo"'),
    ({"model": "llama3.2", "input": [{"content": "x"}]}, 400, "input[0]: input item missing required 'type' field"),
    ({"model": "llama3.2", "input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, 400,
     "input[0]: content[0]: unknown content type: text"),
    ({"model": "llama3.2", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, 400,
     "file inputs are not currently supported"),
    ({"model": "llama3.2", "input": [{"role": "user", "content": [
        {"type": "input_image", "detail": "auto", "image_url": "https://example.com/a.png"}]}]}, 400,
     "image URLs are not currently supported, please use base64 encoded data instead"),
    ({"model": "llama3.2", "input": [{**_FC, "arguments": "{"}]}, 400,
     "failed to parse function call arguments: unexpected end of JSON input"),
    ({"model": "llama3.2", "input": [{**_FC, "arguments": "[1]"}]}, 400,
     "failed to parse function call arguments: Value looks like object, but can't find closing '}' symbol"),
    ({"model": "llama3.2", "input": "x", "reasoning": {"effort": "extreme"}}, 400,
     'invalid reasoning value: "extreme" (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", '
     'or "none")'),
    ({"model": "llama3.2", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": {"type": 5}}]},
     400, "failed to unmarshal tool parameters: json: cannot unmarshal number into Go struct field "
     "ToolFunctionParameters.type of type string"),
    ({"input": "x"}, 400, "model is required"),
    ({"model": "llama9", "input": "x"}, 404, "model 'llama9' not found"),
    ({"model": "llama3.2", "input": "x", "reasoning": {"effort": "low"}}, 400, '"llama3.2" does not support thinking'),
    ({"model": "llava:7b", "input": "x", "tools": [WEATHER]}, 400,
     "registry.ollama.ai/library/llava:7b does not support tools"),
    ({"model": "nomic-embed-text", "input": "x"}, 400, '"nomic-embed-text" does not support chat'),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD, ids=[m[:40] for _, _, m in BAD])
async def test_invalid_requests_get_ollamas_status_and_error(http: httpx.AsyncClient, body: Any, status: int,
                                                             message: str) -> None:
    """NewError's body: the message Ollama's Go code gives, typed by status; the middleware's own 400s come
    through gin (charset), the chat handler's through writeError."""
    r = await http.post("/responses", content=body if isinstance(body, bytes) else json.dumps(body).encode())
    assert r.status_code == status, r.text
    kind = {400: "invalid_request_error", 404: "not_found_error"}[status]
    assert r.json() == {"error": {"message": message, "type": kind, "param": None, "code": None}}
    handler = status == 404 or message.startswith(("model is", '"', "registry"))
    assert r.headers["content-type"] == ("application/json" if handler else "application/json; charset=utf-8")


async def test_models_declared_unknown_are_not_found(fake: FakeServer, http: httpx.AsyncClient) -> None:
    fake.models("ollama", unknown=["llama3.2"])
    r = await http.post("/responses", json={"model": "llama3.2", "input": "x"})
    assert r.status_code == 404 and r.json()["error"]["message"] == "model 'llama3.2' not found"


async def test_no_stored_responses(http: httpx.AsyncClient) -> None:
    """Stateless: Ollama has no GET/DELETE /v1/responses/{id} (gin's plain 404)."""
    for method in ("GET", "DELETE"):
        r = await http.request(method, "/responses/resp_123")
        assert (r.status_code, r.text) == (404, "404 page not found\n")


async def test_injected_faults(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """Faults are queued under "ollama" (and this endpoint); a status arrives in the OpenAI layer's shape; a
    mid-stream failure ends the stream with no response.completed (Ollama's writer drops the error line)."""
    fake.fail_next("ollama", "429", endpoint="chat")  # aimed elsewhere: not this route's
    fake.fail_next("ollama", "429", endpoint="responses")
    r = await http.post("/responses", json={"model": "llama3.2", "input": "x"})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json() == {"error": {"message": "too many requests, please retry later", "type": "api_error",
                                  "param": None, "code": None}}
    assert (await http.post("/responses", json={"model": "llama3.2", "input": "x"})).status_code == 200
    fake.fail_next("ollama", "500")
    assert (await http.post("/responses", json={"model": "llama3.2", "input": "x"})).json()["error"]["type"] == \
        "api_error"
    fake.fail_next("ollama", "error-event")
    r = await http.post("/responses", json={"model": "llama3.2", "input": "one two three", "stream": True})
    assert [k for k, _ in events_of(r.text)] == ["response.created"]
    assert [(q.provider, q.endpoint, q.fault) for q in fake.requests_for("ollama")] == [
        ("ollama", "responses", "429"), ("ollama", "responses", None), ("ollama", "responses", "500"),
        ("ollama", "responses", "error-event")]


async def test_scripted_answer(fake: FakeServer, http: httpx.AsyncClient) -> None:
    fake.script("ollama", ["scripted words"])
    body = (await http.post("/responses", json={"model": "llama3.2", "input": "x"})).json()
    assert body["output"][0]["content"][0]["text"] == "scripted words"


# -- the official openai SDK, unmodified ---------------------------------------------------------------------


async def test_sdk_create(sdk: openai.AsyncOpenAI) -> None:
    r = await sdk.responses.create(model="llama3.2", input="hello there", instructions="Be kind.")
    assert r.output_text == "Fake reply: hello there" and r.status == "completed" and r.model == "llama3.2"
    assert r.usage is not None and r.usage.output_tokens == count_tokens("Fake reply: hello there")
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


async def test_sdk_stream_helper_and_stream_true(sdk: openai.AsyncOpenAI) -> None:
    """responses.stream's accumulator rebuilds the answer (reasoning first); stream=True yields typed events."""
    async with sdk.responses.stream(model="qwen3:8b", input="stream this please") as s:
        kinds = [ev.type async for ev in s]
        final = await s.get_final_response()
    assert final.output_text == "Fake reply: stream this please"
    assert final.output[0].type == "reasoning" and final.output[0].summary[0].text == \
        "Thinking about: stream this please"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    whole = await sdk.responses.create(model="qwen3:8b", input="stream this please")
    assert final.usage is not None and whole.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (whole.usage.input_tokens,
                                                                      whole.usage.output_tokens)
    stream = await sdk.responses.create(model="llama3.2", input="one two three four", stream=True)
    seen = [ev async for ev in stream]
    assert [ev.sequence_number for ev in seen] == list(range(len(seen)))
    assert "".join(ev.delta for ev in seen if ev.type == "response.output_text.delta") == \
        "Fake reply: one two three four"


async def test_sdk_tool_round_trip(sdk: openai.AsyncOpenAI) -> None:
    """A function call, then the SDK's own output item sent back with its function_call_output."""
    tools: Any = [WEATHER]
    first = await sdk.responses.create(model="llama3.2", input="Weather in Oslo? call get_weather", tools=tools)
    (call,) = first.output
    assert call.type == "function_call" and (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Oslo"})
    second = await sdk.responses.create(model="llama3.2", tools=tools, input=[
        {"role": "user", "content": "Weather in Oslo? call get_weather"}, call.model_dump(exclude_none=True),  # type: ignore[list-item]
        {"type": "function_call_output", "call_id": call.call_id, "output": "snow"}])
    assert second.output_text == "Fake reply: tool get_weather returned snow"


async def test_sdk_errors(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk.responses.create(model="llama9", input="x")
    assert missing.value.body == {"message": "model 'llama9' not found", "type": "not_found_error", "param": None,
                                  "code": None}
    with pytest.raises(openai.BadRequestError, match="does not support thinking"):
        await sdk.responses.create(model="llama3.2", input="x", reasoning={"effort": "low"})
