"""The Ollama fake against the official ``ollama`` package, and the interlingua client against the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import msgspec
import ollama
import pytest
from returns.result import Failure

from interlingua.core import ErrorKind, FinishReason, HttpResponse, Message, ReasoningConfig, ToolSpec
from interlingua.core.ollama import OLLAMA
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.fixture
async def sdk_client(fake: FakeServer) -> AsyncIterator[ollama.AsyncClient]:
    """The official async client pointed at the fake (OLLAMA_HOST semantics: host:port works too)."""
    async with ollama.AsyncClient(host=fake.url_for("ollama")) as c:
        yield c


# ---------------------------------------------------------------------------------------------
# The official SDK, unmodified, against the fake


async def test_sdk_chat(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """A non-streamed chat: deterministic content, counts and durations, done_reason stop."""
    r = await sdk_client.chat(model="llama3.2", messages=[{"role": "user", "content": "why is the sky blue?"}])
    assert r.message.content == "Fake reply: why is the sky blue?"
    assert (r.done, r.done_reason, r.model) == (True, "stop", "llama3.2")
    assert r.prompt_eval_count and r.eval_count and r.total_duration and r.eval_duration
    assert fake.requests[-1].json()["stream"] is False
    assert fake.requests[-1].path == "/api/chat"


async def test_sdk_stream(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """A stream: content pieces, then one done line with the metrics."""
    parts = [p async for p in await sdk_client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "one two three four five"}], stream=True)]
    assert "".join(p.message.content or "" for p in parts) == "Fake reply: one two three four five"
    assert [p.done for p in parts].count(True) == 1 and parts[-1].done
    assert parts[-1].eval_count and parts[-1].done_reason == "stop"


async def test_sdk_tools(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """Tools offered and asked for: one call with an arguments object filling the schema."""
    r = await sdk_client.chat(model="llama3.2", messages=[{"role": "user", "content": "call get_weather"}],
                             tools=[WEATHER])
    (call,) = r.message.tool_calls
    assert (call.function.name, call.function.arguments) == ("get_weather", {"city": "sample"})


async def test_sdk_thinking(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """think=True on a thinking model gives message.thinking before the answer."""
    r = await sdk_client.chat(model="qwen3:8b", messages=[{"role": "user", "content": "hi"}], think=True)
    assert (r.message.thinking, r.message.content) == ("Thinking about: hi", "Fake reply: hi")
    parts = [p async for p in await sdk_client.chat(
        model="gpt-oss:20b", messages=[{"role": "user", "content": "hi"}], think="low", stream=True)]
    assert "".join(p.message.thinking or "" for p in parts) == "Thinking about: hi"


async def test_sdk_list_show(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """list() shows installed models with size/digest/details; show() reports capabilities."""
    models = (await sdk_client.list()).models
    names = [m.model for m in models]
    assert "llama3.2:latest" in names and "qwen3:8b" in names
    assert all(m.size and m.digest and m.details and m.details.family for m in models)
    s = await sdk_client.show("llava:7b")
    assert "vision" in (s.capabilities or [])
    assert s.modelinfo and s.modelinfo["llama.context_length"] == 32768


@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("500", 500), ("503", 503), ("502", 502)])
async def test_sdk_response_error_for_faults(fake: FakeServer, sdk_client: ollama.AsyncClient, fault: str, status: int) -> None:
    """Injected faults reach the SDK as ResponseError with the status code and Ollama's error text."""
    fake.fail_next("ollama", fault)
    with pytest.raises(ollama.ResponseError) as info:
        await sdk_client.chat(model="llama3.2", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == status and info.value.error


@pytest.mark.parametrize(("kwargs", "status", "fragment"), [
    ({"model": "llama9"}, 404, "model 'llama9' not found"),
    ({"model": "llava:7b", "tools": [WEATHER]}, 400, "does not support tools"),
    ({"model": "llama3.2", "think": True}, 400, "does not support thinking"),
])
async def test_sdk_model_errors(fake: FakeServer, sdk_client: ollama.AsyncClient, kwargs: dict[str, object], status: int, fragment: str) -> None:
    """Unknown models and missing capabilities are Ollama's 404/400 error bodies."""
    with pytest.raises(ollama.ResponseError) as info:
        await sdk_client.chat(messages=[{"role": "user", "content": "x"}], **kwargs)  # type: ignore[arg-type]
    assert info.value.status_code == status and fragment in info.value.error


async def test_sdk_error_line_mid_stream(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """An error line mid-stream raises ResponseError in the SDK's stream loop."""
    fake.fail_next("ollama", "error-event")
    with pytest.raises(ollama.ResponseError, match="running the model"):
        async for _ in await sdk_client.chat(model="llama3.2", messages=[{"role": "user", "content": "a b c d"}],
                                            stream=True):
            pass


async def test_version_and_load(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """/api/version answers; an empty messages list loads the model (done_reason load)."""
    r = await sdk_client.chat(model="llama3.2", messages=[])
    assert (r.done, r.done_reason) == (True, "load")
    decoded = OLLAMA.decode_response(HttpResponse(200, body=json.dumps(r.model_dump(exclude_none=True)).encode()))
    assert decoded.unwrap().finish_reason is FinishReason.OTHER


# ---------------------------------------------------------------------------------------------
# The interlingua client against the fake, over real loopback sockets


def cfg(fake: FakeServer) -> LlmConfig:
    return LlmConfig(retry_enabled=False).with_provider("ollama", base_url=fake.url_for("ollama"))


async def test_client_chat_and_stream_agree(fake: FakeServer) -> None:
    """chat() and a folded stream() give the same response (timestamps aside)."""
    async with Client(cfg(fake)) as c:
        whole = (await c.chat("ollama:qwen3:8b", "hello there", reasoning=ReasoningConfig())).unwrap()
        folded = (await c.stream_response("ollama:qwen3:8b", "hello there", reasoning=ReasoningConfig())).unwrap()
    assert whole.text == "Fake reply: hello there" and whole.reasoning == "Thinking about: hello there"
    assert msgspec.structs.replace(folded, created=0) == msgspec.structs.replace(whole, created=0)
    assert whole.usage.total_tokens > 0 and "eval_duration" in whole.provider_metadata
    sent = [r.json() for r in fake.requests]
    assert [b["stream"] for b in sent] == [False, True] and sent[0]["think"] is True


async def test_client_tool_round_trip(fake: FakeServer) -> None:
    """A tool call, then its result sent back with tool_name: the fake answers from the result."""
    tool = ToolSpec(name="get_weather", parameters=WEATHER["function"]["parameters"])  # type: ignore[index]
    async with Client(cfg(fake)) as c:
        first = (await c.chat("ollama:llama3.2", "call get_weather please", tools=(tool,))).unwrap()
        assert first.finish_reason is FinishReason.TOOL_CALLS
        (call,) = first.tool_calls
        assert call.id.startswith("call_") and call.parsed_arguments() == {"city": "sample"}
        history = (Message.user("call get_weather please"), first.message, Message.tool(call.id, "sunny, 21C"))
        second = (await c.chat("ollama:llama3.2", history, tools=(tool,))).unwrap()
    assert second.text == "Fake reply: tool get_weather returned sunny, 21C"
    tool_msg = fake.requests[-1].json()["messages"][-1]
    assert tool_msg == {"role": "tool", "content": "sunny, 21C", "tool_name": "get_weather", "tool_call_id": call.id}


async def test_client_not_found_hint(fake: FakeServer) -> None:
    """An unknown model is not_found, and the message says to pull it."""
    async with Client(cfg(fake)) as c:
        err = (await c.chat("ollama:llama9:70b", "x")).failure()
    assert err.kind is ErrorKind.NOT_FOUND and "ollama pull llama9:70b" in err.message


@pytest.mark.parametrize("fault", ["cut-mid=1", "cut=1", "error-event", "malformed"])
async def test_client_stream_faults(fake: FakeServer, fault: str) -> None:
    """A stream cut inside a line, between lines, an error line or junk is a streaming Failure."""
    fake.fail_next("ollama", fault)
    async with Client(cfg(fake)) as c:
        r = await c.stream_response("ollama:llama3.2", "one two three four five six")
    assert isinstance(r, Failure) and r.failure().kind is ErrorKind.STREAMING


async def test_dialect_operations_against_fake(fake: FakeServer) -> None:
    """encode_list_models/encode_show requests, sent for real, decode into models and capabilities."""
    from interlingua.effects import AiohttpTransport, Timeouts

    conf = cfg(fake).provider("ollama")
    t = AiohttpTransport()
    try:
        tags = (await t.send(OLLAMA.encode_list_models(conf).unwrap(), timeouts=Timeouts(), max_bytes=1 << 20)).unwrap()
        models = OLLAMA.decode_list_models(tags).unwrap()
        assert {"llama3.2:latest", "qwen3:8b"} <= {m.name for m in models}
        show = (await t.send(OLLAMA.encode_show("qwen3:8b", conf).unwrap(), timeouts=Timeouts(), max_bytes=1 << 20)).unwrap()
        s = OLLAMA.decode_show(show).unwrap()
        assert (s.supports_tools, s.supports_thinking, s.context_length) == (True, True, 40960)
        missing = (await t.send(OLLAMA.encode_show("nope", conf).unwrap(), timeouts=Timeouts(), max_bytes=1 << 20)).unwrap()
        assert OLLAMA.decode_show(missing).failure().kind is ErrorKind.NOT_FOUND
    finally:
        await t.close()


# ---------------------------------------------------------------------------------------------
# Binding a request as Ollama's handlers do (Go's encoding/json, the types' own readers, Options.FromMap)

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/api/chat", b"", 400, "missing request body"),
    ("/api/embed", b"", 400, "missing request body"),
    ("/api/chat", b"[1]", 400, "json: cannot unmarshal array into Go value of type api.ChatRequest"),
    ("/api/generate", b'"x"', 400, "json: cannot unmarshal string into Go value of type api.GenerateRequest"),
    ("/api/embed", b"5", 400, "json: cannot unmarshal number into Go value of type api.EmbedRequest"),
    ("/api/chat", b'{"model": "llama3.2", "messages": {"a": 1}}', 400,
     "json: cannot unmarshal object into Go struct field ChatRequest.messages of type []api.Message"),
    ("/api/chat", b'{"model": "llama3.2", "messages": [{"role": "user", "content": 5}]}', 400,
     "json: cannot unmarshal number into Go struct field Message.messages.content of type string"),
    ("/api/chat", b'{"model": "llama3.2", "messages": [], "options": [1]}', 400,
     "json: cannot unmarshal array into Go struct field ChatRequest.options of type map[string]interface {}"),
    ("/api/chat", b'{"model": "llama3.2", "messages": [], "think": "hard"}', 400,
     'invalid think value: "hard" (must be "high", "medium", "low", "max", true, or false)'),
    ("/api/chat", b'{"model": "nope", "think": 1}', 400,
     'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'),
    ("/api/generate", b'{"model": "llama3.2", "keep_alive": "soon"}', 400, 'time: invalid duration "soon"'),
    ("/api/chat", b'{"model": "llama3.2", "keep_alive": true}', 400, "Unsupported type: 'bool'"),
    ("/api/chat", b'{"model": "llama3.2", "messages": [{"role": "assistant", "tool_calls": [{"function": '
     b'{"name": "f", "arguments": "{}"}}]}]}', 400, "Value looks like object, but can't find closing '}' symbol"),
    ("/api/chat", b'{"model": "llama3.2", "messages": [], "top_logprobs": 21}', 400, "top_logprobs must be between 0 and 20"),
    ("/api/chat", b'{"messages": []}', 400, "model is required"),
    ("/api/chat", b'{"model": "llama3.2", "messages": [], "options": {"temperature": "hot"}}', 500,
     'option "temperature" must be of type float32'),
    ("/api/chat", b'{"model": "llama3.2", "messages": [], "options": {"num_ctx": "big"}}', 500,
     'option "num_ctx" must be of type integer'),
    ("/api/generate", b'{"model": "llama3.2", "prompt": "x", "options": {"stop": ["a", 1]}}', 500,
     'option "stop" must be of an array of strings'),
    ("/api/embed", b'{"model": "nomic-embed-text", "input": "x", "options": {"use_mmap": 1}}', 500,
     'option "use_mmap" must be of type boolean'),
])
async def test_requests_are_bound_as_ollamas_go_binds_them(fake: FakeServer, path: str, body: bytes, status: int,
                                                           message: str) -> None:
    """Go's own decoder words (a JSON kind into a Go type, the innermost struct and the field's path), the
    request types' own readers (think, keep_alive, tool-call arguments: they stop the decoding, so they
    win), and ``Options.FromMap`` behind the model load (a 500): every body in gin's compact JSON."""
    import httpx

    async with httpx.AsyncClient(base_url=fake.url_for("ollama")) as http:
        r = await http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (status, {"error": message})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.content == b'{"error":' + json.dumps(message, ensure_ascii=False).encode() + b"}"  # compact, as gin writes


async def test_what_go_takes_is_taken(fake: FakeServer, sdk_client: ollama.AsyncClient) -> None:
    """A number for an integer option (Go's FromMap truncates it), unknown options and fields, a numeric or
    duration keep_alive, ``think: "max"``: all answered."""
    r = await sdk_client.chat(model="qwen3:8b", messages=HI, think="max", keep_alive="1h30m",  # type: ignore[arg-type]
                              options={"num_predict": 200.0, "mystery": 1})  # type: ignore[arg-type]
    assert r.message.thinking and r.message.content == "Fake reply: hi"
    r2 = await sdk_client.generate(model="llama3.2", prompt="hi", keep_alive=30)
    assert r2.response == "Fake reply: hi"
