"""The Anthropic fake against the official SDK (the oracle) and against interlingua's Client, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest
from returns.result import Failure, Success

from interlingua.core import (
    ChatRequest,
    ErrorKind,
    Message,
    ProviderConfig,
    ReasoningConfig,
    ReasoningPart,
    Secret,
    ToolSpec,
)
from interlingua.core.anthropic import ANTHROPIC
from interlingua.effects import AiohttpTransport, Client, Timeouts
from interlingua.fakes import FakeServer
from interlingua.fakes.anthropic import validate_messages_body

MODEL = "claude-haiku-4-5"
WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEATHER_SPEC = ToolSpec(name="get_weather", description="Weather for a city", parameters=WEATHER["input_schema"])


@pytest.fixture
async def sdk(fake: FakeServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The official async SDK pointed at the fake, retries off."""
    c = anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key, max_retries=0)
    yield c
    await c.close()


# ---------------------------------------------------------------------------------------------
# The official SDK against the fake


async def test_sdk_create(sdk: anthropic.AsyncAnthropic, fake: FakeServer) -> None:
    """messages.create parses the fake's message: text, stop reason, tokenizer usage."""
    m = await sdk.messages.create(model=MODEL, max_tokens=100, system="Be brief.",
                                  messages=[{"role": "user", "content": "hello there"}])
    assert m.content[0].type == "text" and m.content[0].text == "Fake reply: hello there"
    assert (m.role, m.stop_reason, m.model) == ("assistant", "end_turn", MODEL)
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0
    assert fake.requests[-1].path == "/v1/messages"


async def test_sdk_stream_helper(sdk: anthropic.AsyncAnthropic) -> None:
    """The messages.stream helper accumulates the fake's SSE into the same message create returns."""
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 100,
                              "messages": [{"role": "user", "content": "tell me a story about owls"}]}
    async with sdk.messages.stream(**params) as s:
        pieces = [t async for t in s.text_stream]
        final = await s.get_final_message()
    created = await sdk.messages.create(**params)
    assert "".join(pieces) == final.content[0].text == created.content[0].text  # type: ignore[union-attr]
    assert len(pieces) > 1
    assert final.usage.output_tokens == created.usage.output_tokens
    assert final.stop_reason == "end_turn"


async def test_sdk_tool_use_round_trip(sdk: anthropic.AsyncAnthropic) -> None:
    """With tools demanded the fake answers tool_use; the tool_result goes back and is answered."""
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris?"}]
    m = await sdk.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER], tool_choice={"type": "any"},
                                  messages=msgs)
    assert m.stop_reason == "tool_use"
    use = m.content[-1]
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Paris"}
    msgs += [{"role": "assistant", "content": m.content},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}]
    m2 = await sdk.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER], messages=msgs)
    assert m2.content[0].text == "Fake reply: tool get_weather returned sunny"  # type: ignore[union-attr]


async def test_sdk_thinking_streamed_and_sent_back(sdk: anthropic.AsyncAnthropic) -> None:
    """Thinking comes first with a signature, streamed too; sent back unchanged it is accepted."""
    params: dict[str, Any] = {"model": MODEL, "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024},
                              "tools": [WEATHER], "messages": [{"role": "user", "content": "call get_weather"}]}
    m = await sdk.messages.create(**params)
    assert [b.type for b in m.content] == ["thinking", "tool_use"]
    assert m.content[0].signature and m.content[0].thinking == "Thinking about: call get_weather"  # type: ignore[union-attr]
    async with sdk.messages.stream(**params) as s:
        streamed = await s.get_final_message()
    assert streamed.content == m.content
    follow = [*params["messages"], {"role": "assistant", "content": m.content},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": m.content[1].id, "content": "20C"}]}]
    m2 = await sdk.messages.create(**{**params, "messages": follow})
    assert m2.content[-1].text == "Fake reply: tool get_weather returned 20C"  # type: ignore[union-attr]


async def test_sdk_count_tokens_and_models(sdk: anthropic.AsyncAnthropic) -> None:
    """count_tokens matches the usage the fake reports; models.list pages the fake's models."""
    msgs: list[Any] = [{"role": "user", "content": "count me please"}]
    counted = await sdk.messages.count_tokens(model=MODEL, messages=msgs)
    m = await sdk.messages.create(model=MODEL, max_tokens=10, messages=msgs)
    assert counted.input_tokens == m.usage.input_tokens
    ids = [x.id async for x in sdk.models.list()]
    assert MODEL in ids


@pytest.mark.parametrize(
    ("fault", "exc", "status", "type_"),
    [
        ("429;retry-after=3", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("500", anthropic.InternalServerError, 500, "api_error"),
        ("529", anthropic.OverloadedError, 529, "overloaded_error"),
        ("403", anthropic.PermissionDeniedError, 403, "permission_error"),
    ],
)
async def test_sdk_exceptions_for_faults(sdk: anthropic.AsyncAnthropic, fake: FakeServer, fault: str,
                                         exc: type[anthropic.APIStatusError], status: int, type_: str) -> None:
    """Injected faults raise the SDK's own exception types, with Anthropic's body and request-id."""
    fake.fail_next("anthropic", fault)
    with pytest.raises(exc) as info:
        await sdk.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    e = info.value
    assert isinstance(e, anthropic.APIStatusError) and e.status_code == status
    assert e.type == type_ and e.request_id and e.request_id.startswith("req_")
    if status == 429:
        assert e.response.headers["retry-after"] == "3"
        assert e.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


async def test_sdk_auth_and_validation_errors(fake: FakeServer, sdk: anthropic.AsyncAnthropic) -> None:
    """A wrong key is AuthenticationError; an invalid body is BadRequestError; unknown model NotFoundError."""
    bad = anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        await bad.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    await bad.close()
    with pytest.raises(anthropic.BadRequestError, match="first message must use"):
        await sdk.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        await sdk.messages.create(model=MODEL, max_tokens=1000, thinking={"type": "enabled", "budget_tokens": 1024},
                                  messages=[{"role": "user", "content": "hi"}])
    fake.models("anthropic", unknown=["claude-nope"])  # any well-formed claude-* id is answered unless declared
    for unknown in ("claude-nope", "gpt-4o"):
        with pytest.raises(anthropic.NotFoundError):
            await sdk.messages.create(model=unknown, max_tokens=10, messages=[{"role": "user", "content": "hi"}])


async def test_sdk_error_event_mid_stream(sdk: anthropic.AsyncAnthropic, fake: FakeServer) -> None:
    """An `event: error` frame mid-stream surfaces as the SDK's APIStatusError carrying overloaded_error."""
    fake.fail_next("anthropic", "error-event")
    with pytest.raises(anthropic.APIStatusError) as info:
        async with sdk.messages.stream(model=MODEL, max_tokens=10,
                                       messages=[{"role": "user", "content": "hi"}]) as s:
            async for _ in s:
                pass
    assert "overloaded_error" in str(info.value)


async def test_raw_header_checks(fake: FakeServer) -> None:
    """Missing anthropic-version is 400 invalid_request_error; missing key 401; both in Anthropic's shape."""
    url = fake.url_for("anthropic") + "/v1/messages"
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=body, headers={"x-api-key": fake.api_key}) as r:
            assert r.status == 400 and r.headers["request-id"].startswith("req_")
            j = await r.json()
            assert j["type"] == "error" and j["error"] == {"type": "invalid_request_error",
                                                           "message": "anthropic-version: header is required"}
            assert j["request_id"] == r.headers["request-id"]
        async with s.post(url, json=body, headers={"anthropic-version": "2023-06-01"}) as r:
            assert r.status == 401 and (await r.json())["error"]["type"] == "authentication_error"
        async with s.post(url, json={**body, "max_tokens": None} | {}, headers={
                "x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}) as r:
            assert r.status == 400
        no_max = {k: v for k, v in body.items() if k != "max_tokens"}
        async with s.post(url, json=no_max, headers={"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}) as r:
            assert (await r.json())["error"]["message"] == "max_tokens: Field required"


# ---------------------------------------------------------------------------------------------
# interlingua's Client against the fake


async def test_client_chat_and_stream_agree(client: Client) -> None:
    """chat and the folded stream give the same response, decoded from the fake's two framings."""
    chat = (await client.chat(f"anthropic:{MODEL}", "hello world", max_tokens=50)).unwrap()
    assert chat.text == "Fake reply: hello world" and chat.provider == "anthropic"
    assert chat.usage.prompt_tokens > 0 and chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens
    streamed = (await client.stream_response(f"anthropic:{MODEL}", "hello world", max_tokens=50)).unwrap()
    assert streamed == chat
    chunks = [c async for c in client.stream(f"anthropic:{MODEL}", "hello world", max_tokens=50)]
    assert all(isinstance(c, Success) for c in chunks) and len(chunks) > 3


async def test_client_tool_call_with_thinking(client: Client) -> None:
    """A thinking tool call decodes with its signature, and the turn goes back to a final answer."""
    q = Message.user("What's the weather in Paris?")
    first = (await client.chat(f"anthropic:{MODEL}", [q], tools=[WEATHER_SPEC], tool_choice="required",
                               reasoning=ReasoningConfig(budget_tokens=1024))).unwrap()
    (call,) = first.tool_calls
    assert (call.name, call.parsed_arguments()) == ("get_weather", {"city": "Paris"})
    (thought,) = [p for p in first.message.parts if isinstance(p, ReasoningPart)]
    assert thought.signature and thought.text.startswith("Thinking about:")
    streamed = (await client.stream_response(f"anthropic:{MODEL}", [q], tools=[WEATHER_SPEC], tool_choice="required",
                                             reasoning=ReasoningConfig(budget_tokens=1024))).unwrap()
    assert streamed == first
    final = (await client.chat(f"anthropic:{MODEL}", [q, first.message, Message.tool(call.id, "sunny")],
                               tools=[WEATHER_SPEC], reasoning=ReasoningConfig(budget_tokens=1024))).unwrap()
    assert final.text == "Fake reply: tool get_weather returned sunny"


async def test_client_529_is_typed(client: Client, fake: FakeServer) -> None:
    """An injected 529 is a Failure of kind overloaded with status 529 and Anthropic's request id kept."""
    fake.fail_next("anthropic", "529")
    r = await client.chat(f"anthropic:{MODEL}", "hi")
    assert isinstance(r, Failure)
    err = r.failure()
    assert (err.kind, err.status, err.code) == (ErrorKind.OVERLOADED, 529, "overloaded_error")
    assert err.is_retryable() and err.headers and err.headers["request-id"].startswith("req_")


async def test_client_error_event_mid_stream(client: Client, fake: FakeServer) -> None:
    """An error event after message_start ends the stream with a typed Failure (overloaded)."""
    fake.fail_next("anthropic", "error-event")
    items = [i async for i in client.stream(f"anthropic:{MODEL}", "hi")]
    assert isinstance(items[-1], Failure)
    assert items[-1].failure().kind is ErrorKind.OVERLOADED
    assert all(isinstance(i, Success) for i in items[:-1])


async def test_client_cut_stream_and_malformed(client: Client, fake: FakeServer) -> None:
    """A stream cut before message_stop, and a 200 whose body is not JSON, are typed Failures."""
    fake.fail_next("anthropic", "cut=3")
    items = [i async for i in client.stream(f"anthropic:{MODEL}", "a longer prompt to stream")]
    assert isinstance(items[-1], Failure) and items[-1].failure().kind is ErrorKind.STREAMING
    fake.fail_next("anthropic", "malformed")
    r = await client.chat(f"anthropic:{MODEL}", "hi")
    assert r.failure().kind is ErrorKind.DECODE


async def test_count_tokens_against_fake(fake: FakeServer) -> None:
    """encode_count_tokens / decode_count_tokens agree with the fake's reported usage."""
    cfg = ProviderConfig(api_key=Secret(fake.api_key), base_url=fake.url_for("anthropic"))
    req = ChatRequest(model=MODEL, messages=(Message.system("sys"), Message.user("count me")), max_tokens=10,
                      tools=(WEATHER_SPEC,))
    t = AiohttpTransport()
    try:
        sent = await t.send(ANTHROPIC.encode_count_tokens(req, cfg).unwrap(), timeouts=Timeouts(), max_bytes=1 << 20)
        n = ANTHROPIC.decode_count_tokens(sent.unwrap()).unwrap()
        resp = await t.send(ANTHROPIC.encode_request(req, cfg).unwrap(), timeouts=Timeouts(), max_bytes=1 << 20)
        assert n == ANTHROPIC.decode_response(resp.unwrap()).unwrap().usage.prompt_tokens
    finally:
        await t.close()


_OK: dict[str, Any] = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
_USE = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": _OK["messages"]}, "max_tokens: Field required"),
        ({**_OK, "messages": []}, "at least one message"),
        ({**_OK, "messages": [{"role": "system", "content": "x"}]}, "Input should be 'user' or 'assistant'"),
        ({**_OK, "messages": [{"role": "assistant", "content": "x"}]}, "first message must use"),
        ({**_OK, "messages": [*_OK["messages"], _USE, {"role": "user", "content": "no result"}]},
         "`tool_use` ids were found without `tool_result`"),
        ({**_OK, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]}, "unexpected `tool_use_id`"),
        ({**_OK, "messages": [*_OK["messages"], _USE, {"role": "user", "content": [
            {"type": "text", "text": "first"}, {"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}]},
         "tool_result blocks must come first"),
        ({**_OK, "messages": [*_OK["messages"], {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t"}]}]}, "signature: Field required"),
        ({**_OK, "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "must be non-empty"),
        ({**_OK, "temperature": 1.5}, "temperature"),
        ({**_OK, "thinking": {"type": "enabled", "budget_tokens": 100}}, "greater than or equal to 1024"),
        ({**_OK, "tool_choice": {"type": "tool", "name": "f"}}, "not among the provided tools"),
    ],
)
def test_fake_validation_rules(body: dict[str, Any], message: str) -> None:
    """The fake refuses what the API documents as invalid, with Anthropic's 400 invalid_request_error."""
    assert validate_messages_body(_OK) is None
    status, type_, text = validate_messages_body(body) or (0, "", "")
    assert (status, type_) == (400, "invalid_request_error")
    assert message in text


@pytest.mark.parametrize("retry_after", ["2", "inf", "nan", "soon"])
async def test_an_injected_429_keeps_its_retry_after_and_names_a_reset(fake: FakeServer, retry_after: str) -> None:
    """A 429 fault answers 429 whatever Retry-After it was given (never a 500 from the fake itself),
    with the request bucket empty and a whole-second RFC 3339 reset."""
    fake.fail_next("anthropic", f"429;retry-after={retry_after}")
    body = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as s, s.post(fake.url_for("anthropic") + "/v1/messages", json=body, headers=headers) as r:
        assert r.status == 429
        assert r.headers["retry-after"] == retry_after
        assert r.headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert r.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
