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
    fake.models("docker", unknown=["ai/gemma3"])  # no longer in the store: no longer listed
    async with ollama.AsyncClient(host=fake.origin("docker")) as client:
        after = [m.model for m in (await client.list()).models]
    assert after == [n for n in names if n != "ai/gemma3:latest"] and len(after) == len(names) - 1


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


NOT_PULLED = "error while getting model: get model '\"ai/gone\"': model not found\n"


@pytest.mark.parametrize(("raw", "status", "text"), [
    (b"{not json", 400, "Invalid request: invalid character 'n' looking for beginning of object key string\n"),
    (b"", 400, "Invalid request: EOF\n"),
    (b'{"model": "ai/smollm2", "messages": [', 400, "Invalid request: unexpected EOF\n"),
    (b"[1, 2]", 400, "Invalid request: json: cannot unmarshal array into Go value of type ollama.ChatRequest\n"),
    (b'{"model": 7, "messages": []}', 400,
     "Invalid request: json: cannot unmarshal number into Go struct field ChatRequest.model of type string\n"),
    (b'{"model": "ai/smollm2", "messages": [{"role": "user", "content": ["hi"]}]}', 400,
     "Invalid request: json: cannot unmarshal array into Go struct field Message.messages.content of type string\n"),
    (b'{"model": "ai/smollm2", "messages": [], "stream": "no"}', 400,
     "Invalid request: json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool\n"),
    (b'{"model": 7, "messages": [], "keep_alive": true}', 400,
     "Invalid request: keep_alive must be a string or number, got true\n"),
    (json.dumps({"model": "ai/gone", "messages": [], "stream": False}).encode(), 404, NOT_PULLED),
    (json.dumps({"messages": [], "stream": False}).encode(), 400, "model is required\n"),
])
async def test_errors_are_go_plain_text(fake: FakeServer, raw: bytes, status: int, text: str) -> None:
    """What ``handleChat`` answers: the decoder's error as net/http's plain-text 400 (``Invalid request: `` and
    Go's own words; the keep_alive type's UnmarshalJSON error wins over an earlier type error), and the
    scheduler's refusal of the translated request passed through by the non-stream converter as it is."""
    fake.models("docker", unknown=["ai/gone"])
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", data=raw) as r:
        assert r.status == status and r.headers["Content-Type"].startswith("text/plain")
        assert await r.text() == text


@pytest.mark.parametrize(("body", "status"), [({"model": "ai/gone", "messages": []}, 404), ({"messages": []}, 400)])
async def test_a_streamed_refusal_is_its_status_with_no_body(fake: FakeServer, body: dict[str, object], status: int) -> None:
    """Streaming (the default), the runner's writer keeps only the scheduler's ``data:`` lines, so a refusal
    reaches the client as its status and ``http.Error``'s headers with an empty body; the ollama SDK raises."""
    fake.models("docker", unknown=["ai/gone"])
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", json=body) as r:
        assert (r.status, r.headers["Content-Type"], await r.read()) == (status, "text/plain; charset=utf-8", b"")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    async with ollama.AsyncClient(host=fake.origin("docker")) as client:
        with pytest.raises(ollama.ResponseError) as info:
            await client.chat(model="ai/gone", messages=[])
    assert info.value.status_code == 404


async def test_the_engine_answers_the_translated_conversation(fake: FakeServer) -> None:
    """/api/chat is translated into a chat completion and answered by the engine, so a conversation reads the
    same as on /engines/v1/chat/completions: a tool's result, a thinking model's reasoning as ``thinking``, an
    option with an OpenAI name (num_predict as max_tokens); json.NewEncoder's bytes (HTML-escaped, newline)."""
    call = {"id": "c1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    convo = [{"role": "user", "content": "call get_weather for Paris"},
             {"role": "assistant", "content": "", "tool_calls": [call]},
             {"role": "tool", "content": "sunny", "tool_call_id": "c1"}]
    openai_convo = [convo[0], {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}, convo[2]]
    async with aiohttp.ClientSession() as http:
        async with http.post(fake.origin("docker") + "/api/chat",
                             json={"model": "ai/qwen3", "stream": False, "tools": [WEATHER], "messages": convo}) as r:
            raw = await r.read()
        async with http.post(fake.origin("docker") + "/engines/v1/chat/completions",
                             json={"model": "ai/qwen3", "tools": [WEATHER], "messages": openai_convo}) as r:
            engine = (await r.json())["choices"][0]["message"]
        ours = json.loads(raw)["message"]
        assert raw.endswith(b"}\n")
        assert ours == {"role": "assistant", "content": engine["content"], "thinking": engine["reasoning_content"]}
        assert "sunny" in ours["content"]
        async with http.post(fake.origin("docker") + "/api/chat", json={
                "model": "ai/smollm2", "stream": False, "options": {"num_predict": 2},
                "messages": [{"role": "user", "content": "<b> hello there"}]}) as r:
            short = await r.read()
    assert json.loads(short)["message"]["content"] == "Fake reply" and b"\\u003c" not in short  # the cut text
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", json={
            "model": "ai/smollm2", "stream": False, "messages": [{"role": "user", "content": "<b>"}]}) as r:
        assert b"\\u003cb\\u003e" in await r.read()


@pytest.mark.parametrize("stream", [False, True])
async def test_an_engine_refusal_comes_back_through_the_converters(fake: FakeServer, stream: bool) -> None:
    """A prompt past the engine's context: llama.cpp's 400, passed on as ``{"error": message}`` (typed by Go's
    sniffing, the converter sets its type after the status) or, streaming, as the status alone."""
    huge = "word " * 20_000
    async with aiohttp.ClientSession() as http, http.post(fake.origin("docker") + "/api/chat", json={
            "model": "ai/smollm2", "stream": stream, "messages": [{"role": "user", "content": huge}]}) as r:
        body = await r.read()
        assert r.status == 400
        if stream:
            assert body == b""
        else:
            assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert body == b'{"error":"the request exceeds the available context size, try increasing it"}\n'
