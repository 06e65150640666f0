"""The Azure, xAI and Docker Model Runner fakes against the official openai SDK (the oracle), and the
interlingua Client against the fakes for azure, xai, docker and openai_compatible."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from returns.result import Failure

from interlingua.core import ErrorKind, FinishReason, ToolSpec
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer

from .helpers import config_for

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def azure(fake: FakeServer) -> AsyncIterator[openai.AsyncAzureOpenAI]:
    """The SDK's Azure client on the fake's deployment paths."""
    c = openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=fake.api_key, api_version="2024-10-21",
                                max_retries=0)
    yield c
    await c.close()


# -- the openai SDK as oracle ------------------------------------------------------------------


async def test_sdk_azure_chat(azure: openai.AsyncAzureOpenAI, fake: FakeServer) -> None:
    """AsyncAzureOpenAI reaches the deployment path with api-key and api-version, and parses the answer."""
    r = await azure.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert r.choices[0].message.content == "Fake reply: hello there"
    assert r.choices[0].finish_reason == "stop"
    extra = r.model_extra or {}
    assert extra["prompt_filter_results"][0]["content_filter_results"]["violence"] == {
        "filtered": False, "severity": "safe"}
    seen = fake.requests[-1]
    assert seen.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert seen.query["api-version"] == "2024-10-21" and seen.headers["api-key"] == "[redacted]"


async def test_sdk_azure_stream(azure: openai.AsyncAzureOpenAI) -> None:
    """The SDK folds Azure's stream, including its leading prompt-filter chunk with no choices."""
    stream = await azure.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True,
                                                 stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    assert chunks[0].choices == [] and (chunks[0].model_extra or {}).get("prompt_filter_results")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake reply: hello there"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_sdk_azure_tools(azure: openai.AsyncAzureOpenAI) -> None:
    """A forced tool call comes back in the OpenAI shape through Azure's path."""
    r = await azure.chat.completions.create(model="gpt-4o", messages=HELLO, tools=[TOOL],  # type: ignore[list-item]
                                            tool_choice="required")
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "sample"}
    assert r.choices[0].finish_reason == "tool_calls"


async def test_sdk_azure_content_filter_error(azure: openai.AsyncAzureOpenAI) -> None:
    """The documented prompt trigger is Azure's 400 content_filter, which the SDK raises as BadRequestError."""
    with pytest.raises(openai.BadRequestError) as info:
        await azure.chat.completions.create(model="gpt-4o-mini",
                                            messages=[{"role": "user", "content": "FILTER_PROMPT now"}])
    assert info.value.code == "content_filter"
    inner = info.value.body["innererror"]  # type: ignore[index]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    assert inner["content_filter_result"]["violence"]["filtered"] is True


async def test_sdk_azure_answer_filtered(azure: openai.AsyncAzureOpenAI) -> None:
    """The answer trigger gives finish_reason content_filter with the flagged category."""
    r = await azure.chat.completions.create(model="gpt-4o-mini",
                                            messages=[{"role": "user", "content": "FILTER_ANSWER please"}])
    assert r.choices[0].finish_reason == "content_filter"
    assert (r.choices[0].model_extra or {})["content_filter_results"]["violence"]["filtered"] is True


async def test_sdk_azure_errors(fake: FakeServer) -> None:
    """Bad key, unsupported api-version and an unknown deployment get Azure's own statuses and codes."""
    bad = openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key="wrong", api_version="2024-10-21",
                                  max_retries=0)
    old = openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=fake.api_key, api_version="1999-01-01",
                                  max_retries=0)
    good = openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=fake.api_key, api_version="2024-10-21",
                                   max_retries=0)
    try:
        with pytest.raises(openai.AuthenticationError) as e1:
            await bad.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        assert e1.value.code == "401" and "Access denied" in e1.value.message
        with pytest.raises(openai.BadRequestError) as e2:
            await old.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        assert e2.value.code == "BadRequest"
        with pytest.raises(openai.NotFoundError) as e3:
            await good.chat.completions.create(model="no-such-deployment", messages=HELLO)
        assert e3.value.code == "DeploymentNotFound"
    finally:
        for c in (bad, old, good):
            await c.close()


async def test_fake_azure_requires_api_version(fake: FakeServer) -> None:
    """The deployment path without api-version is Azure's 404 'Resource not found'."""
    async with aiohttp.ClientSession() as s, s.post(
        fake.url_for("azure") + "/openai/deployments/gpt-4o/chat/completions", json={"messages": HELLO},
        headers={"api-key": fake.api_key},
    ) as r:
        assert r.status == 404
        assert await r.json() == {"error": {"code": "404", "message": "Resource not found"}}


async def test_sdk_azure_v1_path(fake: FakeServer) -> None:
    """The v1 API: plain AsyncOpenAI at {endpoint}/openai/v1 with the key as a bearer token."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("azure") + "/openai/v1", api_key=fake.api_key, max_retries=0) as c:
        r = await c.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        assert r.choices[0].message.content == "Fake reply: hello there"
        assert "gpt-4o-mini" in [m.id for m in (await c.models.list()).data]
    assert fake.requests[0].path == "/openai/v1/chat/completions" and fake.requests[0].provider == "azure"


async def test_sdk_grok_reasoning(fake: FakeServer) -> None:
    """grok-3-mini shows reasoning_content (message and deltas) and counts reasoning tokens apart."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("xai"), api_key=fake.api_key, max_retries=0) as c:
        r = await c.chat.completions.create(model="grok-3-mini", messages=HELLO)
        msg = r.choices[0].message
        assert (msg.model_extra or {})["reasoning_content"] == "Thinking about: hello there"
        assert msg.content == "Fake reply: hello there"
        u = r.usage
        assert u is not None and u.completion_tokens_details is not None
        assert u.total_tokens == u.prompt_tokens + u.completion_tokens + u.completion_tokens_details.reasoning_tokens
        stream = await c.chat.completions.create(model="grok-3-mini", messages=HELLO, stream=True)
        deltas = [ch.choices[0].delta async for ch in stream if ch.choices]
        assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == (
            "Thinking about: hello there")
        hidden = await c.chat.completions.create(model="grok-4", messages=HELLO)
        assert "reasoning_content" not in (hidden.choices[0].message.model_extra or {})
        assert hidden.usage is not None and hidden.usage.completion_tokens_details.reasoning_tokens > 0  # type: ignore[union-attr]
    assert {r.provider for r in fake.requests} == {"xai"}


async def test_sdk_grok_bad_key(fake: FakeServer) -> None:
    """xAI answers a wrong key with its flat 400 body."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("xai"), api_key="xai-wrong", max_retries=0) as c:
        with pytest.raises(openai.BadRequestError) as info:
            await c.chat.completions.create(model="grok-3", messages=HELLO)
    assert info.value.response.json() == {
        "code": "Client specified an invalid argument",
        "error": "Incorrect API key provided: xa***ng. You can obtain an API key from https://console.x.ai.",
    }


@pytest.mark.parametrize("engine", ["/engines/v1", "/engines/llama.cpp/v1"])
async def test_sdk_docker_model_runner(fake: FakeServer, engine: str) -> None:
    """DMR answers namespaced models on both engine paths with no auth, and lists its models."""
    fake.models("docker", unknown=["ai/not-pulled"])  # any ai/* id is answered unless a test declares it absent
    async with openai.AsyncOpenAI(base_url=fake.origin("docker") + engine, api_key="unused", max_retries=0) as c:
        r = await c.chat.completions.create(model="ai/smollm2:360M-Q4_K_M", messages=HELLO)
        assert r.choices[0].message.content == "Fake reply: hello there"
        stream = await c.chat.completions.create(model="ai/smollm2", messages=HELLO, stream=True)
        assert "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices]) == (
            "Fake reply: hello there")
        listed = {m.id: m for m in (await c.models.list()).data}
        assert "ai/smollm2:latest" in listed and listed["ai/smollm2:latest"].owned_by == "docker"
        one = await c.models.retrieve("ai/smollm2")  # GET …/models/ai/smollm2: the name normalised as the store does
        assert one.id == "ai/smollm2:latest" and one.model_extra and one.model_extra["dmr"]["architecture"] == "llama"
        assert (await c.models.retrieve("smollm2:360M-Q4_K_M")).id == "ai/smollm2:360M-Q4_K_M"
        with pytest.raises(openai.NotFoundError):
            await c.models.retrieve("ai/not-pulled")
        with pytest.raises(openai.NotFoundError):
            await c.chat.completions.create(model="ai/not-pulled", messages=HELLO)


# -- the interlingua Client against the fakes --------------------------------------------------


def _cfg(fake: FakeServer, **azure: object) -> LlmConfig:
    cfg = config_for(fake, retry_enabled=False)
    cfg = cfg.with_provider("openai_compatible", base_url=fake.url_for("openai"), api_key=fake.api_key)
    return cfg.with_provider("azure", **azure) if azure else cfg


@pytest.mark.parametrize("version", [None, "2024-10-21", "preview"])
async def test_client_azure(fake: FakeServer, version: str | None) -> None:
    """azure:<deployment> works on the v1 and deployment paths; filter annotations reach provider_metadata."""
    async with Client(_cfg(fake, api_version=version)) as client:
        r = (await client.chat("azure:gpt-4o-mini", "hello there")).unwrap()
        s = (await client.stream_response("azure:gpt-4o-mini", "hello there")).unwrap()
    assert r.text == "Fake reply: hello there" and r.provider == "azure"
    assert r.provider_metadata["prompt_filter_results"][0]["prompt_index"] == 0
    assert s.message == r.message and s.provider_metadata == r.provider_metadata and s.usage == r.usage
    path = fake.requests[0].path
    assert path == ("/openai/deployments/gpt-4o-mini/chat/completions" if version == "2024-10-21"
                    else "/openai/v1/chat/completions")


async def test_client_azure_entra_token(fake: FakeServer) -> None:
    """A user-supplied Entra token is sent as a bearer token instead of the key."""
    from interlingua.core import Secret

    async with Client(_cfg(fake, api_key=None, bearer_token=Secret(fake.api_key))) as client:
        assert (await client.chat("azure:gpt-4o", "hi")).unwrap().text == "Fake reply: hi"
    assert fake.requests[0].headers["Authorization"] == "[redacted]" and "api-key" not in fake.requests[0].headers


async def test_client_azure_content_filter(fake: FakeServer) -> None:
    """Both Azure filter outcomes are data: a content_filter error, or a CONTENT_FILTER finish with categories."""
    async with Client(_cfg(fake)) as client:
        err = (await client.chat("azure:gpt-4o-mini", "FILTER_PROMPT")).failure()
        done = (await client.chat("azure:gpt-4o-mini", "FILTER_ANSWER")).unwrap()
        streamed = (await client.stream_response("azure:gpt-4o-mini", "FILTER_ANSWER")).unwrap()
        missing = (await client.chat("azure:nope", "hi")).failure()
    assert err.kind is ErrorKind.CONTENT_FILTER and err.status == 400 and "violence" in err.message
    assert not err.is_retryable()
    assert done.finish_reason is FinishReason.CONTENT_FILTER
    assert done.provider_metadata["content_filter_results"]["violence"]["filtered"] is True
    assert streamed.finish_reason is FinishReason.CONTENT_FILTER
    assert streamed.provider_metadata == done.provider_metadata
    assert missing.kind is ErrorKind.NOT_FOUND and missing.code == "DeploymentNotFound"


async def test_client_xai(fake: FakeServer) -> None:
    """Grok through the Client: reasoning kept apart, usage counts it, stream equals non-stream."""
    async with Client(_cfg(fake)) as client:
        r = (await client.chat("xai:grok-3-mini", "hello there")).unwrap()
        s = (await client.stream_response("grok-3-mini", "hello there")).unwrap()
        tool = (await client.chat("xai:grok-3-mini", "call get_weather",
                                  tools=(ToolSpec(name="get_weather"),))).unwrap()
    async with Client(config_for(fake, retry_enabled=False).with_provider("xai", api_key="nope")) as client:
        bad = await client.chat("xai:grok-3", "hi")
    assert (r.reasoning, r.text) == ("Thinking about: hello there", "Fake reply: hello there")
    assert r.usage.reasoning_tokens > 0
    assert r.usage.completion_tokens == r.usage.total_tokens - r.usage.prompt_tokens
    assert s.message == r.message and s.usage == r.usage
    assert tool.tool_calls[0].name == "get_weather" and tool.reasoning
    assert isinstance(bad, Failure) and bad.failure().kind is ErrorKind.AUTHENTICATION
    assert "nope" not in str(bad.failure())


async def test_client_docker(fake: FakeServer) -> None:
    """docker:ai/smollm2 keeps its slash end to end, with or without a key; unknown models are not_found."""
    cfg = LlmConfig(retry_enabled=False).with_provider("docker", base_url=fake.url_for("docker"))
    fake.models("docker", unknown=["ai/absent"])
    async with Client(cfg) as client:
        r = (await client.chat("docker:ai/smollm2", "hello there", max_tokens=2)).unwrap()
        s = (await client.stream_response("ai/smollm2", "hello there", max_tokens=2)).unwrap()
        missing = (await client.chat("docker:ai/absent", "hi")).failure()
    assert r.text == s.text == "Fake reply" and r.finish_reason is FinishReason.LENGTH
    assert fake.requests[0].json()["model"] == "ai/smollm2" and fake.requests[0].json()["max_tokens"] == 2
    assert "authorization" not in {k.lower() for k in fake.requests[0].headers}
    assert missing.kind is ErrorKind.NOT_FOUND and "model not found" in missing.message


async def test_client_openai_compatible(fake: FakeServer) -> None:
    """Any compatible server: base URL from config, max_tokens field; without a base URL, a clear Failure."""
    async with Client(_cfg(fake)) as client:
        r = (await client.chat("openai_compatible:gpt-4o-mini", "hello there", max_tokens=50)).unwrap()
    assert r.text == "Fake reply: hello there" and r.provider == "openai_compatible"
    assert "max_tokens" in fake.requests[0].json() and "max_completion_tokens" not in fake.requests[0].json()
    async with Client(LlmConfig(retry_enabled=False)) as client:
        err = (await client.chat("openai_compatible:x", "hi")).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "base URL" in err.message


async def test_client_azure_faults(fake: FakeServer) -> None:
    """Azure-shaped 429 carries retry-after; the queue is per provider, so other fakes are untouched."""
    fake.fail_next("azure", "429;retry-after=3")
    async with Client(_cfg(fake)) as client:
        err = (await client.chat("azure:gpt-4o-mini", "hi")).failure()
        ok = (await client.chat("openai:gpt-4o-mini", "hi")).unwrap()
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after == 3.0 and err.code == "429"
    assert ok.text == "Fake reply: hi"
