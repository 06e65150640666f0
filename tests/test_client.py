"""The effect layer over real loopback sockets: Results for everything, never an exception."""

from __future__ import annotations

import asyncio
import socket

import pytest
from returns.result import Failure, Success

from interlingua.core import ChatRequest, ErrorKind, FinishReason, Message, ToolSpec
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer

from .helpers import config_for

WEATHER = ToolSpec(name="get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


async def test_chat(client: Client) -> None:
    """A chat call returns the fake's deterministic answer with usage."""
    r = (await client.chat("openai:gpt-4o-mini", "hello world")).unwrap()
    assert r.text == "Fake reply: hello world" and r.finish_reason is FinishReason.STOP
    assert r.usage.prompt_tokens == 9 and r.provider == "openai"


async def test_stream_equals_chat(client: Client) -> None:
    """The streamed chunks fold to the same response the non-stream call returns (id aside)."""
    chunks = [item.unwrap() async for item in client.stream("gpt-4o-mini", "one two three four five")]
    assert "".join(c.text for c in chunks) == "Fake reply: one two three four five"
    folded = (await client.stream_response("gpt-4o-mini", "one two three four five")).unwrap()
    plain = (await client.chat("gpt-4o-mini", "one two three four five")).unwrap()
    assert (folded.text, folded.usage, folded.finish_reason) == (plain.text, plain.usage, plain.finish_reason)


async def test_tool_round_trip(client: Client) -> None:
    """A tool call, its result and the follow-up answer, through the unified schema."""
    r = (await client.chat("gpt-4o", "Weather?", tools=[WEATHER], tool_choice="required")).unwrap()
    call = r.tool_calls[0]
    assert r.finish_reason is FinishReason.TOOL_CALLS and call.parsed_arguments() == {"city": "sample"}
    follow = [Message.user("Weather?"), r.message, Message.tool(call.id, "18C")]
    r2 = (await client.chat("gpt-4o", follow, tools=[WEATHER])).unwrap()
    assert r2.text == "Fake reply: tool get_weather returned 18C"


async def test_request_object_and_options(client: Client, fake: FakeServer) -> None:
    """A ChatRequest works as the second argument; options land on the wire."""
    req = ChatRequest(model="ignored", messages=(Message.user("hi"),))
    r = (await client.chat("gpt-4o-mini", req, max_tokens=2, stop=["never"])).unwrap()
    assert r.finish_reason is FinishReason.LENGTH
    sent = fake.requests[-1].json()
    assert sent["model"] == "gpt-4o-mini" and sent["max_completion_tokens"] == 2 and sent["stop"] == ["never"]


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (("mystery-model", "x"), ErrorKind.INVALID_MODEL),
        (("gpt-9000", "x"), ErrorKind.NOT_FOUND),
        (("anthropic:claude-x", None), ErrorKind.INVALID_REQUEST),
    ],
)
async def test_expected_failures_are_values(client: Client, fake: FakeServer, call: tuple[str, str | None],
                                           kind: ErrorKind) -> None:
    """Unknown models, missing messages and 404s are Failures of the right kind."""
    fake.models("openai", unknown=["gpt-9000"])  # the fake answers every well-formed gpt-* id unless told
    result = await client.chat(*call)
    assert isinstance(result, Failure) and result.failure().kind is kind


async def test_bad_option_is_a_failure(client: Client) -> None:
    """A misspelled option is an invalid_request Failure, not a TypeError."""
    err = (await client.chat("gpt-4o-mini", "x", temprature=1)).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "temprature" in err.message


async def test_wrong_key_is_authentication_and_redacted(fake: FakeServer) -> None:
    """A 401 is an authentication Failure and the key is in no part of it."""
    key = "sk-wrongkey-0123456789abcdef"
    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=fake.url_for("openai"), api_key=key)
    async with Client(cfg) as c:
        err = (await c.chat("gpt-4o-mini", "x")).failure()
    assert err.is_authentication()
    for text in (repr(err), str(err), err.message, err.raw or ""):
        assert key not in text and "0123456789abcdef" not in text and "89abcdef" not in text


async def test_missing_key_fails_before_sending(fake: FakeServer) -> None:
    """No key at all: an authentication Failure and no request reaches the server."""
    async with Client(LlmConfig().with_provider("openai", base_url=fake.url_for("openai"))) as c:
        err = (await c.chat("gpt-4o-mini", "x")).failure()
    assert err.kind is ErrorKind.AUTHENTICATION and fake.attempts("openai") == 0


async def test_connection_refused_is_network() -> None:
    """Nobody listening: a network Failure."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
    async with Client(cfg) as c:
        err = (await c.chat("gpt-4o-mini", "x")).failure()
        assert err.kind is ErrorKind.NETWORK and err.provider == "openai"
        items = [i async for i in c.stream("gpt-4o-mini", "x")]
    assert len(items) == 1 and items[0].failure().kind is ErrorKind.NETWORK


async def test_hang_is_timeout(fake: FakeServer) -> None:
    """A server that never answers becomes a timeout Failure within the configured total."""
    async with Client(config_for(fake, retry_enabled=False, timeout=0.3)) as c:
        fake.fail_next("openai", "hang")
        err = (await c.chat("gpt-4o-mini", "x")).failure()
    assert err.kind is ErrorKind.TIMEOUT


@pytest.mark.parametrize(("fault", "kind"), [("malformed", ErrorKind.DECODE), ("content-type", ErrorKind.DECODE),
                                              ("truncate", ErrorKind.NETWORK), ("reset", ErrorKind.NETWORK)])
async def test_broken_bodies(client: Client, fake: FakeServer, fault: str, kind: ErrorKind) -> None:
    """Broken or cut bodies are typed Failures."""
    fake.fail_next("openai", fault)
    assert (await client.chat("gpt-4o-mini", "x")).failure().kind is kind


async def test_oversized_body_is_capped(fake: FakeServer) -> None:
    """A body beyond max_response_bytes is refused without reading it all."""
    async with Client(config_for(fake, retry_enabled=False, max_response_bytes=10_000)) as c:
        fake.fail_next("openai", "oversize=2000000")
        err = (await c.chat("gpt-4o-mini", "x")).failure()
    assert err.kind is ErrorKind.DECODE and "limit" in err.message


async def test_mid_stream_cut_ends_with_streaming_failure(client: Client, fake: FakeServer) -> None:
    """Chunks before a cut are delivered; the last item is a streaming Failure."""
    fake.fail_next("openai", "cut=3")
    items = [i async for i in client.stream("gpt-4o-mini", "a b c d e f g h i j")]
    assert all(isinstance(i, Success) for i in items[:-1]) and len(items) >= 2
    assert items[-1].failure().kind is ErrorKind.STREAMING


async def test_error_before_stream_starts(client: Client, fake: FakeServer) -> None:
    """A 429 instead of a stream is one rate_limit Failure item."""
    fake.fail_next("openai", "429;retry-after=4")
    items = [i async for i in client.stream("gpt-4o-mini", "x")]
    assert len(items) == 1
    err = items[0].failure()
    assert err.is_rate_limit() and err.retry_after == 4.0


async def test_breaking_out_of_a_stream_releases_the_connection(client: Client) -> None:
    """Stopping early closes the stream; the pooled session keeps working."""
    agen = client.stream("gpt-4o-mini", "a b c d e f g h i j")
    async for _ in agen:
        break
    await agen.aclose()  # type: ignore[attr-defined]
    assert (await client.chat("gpt-4o-mini", "again")).unwrap().text == "Fake reply: again"


async def test_concurrent_calls_share_one_session(client: Client, fake: FakeServer) -> None:
    """Many concurrent calls all succeed through the pooled session."""
    results = await asyncio.gather(*(client.chat("gpt-4o-mini", f"n{i}") for i in range(50)))
    assert [r.unwrap().text for r in results] == [f"Fake reply: n{i}" for i in range(50)]
    assert fake.attempts("openai") == 50


async def test_env_config(monkeypatch: pytest.MonkeyPatch, fake: FakeServer) -> None:
    """OPENAI_API_KEY / OPENAI_BASE_URL configure the client when no config is given."""
    monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url_for("openai"))
    async with Client() as c:
        assert (await c.chat("gpt-4o-mini", "env")).unwrap().text == "Fake reply: env"
    assert "test-key" not in repr(LlmConfig.from_env())


def test_chat_options_name_every_request_field() -> None:
    """The typed options (ChatOptions) are exactly the ChatRequest fields besides model and messages."""
    import msgspec

    from interlingua.core.prepare import ChatOptions
    from interlingua.core.schema import ChatRequest

    fields = {f.name for f in msgspec.structs.fields(ChatRequest)} - {"model", "messages"}
    assert set(ChatOptions.__annotations__) == fields


async def test_the_configured_catalog_reaches_the_dialect_default_and_the_budget(fake: FakeServer) -> None:
    """LlmConfig(catalog=…) decides Anthropic's default max_tokens on the wire and the price the budget uses."""
    import json
    from decimal import Decimal

    from interlingua.core import ModelInfo
    from interlingua.core.catalog import default_catalog

    mine = ModelInfo(id="claude-haiku-4-5", provider="anthropic", max_output_tokens=123,
                     input_price=Decimal("1000"), output_price=Decimal("1000"))
    cfg = config_for(fake, retry_enabled=False, catalog=default_catalog().merged([mine]))
    async with Client(cfg) as client:
        r = (await client.chat("anthropic:claude-haiku-4-5", "hi")).unwrap()
        sent = json.loads(fake.state.requests[-1].body)
        assert sent["max_tokens"] == 123
        assert client.total_cost == r.usage.calculate_cost(mine) and client.total_cost > Decimal("0.001")
    async with Client(config_for(fake, retry_enabled=False)) as client:  # the bundled catalog
        await client.chat("anthropic:claude-haiku-4-5", "hi")
        bundled = default_catalog().lookup("anthropic", "claude-haiku-4-5")
        assert bundled is not None and json.loads(fake.state.requests[-1].body)["max_tokens"] == bundled.max_output_tokens
