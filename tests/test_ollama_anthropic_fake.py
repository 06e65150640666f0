"""Ollama's Anthropic-compatible Messages API (``POST /v1/messages`` on the Ollama fake's origin), over raw
HTTP against what Ollama's source writes (anthropic/anthropic.go, middleware/anthropic.go), and driven by
the official ``anthropic`` SDK unmodified (``base_url`` the bare origin, any key, as Ollama's docs say)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import aiohttp
import anthropic
import pytest

from interlingua.fakes import FakeServer

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
# the same tool as Ollama's middleware hands it to /api/chat (api.Tool: ToolFunctionParameters' field order)
CHAT_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}}
MSG_ID = re.compile(r"^msg_[0-9a-f]{24}$")
REQ_ID = re.compile(r"^req_[0-9a-f]{24}$")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n not really a picture").decode()


def _sdk(fake: FakeServer) -> anthropic.AsyncAnthropic:
    # Ollama's docs: base_url is the bare origin; the key is "required but ignored"
    return anthropic.AsyncAnthropic(base_url=fake.origin("ollama"), api_key="ollama", max_retries=0)


async def _post(fake: FakeServer, body: Any, *, raw: bytes | None = None, path: str = "/v1/messages",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http, http.post(
            fake.origin("ollama") + path, data=data, headers={"content-type": "application/json", **(headers or {})}) as r:
        return r.status, dict(r.headers), await r.read()


async def _chat(fake: FakeServer, body: dict[str, Any]) -> dict[str, Any]:
    """The Ollama fake's own /api/chat answer (not streamed) to a chat request."""
    status, _, raw = await _post(fake, {**body, "stream": False}, path="/api/chat")
    assert status == 200, raw
    out: dict[str, Any] = json.loads(raw)
    return out


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``event: <name>\\ndata: <json>\\n\\n`` frames, checked to be exactly that."""
    text = raw.decode()
    assert text.endswith("\n\n")
    out = []
    for block in text[:-2].split("\n\n"):
        event, data = block.split("\n")
        assert event.startswith("event: ") and data.startswith("data: "), block
        out.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


# -- raw HTTP: the body and the stream, as Ollama writes them -------------------------------------------


async def test_message_body_fields_and_usage_are_the_chats(fake: FakeServer) -> None:
    """A non-streamed message: ToMessagesResponse's fields in Go's order, a msg_ id, the /api/chat answer's
    text, and usage = that answer's prompt_eval_count/eval_count; any key and version headers pass."""
    body = {"model": "llama3.2", "max_tokens": 100, "system": "be brief",
            "messages": [{"role": "user", "content": "why is the sky blue?"}]}
    status, headers, raw = await _post(fake, body, headers={"x-api-key": "anything", "anthropic-version": "1999-01-01",
                                                            "authorization": "Bearer nonsense"})
    assert status == 200 and headers["Content-Type"] == "application/json" and raw.endswith(b"}\n")
    msg = json.loads(raw)
    assert list(msg) == ["id", "type", "role", "model", "content", "stop_reason", "usage"]
    assert MSG_ID.match(msg["id"])
    chat = await _chat(fake, {"model": "llama3.2", "options": {"num_predict": 100}, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "why is the sky blue?"}]})
    assert {k: msg[k] for k in ("type", "role", "model", "content", "stop_reason")} == {
        "type": "message", "role": "assistant", "model": "llama3.2",
        "content": [{"type": "text", "text": chat["message"]["content"]}], "stop_reason": "end_turn"}
    assert chat["message"]["content"] == "Fake reply: why is the sky blue?"
    assert msg["usage"] == {"input_tokens": chat["prompt_eval_count"], "output_tokens": chat["eval_count"]}
    recorded = fake.requests[-2]
    assert (recorded.provider, recorded.path, recorded.endpoint) == ("ollama", "/v1/messages", "chat")
    assert recorded.headers["x-api-key"] == "[redacted]"


async def test_stream_events_order_usage_and_headers(fake: FakeServer) -> None:
    """A thinking model's stream: message_start (the middleware's len/4 estimate as input_tokens), a
    thinking block, a text block, message_delta with the chat's real counts, message_stop; no ping."""
    body = {"model": "qwen3:8b", "max_tokens": 200, "stream": True, "messages": [{"role": "user", "content": "hello there"}]}
    status, headers, raw = await _post(fake, body)
    assert status == 200 and headers["Content-Type"] == "text/event-stream" and headers["Cache-Control"] == "no-cache"
    events = _events(raw)
    names = [n for n, _ in events]
    n_think = names.index("content_block_stop") - 2
    n_text = len(names) - n_think - 7
    assert names == (["message_start", "content_block_start"] + ["content_block_delta"] * n_think
                     + ["content_block_stop", "content_block_start"] + ["content_block_delta"] * n_text
                     + ["content_block_stop", "message_delta", "message_stop"])
    assert n_think >= 2 and n_text >= 2 and "ping" not in names
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert MSG_ID.match(start.pop("id"))
    # EstimateInputTokens: (len("user") + len("hello there")) // 4
    assert start == {"type": "message", "role": "assistant", "model": "qwen3:8b", "content": [],
                     "usage": {"input_tokens": (4 + 11) // 4, "output_tokens": 0}}
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}
    assert events[n_think + 3][1] == {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}
    deltas = [d["delta"] for _, d in events if d["type"] == "content_block_delta"]
    assert "".join(d.get("thinking", "") for d in deltas) == "Thinking about: hello there"
    assert "".join(d.get("text", "") for d in deltas) == "Fake reply: hello there"
    assert {d["type"] for d in deltas[:n_think]} == {"thinking_delta"} and {d["type"] for d in deltas[n_think:]} == {"text_delta"}
    chat = await _chat(fake, {"model": "qwen3:8b", "options": {"num_predict": 200},
                              "messages": [{"role": "user", "content": "hello there"}]})
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                             "usage": {"input_tokens": chat["prompt_eval_count"], "output_tokens": chat["eval_count"]}}
    assert events[-1][1] == {"type": "message_stop"}


async def test_streamed_tool_call_and_the_estimate_counts_the_schema_as_sent(fake: FakeServer) -> None:
    """A tool call streams as one tool_use block (input {} at the start, the whole arguments in one
    input_json_delta), stop_reason tool_use; message_start's estimate counts input_schema's bytes as sent."""
    prompt = "Weather in Paris? call get_weather"
    body = {"model": "llama3.2", "max_tokens": 100, "stream": True, "tools": [WEATHER],
            "messages": [{"role": "user", "content": prompt}]}
    raw_body = json.dumps(body, indent=3).encode()  # whitespace inside input_schema counts, as json.RawMessage
    schema_bytes = len(json.dumps(WEATHER["input_schema"], indent=3).replace("\n", "\n" + " " * 9).encode())
    status, _, raw = await _post(fake, None, raw=raw_body)
    assert status == 200
    events = _events(raw)
    assert [n for n, _ in events] == ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                                      "message_delta", "message_stop"]
    estimate = (len("user") + len(prompt) + len("get_weather") + len("Weather for a city") + schema_bytes) // 4
    assert events[0][1]["message"]["usage"] == {"input_tokens": estimate, "output_tokens": 0}
    block = events[1][1]["content_block"]
    assert re.match(r"^call_[0-9a-z]{8}$", block["id"])
    assert block == {"type": "tool_use", "id": block["id"], "name": "get_weather", "input": {}}
    assert events[2][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city":"Paris"}'}
    assert events[3][1] == {"type": "content_block_stop", "index": 0}
    assert events[4][1]["delta"] == {"stop_reason": "tool_use"}


async def test_tool_result_round_trip_is_the_chats_conversation(fake: FakeServer) -> None:
    """tool_use → tool_result: the answer and the counts are /api/chat's for the conversation Ollama's
    convertMessage makes (an assistant message with tool_calls, then a tool message answering its id)."""
    first = {"model": "llama3.2", "max_tokens": 100, "tools": [WEATHER],
             "messages": [{"role": "user", "content": "Weather in Paris? call get_weather"}]}
    status, _, raw = await _post(fake, first)
    call = json.loads(raw)["content"][0]
    assert status == 200 and json.loads(raw)["stop_reason"] == "tool_use"
    assert call == {"type": "tool_use", "id": call["id"], "name": "get_weather", "input": {"city": "Paris"}}
    second = {**first, "messages": [*first["messages"], {"role": "assistant", "content": [call]},
                                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                                                                  "content": [{"type": "text", "text": "sunny in Paris"}]}]}]}
    status, _, raw = await _post(fake, second)
    msg = json.loads(raw)
    chat = await _chat(fake, {"model": "llama3.2", "options": {"num_predict": 100}, "tools": [CHAT_WEATHER], "messages": [
        {"role": "user", "content": "Weather in Paris? call get_weather"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": call["id"], "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny in Paris", "tool_call_id": call["id"]}]})
    assert msg["content"] == [{"type": "text", "text": "Fake reply: tool get_weather returned sunny in Paris"}]
    assert msg["stop_reason"] == "end_turn"
    assert msg["usage"] == {"input_tokens": chat["prompt_eval_count"], "output_tokens": chat["eval_count"]}


async def test_thinking_follows_the_model_and_is_relaxed_for_models_without_it(fake: FakeServer) -> None:
    """A thinking model thinks unless told "disabled"; thinking asked of a model without the capability is
    dropped (relax_thinking), where /api/chat refuses it; output_config.effort asks for it too."""
    hi = [{"role": "user", "content": "hi"}]

    async def blocks(**more: Any) -> list[dict[str, Any]]:
        status, _, raw = await _post(fake, {"max_tokens": 50, "messages": hi, **more})
        assert status == 200, raw
        content: list[dict[str, Any]] = json.loads(raw)["content"]
        return content

    text = {"type": "text", "text": "Fake reply: hi"}
    thought = {"type": "thinking", "thinking": "Thinking about: hi"}  # no signature: Ollama sends none
    assert await blocks(model="qwen3:8b") == [thought, text]
    assert await blocks(model="qwen3:8b", thinking={"type": "disabled"}) == [text]
    assert await blocks(model="gpt-oss:20b", output_config={"effort": "low"}) == [thought, text]
    assert await blocks(model="llama3.2", thinking={"type": "enabled", "budget_tokens": 1024}) == [text]
    status, _, raw = await _post(fake, {"model": "llama3.2", "messages": hi, "think": True, "stream": False},
                                 path="/api/chat")
    assert status == 400 and json.loads(raw) == {"error": '"llama3.2" does not support thinking'}


async def test_system_blocks_stop_sequences_max_tokens_and_images(fake: FakeServer) -> None:
    """system blocks join into one system message; a stop sequence ends with end_turn (Ollama never says
    stop_sequence); max_tokens is num_predict (stop_reason max_tokens); a base64 image counts as /api/chat's."""
    user = [{"role": "user", "content": "hello there"}]
    status, _, raw = await _post(fake, {"model": "llama3.2", "max_tokens": 50, "messages": user, "stop_sequences": ["there"],
                                        "system": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]})
    msg = json.loads(raw)
    chat = await _chat(fake, {"model": "llama3.2", "options": {"num_predict": 50, "stop": ["there"]},
                              "messages": [{"role": "system", "content": "be brief"}, *user]})
    assert (msg["content"], msg["stop_reason"], "stop_sequence" in msg) == (
        [{"type": "text", "text": "Fake reply: hello "}], "end_turn", False)
    assert msg["usage"]["input_tokens"] == chat["prompt_eval_count"]
    status, _, raw = await _post(fake, {"model": "llama3.2", "max_tokens": 2, "messages": user})
    assert (json.loads(raw)["stop_reason"], json.loads(raw)["usage"]["output_tokens"]) == ("max_tokens", 2)
    picture = [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]
    status, _, raw = await _post(fake, {"model": "llava:7b", "max_tokens": 50, "messages": picture})
    chat = await _chat(fake, {"model": "llava:7b", "options": {"num_predict": 50},
                              "messages": [{"role": "user", "content": "what is this?", "images": [PNG]}]})
    assert status == 200 and json.loads(raw)["usage"]["input_tokens"] == chat["prompt_eval_count"] > 768


# -- errors, as Ollama writes them ---------------------------------------------------------------------

HELLO = [{"role": "user", "content": "hello"}]
MIDDLEWARE = "application/json; charset=utf-8"  # gin's AbortWithStatusJSON
HANDLER = "application/json"  # the chat handler's error, rewritten by AnthropicWriter.writeError


@pytest.mark.parametrize(("body", "status", "ctype", "etype", "message"), [
    (b"", 400, MIDDLEWARE, "invalid_request_error", "EOF"),
    (b'{"model": "llama3.2", ', 400, MIDDLEWARE, "invalid_request_error", "unexpected EOF"),
    ({"model": "llama3.2", "max_tokens": "100", "messages": HELLO}, 400, MIDDLEWARE, "invalid_request_error",
     "json: cannot unmarshal string into Go struct field MessagesRequest.max_tokens of type int"),
    ({"model": "llama3.2", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
     400, MIDDLEWARE, "invalid_request_error",
     "json: cannot unmarshal number into Go struct field MessagesRequest.messages.text of type string"),
    ({"max_tokens": 10, "messages": HELLO}, 400, MIDDLEWARE, "invalid_request_error", "model is required"),
    ({"model": "llama3.2", "messages": HELLO}, 400, MIDDLEWARE, "invalid_request_error",
     "max_tokens is required and must be positive"),
    ({"model": "llama3.2", "max_tokens": 10, "messages": []}, 400, MIDDLEWARE, "invalid_request_error",
     "messages is required"),
    ({"model": "llama3.2", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}]},
     400, MIDDLEWARE, "invalid_request_error", "invalid image source type: url. Only base64 images are supported."),
    ({"model": "llama3.2", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8!"}}]}]},
     400, MIDDLEWARE, "invalid_request_error", "invalid base64 image data: illegal base64 data at input byte 7"),
    ({"model": "llama3.2", "max_tokens": 10, "messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "name": "get_weather", "input": {}}]}]},
     400, MIDDLEWARE, "invalid_request_error", "tool_use block missing required 'id' field"),
    ({"model": "nope:1b", "max_tokens": 10, "messages": HELLO}, 404, HANDLER, "not_found_error", "model 'nope:1b' not found"),
    ({"model": "nomic-embed-text", "max_tokens": 10, "messages": HELLO}, 400, HANDLER, "invalid_request_error",
     '"nomic-embed-text" does not support chat'),
    ({"model": "llava:7b", "max_tokens": 10, "messages": HELLO, "tools": [WEATHER]}, 400, HANDLER,
     "invalid_request_error", "registry.ollama.ai/library/llava:7b does not support tools"),
], ids=["empty", "cut", "type", "block-type", "no-model", "no-max-tokens", "no-messages", "image-url", "bad-base64",
        "tool-use-id", "unknown-model", "embedding-model", "no-tools"])
async def test_errors_are_ollamas_anthropic_errors(fake: FakeServer, body: Any, status: int, ctype: str, etype: str,
                                                   message: str) -> None:
    """NewError's body (type from the status, a req_ request id): the middleware's own 400s through gin,
    the chat handler's errors through writeError (plain application/json and the encoder's newline)."""
    got, headers, raw = await _post(fake, None, raw=body if isinstance(body, bytes) else json.dumps(body).encode())
    assert (got, headers["Content-Type"], raw.endswith(b"\n")) == (status, ctype, ctype == HANDLER)
    err = json.loads(raw)
    assert list(err) == ["type", "error", "request_id"] and REQ_ID.match(err.pop("request_id"))
    assert err == {"type": "error", "error": {"type": etype, "message": message}}


async def test_declared_unknown_model_and_the_sdks_error_types(fake: FakeServer) -> None:
    """A model declared unknown is Ollama's 404; the SDK raises NotFoundError and BadRequestError."""
    fake.models("ollama", unknown=["llama3.2"])
    async with _sdk(fake) as client:
        with pytest.raises(anthropic.NotFoundError) as info:
            await client.messages.create(model="llama3.2", max_tokens=10, messages=HELLO)
        assert info.value.body == {"type": "error", "error": {"type": "not_found_error",
                                                              "message": "model 'llama3.2' not found"},
                                   "request_id": info.value.body["request_id"]}
        with pytest.raises(anthropic.BadRequestError, match="max_tokens is required and must be positive"):
            await client.messages.create(model="qwen3:8b", max_tokens=0, messages=HELLO)


async def test_count_tokens_and_other_methods_are_not_routed(fake: FakeServer) -> None:
    """Ollama's router has POST /v1/messages only: count_tokens (and GET) are gin's plain 404."""
    for method, path in (("POST", "/v1/messages/count_tokens"), ("GET", "/v1/messages")):
        async with aiohttp.ClientSession() as http, http.request(
                method, fake.origin("ollama") + path, json={"model": "llama3.2", "messages": HELLO}) as r:
            assert (r.status, r.headers["Content-Type"], await r.text()) == (404, "text/plain; charset=utf-8",
                                                                             "404 page not found\n")


async def test_injected_faults(fake: FakeServer) -> None:
    """A queued 429 (aimed at the chat endpoint) is a rate_limit_error with Retry-After, which the SDK raises
    as RateLimitError; a mid-stream failure just ends the stream (no error event, no message_stop)."""
    fake.fail_next("ollama", "429;retry-after=7", endpoint="chat")
    status, headers, raw = await _post(fake, {"model": "llama3.2", "max_tokens": 10, "messages": HELLO})
    assert (status, headers["Retry-After"]) == (429, "7")
    assert json.loads(raw)["error"] == {"type": "rate_limit_error", "message": "too many requests, please retry later"}
    fake.fail_next("ollama", "500", endpoint="/v1/messages")
    async with _sdk(fake) as client:
        with pytest.raises(anthropic.InternalServerError) as info:
            await client.messages.create(model="llama3.2", max_tokens=10, messages=HELLO)
    assert info.value.body["error"]["type"] == "api_error"
    fake.fail_next("ollama", "429", endpoint="chat")
    async with _sdk(fake) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model="llama3.2", max_tokens=10, messages=HELLO)
    fake.fail_next("ollama", "error-event", endpoint="chat")
    status, _, raw = await _post(fake, {"model": "llama3.2", "max_tokens": 10, "stream": True, "messages": HELLO})
    assert status == 200 and [n for n, _ in _events(raw)] == ["message_start"]


# -- the official SDK, unmodified ----------------------------------------------------------------------


async def test_sdk_create_and_stream_agree_with_the_chat(fake: FakeServer) -> None:
    """messages.create and messages.stream's final message: the same blocks, the same usage, and both the
    /api/chat answer's text and counts for the same prompt."""
    kw: dict[str, Any] = {"model": "qwen3:8b", "max_tokens": 100, "system": "be brief",
                          "messages": [{"role": "user", "content": "tell me a story"}]}
    async with _sdk(fake) as client:
        whole = await client.messages.create(**kw)
        async with client.messages.stream(**kw) as stream:
            texts = [t async for t in stream.text_stream]
            streamed = await stream.get_final_message()
    chat = await _chat(fake, {"model": "qwen3:8b", "options": {"num_predict": 100}, "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "tell me a story"}]})
    assert [b.type for b in whole.content] == ["thinking", "text"]
    assert [b.model_dump() for b in whole.content] == [b.model_dump() for b in streamed.content]
    assert whole.content[1].text == "".join(texts) == chat["message"]["content"] == "Fake reply: tell me a story"
    assert whole.content[0].thinking == chat["message"]["thinking"]
    assert whole.stop_reason == streamed.stop_reason == "end_turn" and whole.stop_sequence is None
    for m in (whole, streamed):
        assert (m.usage.input_tokens, m.usage.output_tokens) == (chat["prompt_eval_count"], chat["eval_count"])
    assert MSG_ID.match(whole.id) and MSG_ID.match(streamed.id) and whole.id != streamed.id


async def test_sdk_tool_round_trip(fake: FakeServer) -> None:
    """The SDK's tool_use block, answered with a tool_result, gives the chat's answer to the result;
    streamed, the tool call accumulates to the same input."""
    tools: Any = [WEATHER]
    ask: Any = [{"role": "user", "content": "Weather in Paris? call get_weather"}]
    async with _sdk(fake) as client:
        first = await client.messages.create(model="llama3.2", max_tokens=100, tools=tools, messages=ask)
        async with client.messages.stream(model="llama3.2", max_tokens=100, tools=tools, messages=ask) as stream:
            streamed = await stream.get_final_message()
        (call,) = first.content
        assert call.type == "tool_use" and (call.name, call.input) == ("get_weather", {"city": "Paris"})
        (scall,) = streamed.content
        assert scall.type == "tool_use" and (scall.name, scall.input) == ("get_weather", {"city": "Paris"})
        assert first.stop_reason == streamed.stop_reason == "tool_use"
        answer = await client.messages.create(model="llama3.2", max_tokens=100, tools=tools, messages=[
            *ask, {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}])
    assert answer.content[0].type == "text"
    assert answer.content[0].text == "Fake reply: tool get_weather returned sunny"
    assert fake.requests[-1].json()["messages"][1]["content"][0]["id"] == call.id
