"""The Gemini fake against Google's own SDK (google-genai) and against interlingua's Client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from google import genai
from google.genai import errors, types
from returns.result import Failure, Success

from interlingua.core import ErrorKind, FinishReason, HttpResponse, Message, ReasoningConfig, ToolSpec
from interlingua.core.gemini import GEMINI
from interlingua.effects import Client
from interlingua.fakes import FakeServer

from .helpers import config_for

MODEL = "gemini-2.5-flash"
WEATHER = ToolSpec(name="get_weather", description="Weather in a city", parameters={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


def sdk_for(fake: FakeServer, key: str | None = None, **options: str) -> genai.Client:
    """google-genai pointed at the fake, its retries off (one attempt) so injected faults surface."""
    return genai.Client(api_key=key or fake.api_key, http_options=types.HttpOptions(
        base_url=fake.url_for("gemini"), retry_options=types.HttpRetryOptions(attempts=1), **options))


@pytest.fixture
async def sdk(fake: FakeServer) -> AsyncIterator[genai.Client]:
    """The SDK on v1beta (the documented version), closed afterwards so the fake shuts down at once."""
    c = sdk_for(fake, api_version="v1beta")
    yield c
    await c.aio.aclose()


async def test_sdk_generate_content(sdk: genai.Client, fake: FakeServer) -> None:
    """generate_content parses the fake's answer, usage and ids; the key travels in x-goog-api-key."""
    r = await sdk.aio.models.generate_content(model=MODEL, contents="Hello there")
    assert r.text == "Fake reply: Hello there"
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.usage_metadata.total_token_count == r.usage_metadata.prompt_token_count + r.usage_metadata.candidates_token_count
    assert r.model_version == MODEL and r.response_id
    seen = fake.requests[-1]
    assert seen.path == f"/v1beta/models/{MODEL}:generateContent" and seen.headers["x-goog-api-key"] == "[redacted]"


async def test_sdk_stream_with_thoughts(sdk: genai.Client) -> None:
    """generate_content_stream yields thought parts, then the answer with a signature, finish on the last."""
    chunks = [c async for c in await sdk.aio.models.generate_content_stream(
        model=MODEL, contents="one two three four",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True)))]
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert "".join(p.text for p in parts if p.thought) == "Thinking about: one two three four"
    assert "".join(p.text for p in parts if not p.thought) == "Fake reply: one two three four"
    assert any(p.thought_signature for p in parts if not p.thought)
    assert [c.candidates[0].finish_reason for c in chunks][-1] == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.thoughts_token_count > 0


async def test_sdk_function_calling(sdk: genai.Client) -> None:
    """mode ANY with one allowed name forces that call, arguments filled from its schema; the result round-trips."""
    decl = types.FunctionDeclaration(name="get_weather", description="w", parameters_json_schema=WEATHER.parameters)
    cfg = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[decl])],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
            mode="ANY", allowed_function_names=["get_weather"])),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    r = await sdk.aio.models.generate_content(model=MODEL, contents="What now?", config=cfg)
    assert [(c.name, c.args) for c in r.function_calls] == [("get_weather", {"city": "sample"})]
    history = [types.Content(role="user", parts=[types.Part(text="What now?")]), r.candidates[0].content,
               types.Content(role="user", parts=[types.Part.from_function_response(
                   name="get_weather", response={"output": "sunny"})])]
    r2 = await sdk.aio.models.generate_content(model=MODEL, contents=history, config=types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[decl])]))
    assert r2.text == "Fake reply: tool get_weather returned sunny"


async def test_sdk_count_tokens_and_models(sdk: genai.Client) -> None:
    """countTokens and the model list answer in Google's shapes."""
    n = await sdk.aio.models.count_tokens(model=MODEL, contents="hello world")
    assert n.total_tokens == 2
    names = [m.name async for m in await sdk.aio.models.list()]
    assert f"models/{MODEL}" in names


SDK_FAULTS: list[tuple[str, type[errors.APIError], int, str]] = [
    ("429;retry-after=17", errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
    ("400", errors.ClientError, 400, "INVALID_ARGUMENT"),
    ("403", errors.ClientError, 403, "PERMISSION_DENIED"),
    ("404", errors.ClientError, 404, "NOT_FOUND"),
    ("500", errors.ServerError, 500, "INTERNAL"),
    ("503", errors.ServerError, 503, "UNAVAILABLE"),
    ("504", errors.ServerError, 504, "DEADLINE_EXCEEDED"),
]


async def test_sdk_errors_for_injected_faults(sdk: genai.Client, fake: FakeServer) -> None:
    """Each injected fault reaches the SDK as its own error class, code and status, after one attempt."""
    for n, (fault, exc, code, status) in enumerate(SDK_FAULTS, start=1):
        fake.fail_next("gemini", fault)
        with pytest.raises(exc) as info:
            await sdk.aio.models.generate_content(model=MODEL, contents="x")
        assert (info.value.code, info.value.status) == (code, status), fault
        assert fake.attempts("gemini") == n


async def test_sdk_bad_key_and_mid_stream_error(fake: FakeServer) -> None:
    """A wrong key is 400 API_KEY_INVALID; an error event mid-stream raises ServerError in the SDK."""
    bad = sdk_for(fake, "wrong")
    with pytest.raises(errors.ClientError) as info:
        await bad.aio.models.generate_content(model=MODEL, contents="x")
    await bad.aio.aclose()
    assert info.value.code == 400 and info.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    # The SDK's default API version (v1) works too.
    good = sdk_for(fake)
    fake.fail_next("gemini", "error-event")
    with pytest.raises(errors.ServerError):
        async for _ in await good.aio.models.generate_content_stream(model=MODEL, contents="a b c d e f"):
            pass
    await good.aio.aclose()


async def test_key_in_query_is_accepted(fake: FakeServer) -> None:
    """The fake, like the API, also takes ?key= (the dialect itself never puts it in a URL)."""
    async with aiohttp.ClientSession() as s, s.post(
            f"{fake.url_for('gemini')}/v1beta/models/{MODEL}:generateContent?key={fake.api_key}",
            json={"contents": [{"parts": [{"text": "hi"}]}]}) as r:
        assert r.status == 200 and (await r.json())["candidates"][0]["content"]["parts"] == [{"text": "Fake reply: hi"}]
    async with aiohttp.ClientSession() as s, s.post(
            f"{fake.url_for('gemini')}/v1beta/models/{MODEL}:streamGenerateContent?key={fake.api_key}",
            json={"contents": [{"parts": [{"text": "hi"}]}]}) as r:
        assert isinstance(json.loads(await r.read()), list)


async def test_client_chat_and_stream(client: Client) -> None:
    """interlingua's Client gets the same answer streamed and not, over a real socket."""
    whole = (await client.chat(f"gemini:{MODEL}", "Hello over sockets", reasoning=ReasoningConfig())).unwrap()
    streamed = (await client.stream_response(f"google:{MODEL}", "Hello over sockets", reasoning=ReasoningConfig())).unwrap()
    assert whole.text == "Fake reply: Hello over sockets" and whole.reasoning.startswith("Thinking about:")
    assert streamed == whole and whole.usage.reasoning_tokens > 0


async def test_client_tool_loop(client: Client, fake: FakeServer) -> None:
    """A forced call, its result sent back by id, and the fake's reply naming the tool."""
    first = (await client.chat(f"gemini:{MODEL}", "weather?", tools=(WEATHER,), tool_choice="required")).unwrap()
    assert first.finish_reason is FinishReason.TOOL_CALLS
    call = first.tool_calls[0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "sample"}
    msgs = [Message.user("weather?"), first.message, Message.tool(call.id, "sunny")]
    second = (await client.chat(f"gemini:{MODEL}", msgs, tools=(WEATHER,))).unwrap()
    assert second.text == "Fake reply: tool get_weather returned sunny"


async def test_client_errors(client: Client, fake: FakeServer) -> None:
    """Faults become typed errors: RetryInfo → retry_after, unknown model → not_found, cut stream → streaming."""
    fake.fail_next("gemini", "429;retry-after=4")
    err = (await client.chat(f"gemini:{MODEL}", "x")).failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after == 4.0
    fake.models("gemini", unknown=["gemini-9-ultra"])  # well-formed ids are answered unless declared unknown
    assert (await client.chat("gemini:gemini-9-ultra", "x")).failure().kind is ErrorKind.NOT_FOUND
    fake.fail_next("gemini", "cut=1")
    r = await client.stream_response(f"gemini:{MODEL}", "one two three four five six")
    assert isinstance(r, Failure) and r.failure().kind is ErrorKind.STREAMING
    fake.fail_next("gemini", "error-event")
    r = await client.stream_response(f"gemini:{MODEL}", "one two three four five six")
    assert r.failure().kind is ErrorKind.STREAMING
    fake.fail_next("gemini", "502")
    assert (await client.chat(f"gemini:{MODEL}", "x")).failure().kind is ErrorKind.PROVIDER


async def test_client_bad_key_and_context(fake: FakeServer) -> None:
    """A wrong key is authentication (from API_KEY_INVALID); an oversized prompt is context_length_exceeded."""
    cfg = config_for(fake, retry_enabled=False).with_provider("gemini", base_url=fake.url_for("gemini"), api_key="bad")
    async with Client(cfg) as c:
        err = (await c.chat(f"gemini:{MODEL}", "x")).failure()
        assert err.kind is ErrorKind.AUTHENTICATION and "bad" not in str(err)
    async with Client(config_for(fake, retry_enabled=False)) as c:
        huge = "word " * 140_000
        assert (await c.chat("gemini:gemma-3-27b-it", huge)).failure().kind is ErrorKind.CONTEXT_LENGTH_EXCEEDED


async def test_count_tokens_against_fake(fake: FakeServer) -> None:
    """The dialect's countTokens request, sent to the fake, decodes to the fake's count."""
    from interlingua.core import ChatRequest, ProviderConfig, Secret

    cfg = ProviderConfig(api_key=Secret(fake.api_key), base_url=fake.url_for("gemini"))
    r = GEMINI.encode_count_tokens(ChatRequest(model=MODEL, messages=(Message.user("hello world"),)), cfg).unwrap()
    async with aiohttp.ClientSession() as s, s.post(r.url, data=r.body, headers=dict(r.headers.items_raw())) as resp:
        body = await resp.read()
    assert GEMINI.decode_count_tokens(HttpResponse(resp.status, body=body)) == Success(2)


async def test_cross_dialect_conversation_accepted_by_fake(client: Client) -> None:
    """Two calls, their two results (out of order), then a user turn: the fake accepts the encoding;
    dropping one result is refused before sending (Gemini would answer 400 about unequal counts)."""
    from interlingua.core import ToolCall

    calls = [ToolCall("call_a", "get_weather", '{"city":"Paris"}'), ToolCall("call_b", "get_time", "{}")]
    conv = [Message.user("Weather and time?"), Message.assistant("", calls),
            Message.tool("call_b", "12:00"), Message.tool("call_a", "sunny"), Message.user("Thanks!")]
    ok = (await client.chat(f"gemini:{MODEL}", conv)).unwrap()
    assert ok.text == "Fake reply: Thanks!"
    err = (await client.chat(f"gemini:{MODEL}", conv[:3] + conv[4:])).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "no tool result" in err.message


def test_env_key_falls_back_to_google_api_key() -> None:
    """GEMINI_API_KEY wins; GOOGLE_API_KEY is the fallback; GEMINI_BASE_URL sets the base URL."""
    from interlingua.effects import LlmConfig

    both = LlmConfig.from_env({"GEMINI_API_KEY": "g1", "GOOGLE_API_KEY": "g2", "GEMINI_BASE_URL": "http://127.0.0.1:1"})
    assert both.provider("gemini").api_key.reveal() == "g1"
    assert both.provider("gemini").base_url == "http://127.0.0.1:1"
    assert LlmConfig.from_env({"GOOGLE_API_KEY": "g2"}).provider("gemini").api_key.reveal() == "g2"
