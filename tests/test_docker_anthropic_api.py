"""Docker Model Runner's Anthropic-compatible API on the Docker fake's origin, driven by the official SDK
(docs.docker.com "DMR REST API": the Anthropic SDK's base URL is the bare origin; paths under /anthropic)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import pytest

from interlingua.fakes import FakeServer

HELLO: list[Any] = [{"role": "user", "content": "hello there"}]
WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                                    "required": ["city"]}}


def _sdk(fake: FakeServer) -> anthropic.AsyncAnthropic:
    # DMR needs no key; the SDK insists on one, which the runner ignores
    return anthropic.AsyncAnthropic(base_url=fake.origin("docker") + "/anthropic", api_key="unused", max_retries=0)


async def test_messages_answer_through_the_official_sdk(fake: FakeServer) -> None:
    """A plain message: the fakes' text rule, llama.cpp's usage fields (cache reads, no cache writes)."""
    async with _sdk(fake) as client:
        msg = await client.messages.create(model="ai/smollm2", max_tokens=100, messages=HELLO)
    assert msg.content[0].type == "text" and msg.content[0].text == "Fake reply: hello there"
    # oaicompat_model: llama-server's own model name (DMR passes no --alias: the GGUF's file name)
    assert msg.stop_reason == "end_turn" and msg.model == "model.gguf"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    assert msg.usage.cache_read_input_tokens == 0 and msg.usage.cache_creation_input_tokens is None


async def test_streamed_tool_call_equals_the_unstreamed_one(fake: FakeServer) -> None:
    """A forced tool call streams to the same final message the non-streamed call returns."""
    kw: dict[str, Any] = {"model": "ai/qwen3", "max_tokens": 100, "tools": [WEATHER], "tool_choice": {"type": "any"},
                          "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    async with _sdk(fake) as client:
        whole = await client.messages.create(**kw)
        async with client.messages.stream(**kw) as stream:
            streamed = await stream.get_final_message()
    assert whole.stop_reason == streamed.stop_reason == "tool_use"
    assert [b.model_dump() for b in whole.content] == [b.model_dump() for b in streamed.content]
    assert whole.content[0].type == "tool_use" and whole.content[0].input == {"city": "Paris"}
    assert streamed.usage.output_tokens == whole.usage.output_tokens


async def test_stream_events_are_llama_cpps(fake: FakeServer) -> None:
    """llama.cpp streams no ping, an empty thinking signature and output_tokens alone in message_delta."""
    body = {"model": "ai/qwen3", "max_tokens": 2048, "stream": True, "messages": HELLO,
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    async with aiohttp.ClientSession() as http, \
            http.post(fake.origin("docker") + "/anthropic/v1/messages", json=body) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        raw = (await r.read()).decode()
    events = [(e.split("\n")[0].removeprefix("event: "), json.loads(e.split("\n")[1].removeprefix("data: ")))
              for e in raw.strip().split("\n\n")]
    names = [n for n, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"] and "ping" not in names
    assert all(n == d["type"] for n, d in events)
    assert events[-2][1]["usage"] == {"output_tokens": events[-2][1]["usage"]["output_tokens"]}
    signatures = [d["delta"]["signature"] for _, d in events if d.get("delta", {}).get("type") == "signature_delta"]
    assert signatures == [""]


async def test_count_tokens_matches_the_messages_usage(fake: FakeServer) -> None:
    """count_tokens counts what the message's usage reports as input."""
    async with _sdk(fake) as client:
        counted = await client.messages.count_tokens(model="ai/smollm2", messages=HELLO)
        msg = await client.messages.create(model="ai/smollm2", max_tokens=50, messages=HELLO)
    assert counted.input_tokens == msg.usage.input_tokens > 0


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{not json", 400, "Invalid JSON in request body"),
    (json.dumps({"messages": HELLO}).encode(), 400, "Missing required field: model"),
    (json.dumps({"model": "ai/gone", "messages": HELLO}).encode(), 404, "Model not found: ai/gone"),
])
async def test_runner_errors_are_in_anthropics_shape(fake: FakeServer, body: bytes, status: int,
                                                     message: str) -> None:
    """DMR's own checks (bad JSON, no model, a model not pulled) answer Anthropic's error body."""
    fake.models("docker", unknown=["ai/gone"])
    async with aiohttp.ClientSession() as http, http.post(
            fake.origin("docker") + "/anthropic/v1/messages", data=body,
            headers={"content-type": "application/json"}) as r:
        assert r.status == status
        err = await r.json()
    assert err["type"] == "error" and err["error"]["message"] == message


async def test_not_found_reaches_the_sdk_as_its_own_type(fake: FakeServer) -> None:
    """The SDK raises its NotFoundError for a model the runner has not pulled."""
    fake.models("docker", unknown=["ai/gone"])
    async with _sdk(fake) as client:
        with pytest.raises(anthropic.NotFoundError):
            await client.messages.create(model="ai/gone", max_tokens=10, messages=HELLO)
