"""Docker Model Runner's Ollama-compatible API on the Docker fake's origin, driven by the official ollama
client (docs.docker.com "DMR REST API": Ollama clients use the bare origin)."""

from __future__ import annotations

import json

import aiohttp
import ollama
import pytest

from interlingua.fakes import FakeServer

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


async def test_tags_and_version_list_the_pulled_models(fake: FakeServer) -> None:
    """/api/tags lists each pulled model's tag with the runner's details (size 0, gguf); /api/version answers."""
    async with ollama.AsyncClient(host=fake.origin("docker")) as client:
        listing = await client.list()
    names = [m.model for m in listing.models]
    assert "ai/smollm2:latest" in names and all(n.startswith("ai/") for n in names)
    assert all(m.size == 0 and m.details is not None and m.details.format == "gguf" for m in listing.models)
    async with aiohttp.ClientSession() as http, http.get(fake.origin("docker") + "/api/version") as r:
        assert (r.status, await r.json()) == (200, {"version": "0.1.0"})


async def test_chat_answers_without_ollamas_metrics(fake: FakeServer) -> None:
    """A non-streamed chat is the runner's translation: the text, done, and no done_reason or counts."""
    async with ollama.AsyncClient(host=fake.origin("docker")) as client:
        r = await client.chat(model="ai/smollm2", messages=[{"role": "user", "content": "hello there"}])
    assert r.message.content == "Fake reply: hello there" and r.message.role == "assistant" and r.done
    assert r.done_reason is None and r.eval_count is None and r.prompt_eval_count is None


async def test_streamed_chat_joins_to_the_same_text(fake: FakeServer) -> None:
    """The streamed lines join to the unstreamed text and end with the zero-message done line."""
    msgs = [{"role": "user", "content": "hello there, how are you today?"}]
    async with ollama.AsyncClient(host=fake.origin("docker")) as client:
        whole = await client.chat(model="ai/smollm2", messages=msgs)
        parts = [p async for p in await client.chat(model="ai/smollm2", messages=msgs, stream=True)]
    assert "".join(p.message.content for p in parts) == whole.message.content
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done
    assert (parts[-1].message.role, parts[-1].message.content) == ("", "")


async def test_stream_is_served_as_json_lines(fake: FakeServer) -> None:
    """The runner streams with Content-Type application/json (not Ollama's x-ndjson), one object a line."""
    body = {"model": "ai/smollm2", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", json=body) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
        lines = [json.loads(line) for line in (await r.read()).decode().splitlines()]
    assert lines[0]["message"] == {"role": "assistant", "content": ""} and lines[-1]["done"] is True
    assert all(set(line) == {"model", "created_at", "message", "done"} for line in lines)


async def test_tool_call_arrives_as_an_object_with_an_index(fake: FakeServer) -> None:
    """A tool call has the engine's id, function.index and the arguments parsed into an object."""
    body = {"model": "ai/qwen3", "stream": False, "tools": [WEATHER],
            "messages": [{"role": "user", "content": "call get_weather for Paris"}]}
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", json=body) as r:
        answer = await r.json()
    (call,) = answer["message"]["tool_calls"]
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}
    assert isinstance(call["id"], str) and call["id"]
    async with ollama.AsyncClient(host=fake.origin("docker")) as client:
        r2 = await client.chat(model="ai/qwen3", messages=body["messages"], tools=[WEATHER])
    assert r2.message.tool_calls and r2.message.tool_calls[0].function.arguments == {"city": "Paris"}


@pytest.mark.parametrize(("raw", "status", "starts"), [
    (b"{not json", 400, "Invalid request: "),
    (b"[1, 2]", 400, "Invalid request: "),
    (json.dumps({"model": "ai/gone", "messages": []}).encode(), 404, "model not found"),
])
async def test_errors_are_go_plain_text(fake: FakeServer, raw: bytes, status: int, starts: str) -> None:
    """Bad bodies get net/http's plain-text 400, a model not pulled the runner's plain-text 404."""
    fake.models("docker", unknown=["ai/gone"])
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", data=raw) as r:
        assert r.status == status and r.headers["Content-Type"].startswith("text/plain")
        assert (await r.text()).startswith(starts)
    if status == 404:
        async with ollama.AsyncClient(host=fake.origin("docker")) as client:
            with pytest.raises(ollama.ResponseError) as info:
                await client.chat(model="ai/gone", messages=[])
        assert info.value.status_code == 404
