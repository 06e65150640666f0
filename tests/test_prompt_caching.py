"""Provider prompt caching: breakpoints in the unified schema, on each provider's wire, and the
cache reads and writes the fakes report for a repeated prefix, priced at the catalog's rates."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import anthropic
import botocore.session
import msgspec
import openai
import pydantic
import pytest
from botocore.validate import ParamValidator
from openai.types.chat import ChatCompletionContentPartTextParam
from returns.result import Failure

from interlingua.core import (
    CacheControl,
    ChatRequest,
    ErrorKind,
    Message,
    ProviderConfig,
    Secret,
    TextPart,
    ToolSpec,
    Usage,
)
from interlingua.core.catalog import default_catalog
from interlingua.core.openai import OPENAI
from interlingua.core.prompt_cache import breakpoint_problem
from interlingua.effects import Client
from interlingua.fakes import FakeServer

# ~2000 tokens: past every provider's minimum cacheable prefix (1024 tokens for these models)
RULES = "You are a careful assistant. " + " ".join(f"Rule {i}: answer briefly and cite rule {i}." for i in range(220))
FIVE_MIN, ONE_HOUR = CacheControl(), CacheControl(ttl="1h")


def _cost(provider: str, model: str, usage: Usage) -> Decimal:
    info = default_catalog().lookup(provider, model)
    assert info is not None
    cost = usage.calculate_cost(info)
    assert cost is not None
    return cost


def _by_hand(usage: Usage, input_: str, cached: str, write: str, output: str) -> Decimal:
    """The bill at the given per-1M prices (no catalog code involved)."""
    uncached = usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens
    micro = (uncached * Decimal(input_) + usage.cached_tokens * Decimal(cached)
             + usage.cache_write_tokens * Decimal(write) + usage.completion_tokens * Decimal(output))
    return micro / 1_000_000


# -- Anthropic ------------------------------------------------------------------------------------


async def test_anthropic_cache_write_then_read(client: Client, fake: FakeServer) -> None:
    """A marked system prompt is written on the first call and read on the next; the cost follows
    Anthropic's rates (writes 1.25x input, reads 0.1x)."""
    model = "claude-sonnet-4-5"
    first = (await client.chat(f"anthropic:{model}", [Message.system(RULES, cache=FIVE_MIN), Message.user("one?")])).unwrap()
    sent = fake.requests[-1].json()
    assert sent["system"] == [{"type": "text", "text": RULES, "cache_control": {"type": "ephemeral"}}]
    second = (await client.chat(f"anthropic:{model}", [Message.system(RULES, cache=FIVE_MIN), Message.user("two?")])).unwrap()
    u1, u2 = first.usage, second.usage
    assert u1.cache_write_tokens > 1024 and u1.cached_tokens == 0 and u1.cache_write_1h_tokens == 0
    assert u2.cached_tokens == u1.cache_write_tokens and u2.cache_write_tokens == 0
    assert u2.prompt_tokens > u2.cached_tokens  # the question after the breakpoint is not cached
    assert _cost("anthropic", model, u1) == _by_hand(u1, "3", "0.30", "3.75", "15")
    assert _cost("anthropic", model, u2) == _by_hand(u2, "3", "0.30", "3.75", "15")
    assert client.total_cost == _cost("anthropic", model, u1) + _cost("anthropic", model, u2)


async def test_anthropic_one_hour_write_is_priced_at_twice_input(client: Client, fake: FakeServer) -> None:
    """A 1h breakpoint is sent with its TTL, reported under ephemeral_1h and billed at 2x input."""
    model = "claude-sonnet-4-5"
    tool = ToolSpec(name="lookup", description=RULES, cache=ONE_HOUR)
    r = (await client.chat(f"anthropic:{model}", "hi", tools=[tool])).unwrap()
    assert fake.requests[-1].json()["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    u = r.usage
    assert u.cache_write_tokens > 1024 and u.cache_write_1h_tokens == u.cache_write_tokens
    assert _cost("anthropic", model, u) == _by_hand(u, "3", "0.30", "6.00", "15")


async def test_anthropic_sdk_reads_the_fake_cache_usage(fake: FakeServer) -> None:
    """The official SDK parses the fake's cache usage (oracle for its shape), a text part's breakpoint included."""
    sdk = anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key, max_retries=0)
    try:
        system = [{"type": "text", "text": RULES, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
        one = await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=50, system=system,  # type: ignore[arg-type]
                                        messages=[{"role": "user", "content": "a"}])
        two = await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=50, system=system,  # type: ignore[arg-type]
                                        messages=[{"role": "user", "content": "b"}])
    finally:
        await sdk.close()
    assert one.usage.cache_creation is not None and one.usage.cache_creation.ephemeral_1h_input_tokens > 1024
    assert one.usage.cache_creation_input_tokens == one.usage.cache_creation.ephemeral_1h_input_tokens
    assert two.usage.cache_read_input_tokens == one.usage.cache_creation_input_tokens
    assert two.usage.cache_creation_input_tokens == 0


async def test_anthropic_multi_turn_reads_the_previous_turn(client: Client) -> None:
    """Moving the breakpoint to the newest turn reads the prefix the previous turn wrote."""
    model = "anthropic:claude-sonnet-4-5"
    turn1 = [Message.system(RULES), Message.user([TextPart("first question", cache=FIVE_MIN)])]
    r1 = (await client.chat(model, turn1)).unwrap()
    turn2 = [Message.system(RULES), Message.user("first question"), r1.message, Message.user("next", cache=FIVE_MIN)]
    r2 = (await client.chat(model, turn2)).unwrap()
    assert r1.usage.cache_write_tokens > 1024
    assert r2.usage.cached_tokens == r1.usage.cache_write_tokens and r2.usage.cache_write_tokens > 0


async def test_breakpoint_limits_are_checked_before_sending(client: Client, fake: FakeServer) -> None:
    """Five breakpoints, or a 1h one after a 5m one, fail with invalid_request and send nothing."""
    five = [Message.user(f"part {i}", cache=FIVE_MIN) for i in range(5)]
    mixed = [Message.system("s", cache=FIVE_MIN), Message.user("u", cache=ONE_HOUR)]
    for provider, model in (("anthropic", "claude-sonnet-4-5"), ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")):
        for msgs in (five, mixed):
            r = await client.chat(f"{provider}:{model}", msgs)
            assert type(r) is Failure and r.failure().kind is ErrorKind.INVALID_REQUEST, (provider, r)
    assert fake.requests == []
    assert breakpoint_problem(ChatRequest(model="m", messages=tuple(five[:4]))) is None


# -- Bedrock --------------------------------------------------------------------------------------

BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"


async def test_bedrock_cache_points_write_then_read(client: Client, fake: FakeServer) -> None:
    """cachePoint blocks after the marked system prompt and tool; reads and writes come back apart,
    and the request validates against botocore's Converse input shape."""
    tool = ToolSpec(name="lookup", cache=ONE_HOUR)  # 1h marks come first: tools precede the system prompt
    msgs = [Message.system(RULES, cache=ONE_HOUR), Message.user("q1")]
    first = (await client.chat(f"bedrock:{BEDROCK_MODEL}", msgs, tools=[tool])).unwrap()
    sent = fake.requests[-1].json()
    assert sent["system"] == [{"text": RULES}, {"cachePoint": {"type": "default", "ttl": "1h"}}]
    assert sent["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default", "ttl": "1h"}}
    shape = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse").input_shape
    report = ParamValidator().validate({**sent, "modelId": BEDROCK_MODEL}, shape)
    assert not report.has_errors(), report.generate_report()

    # the same tools and system prompt (tools come first in the prefix), another question
    second = (await client.chat(f"bedrock:{BEDROCK_MODEL}", [msgs[0], Message.user("q2")], tools=[tool])).unwrap()
    u1, u2 = first.usage, second.usage
    assert u1.cache_write_tokens > 1024 and u1.cache_write_1h_tokens > 0 and u1.cached_tokens == 0
    assert u2.cached_tokens > 1024 and u2.cache_write_tokens == 0
    assert _cost("bedrock", BEDROCK_MODEL, u2) == _by_hand(u2, "3", "0.30", "3.75", "15")


async def test_bedrock_message_breakpoint_encoding() -> None:
    """A message's breakpoint becomes a cachePoint block after its content."""
    from interlingua.core.bedrock import BEDROCK

    cfg = ProviderConfig(api_key=Secret("k"), region="us-east-1")
    req = ChatRequest(model=BEDROCK_MODEL, messages=(Message.user("long", cache=FIVE_MIN),))
    body = json.loads(BEDROCK.encode_request(req, cfg).unwrap().body)
    assert body["messages"][0]["content"] == [{"text": "long"}, {"cachePoint": {"type": "default"}}]


# -- OpenAI ---------------------------------------------------------------------------------------


async def test_openai_caches_long_prompts_on_its_own(client: Client, fake: FakeServer) -> None:
    """OpenAI reads a repeated 1024+ token prefix in 128-token steps without any breakpoint; the
    cached tokens are billed at the cached-input price."""
    model = "gpt-4o-mini"
    first = (await client.chat(f"openai:{model}", [Message.system(RULES), Message.user("one")])).unwrap()
    second = (await client.chat(f"openai:{model}", [Message.system(RULES), Message.user("two")])).unwrap()
    assert "prompt_cache_key" not in fake.requests[-1].json()
    assert first.usage.cached_tokens == 0
    cached = second.usage.cached_tokens
    assert cached >= 1024 and (cached - 1024) % 128 == 0 and cached < second.usage.prompt_tokens
    assert _cost("openai", model, second.usage) == _by_hand(second.usage, "0.15", "0.075", "0.15", "0.60")


async def test_openai_breakpoint_sends_a_prefix_cache_key(client: Client, fake: FakeServer) -> None:
    """With breakpoints, requests sharing the marked prefix carry one prompt_cache_key (and 24h
    retention for a 1h breakpoint on gpt-4.1/gpt-5); the official SDK reads the cached usage."""
    for question in ("one", "two"):
        await client.chat("openai:gpt-4.1", [Message.system(RULES, cache=ONE_HOUR), Message.user(question)])
    a, b = (r.json() for r in fake.requests[-2:])
    assert a["prompt_cache_key"] == b["prompt_cache_key"] and a["prompt_cache_key"].startswith("interlingua-")
    assert a["prompt_cache_retention"] == "24h"
    await client.chat("openai:gpt-4o", [Message.system(RULES, cache=ONE_HOUR), Message.user("x")])
    assert "prompt_cache_retention" not in fake.requests[-1].json()  # no extended retention on gpt-4o

    sdk = openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0)
    try:
        kw = {"model": "gpt-4.1", "prompt_cache_key": a["prompt_cache_key"]}
        await sdk.chat.completions.create(messages=[{"role": "system", "content": RULES}, {"role": "user", "content": "3"}], **kw)
        r = await sdk.chat.completions.create(messages=[{"role": "system", "content": RULES}, {"role": "user", "content": "4"}], **kw)
    finally:
        await sdk.close()
    assert r.usage is not None and r.usage.prompt_tokens_details is not None
    assert (r.usage.prompt_tokens_details.cached_tokens or 0) >= 1024


def test_openai_explicit_breakpoints_on_newer_models() -> None:
    """gpt-5.6+ takes prompt_cache_breakpoint on content parts (validated against the SDK's type)."""
    cfg = ProviderConfig(api_key=Secret("k"))
    req = ChatRequest(model="gpt-5.6", messages=(Message.system(RULES, cache=ONE_HOUR), Message.user("q", cache=FIVE_MIN)))
    body = json.loads(OPENAI.encode_request(req, cfg).unwrap().body)
    system, user = (m["content"][0] for m in body["messages"])
    assert system["prompt_cache_breakpoint"] == {"mode": "explicit", "ttl": "12h"}
    assert user["prompt_cache_breakpoint"] == {"mode": "explicit"}
    assert "prompt_cache_key" not in body
    adapter = pydantic.TypeAdapter(ChatCompletionContentPartTextParam)
    assert adapter.validate_python(system) == system and adapter.validate_python(user) == user
    older = json.loads(OPENAI.encode_request(msgspec.structs.replace(req, model="gpt-5.1"), cfg).unwrap().body)
    assert isinstance(older["messages"][1]["content"], str) and "prompt_cache_key" in older


# -- Gemini ---------------------------------------------------------------------------------------


async def test_gemini_implicit_cache_ignores_breakpoints(client: Client, fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """Gemini caches implicitly: a breakpoint changes nothing on the wire (a debug note says so), and
    a repeated prefix comes back as cachedContentTokenCount, billed at the cached price."""
    model = "gemini-2.5-flash"
    with caplog.at_level(logging.DEBUG, logger="interlingua"):
        first = (await client.chat(f"gemini:{model}", [Message.system(RULES, cache=FIVE_MIN), Message.user("one")])).unwrap()
    marked = fake.requests[-1].json()
    assert any("prompt-cache breakpoints" in r.getMessage() for r in caplog.records)
    second = (await client.chat(f"gemini:{model}", [Message.system(RULES), Message.user("one")])).unwrap()
    assert fake.requests[-1].json() == marked
    assert first.usage.cached_tokens == 0 and second.usage.cached_tokens >= 1024
    assert _cost("gemini", model, second.usage) == _by_hand(second.usage, "0.30", "0.03", "0.30", "2.50")


@pytest.mark.parametrize(
    ("model", "mark"),
    [("anthropic:claude-sonnet-4-5", ONE_HOUR), (f"bedrock:{BEDROCK_MODEL}", ONE_HOUR), ("gemini:gemini-2.5-flash", None),
     ("openai:gpt-4o-mini", None)],
)
async def test_streamed_usage_reports_cache_like_the_non_stream_call(client: Client, model: str, mark: CacheControl | None) -> None:
    """A stream's folded usage carries the same cache reads and writes the non-stream answer reports."""
    msgs = [Message.system(RULES, cache=mark), Message.user("q")]
    streamed_write = (await client.stream_response(model, msgs)).unwrap().usage
    chat_read = (await client.chat(model, msgs)).unwrap().usage
    streamed_read = (await client.stream_response(model, msgs)).unwrap().usage
    assert streamed_read == chat_read and chat_read.cached_tokens >= 1024
    if mark is not None:
        assert streamed_write.cache_write_tokens == chat_read.cached_tokens
        assert streamed_write.cache_write_1h_tokens == streamed_write.cache_write_tokens
