"""Wire fidelity: every official SDK we have a fake for is the judge of that fake.

One table, :data:`ORACLES`, names each SDK (openai for OpenAI / Azure / xAI / Docker Model Runner,
anthropic, google-genai, ollama, boto3 bedrock-runtime) with small adapters that do the same five
things through the SDK's own public API: a chat, a stream, a forced tool call, a model listing, and
the SDK's own exception for a 429 and a 401. Every test below runs against every row, so a fake that
drifts from its provider's wire format fails here in the SDK's words. SDK retries are off (one
attempt each) so faults surface at once. The SDKs are dev-only; nothing in interlingua imports them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import boto3
import ollama
import openai
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from interlingua.fakes import FakeServer
from interlingua.fakes.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY

CITY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PROMPT = "hello there"
EXPECTED = f"Fake reply: {PROMPT}"


@dataclass(frozen=True)
class Oracle:
    """One official SDK pointed at one fake. Every operation is the SDK's public API, nothing else."""

    name: str
    provider: str  # the fake that answers (for fail_next)
    model: str
    make: Callable[[FakeServer, str], Any]  # (fake, api_key) -> SDK client
    chat: Callable[[Any, str], Awaitable[str]]
    stream: Callable[[Any, str], Awaitable[str]]
    tool: Callable[[Any, str], Awaitable[tuple[str, dict[str, Any]]]]
    models: Callable[[Any], Awaitable[list[str]]] | None
    rate_limited: Callable[[BaseException], bool]  # is this the SDK's own rate-limit error?
    unauthorized: Callable[[BaseException], bool]  # is this the SDK's own authentication error?
    close: Callable[[Any], Awaitable[None]] = lambda c: asyncio.sleep(0)
    auth_fault: str = "401"  # the status the provider uses for a rejected credential


# -- openai (OpenAI, Azure, xAI, Docker Model Runner) --------------------------------------------------

_OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": CITY_SCHEMA}}


async def _openai_chat(c: openai.AsyncOpenAI, model: str) -> str:
    r = await c.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
    return r.choices[0].message.content or ""


async def _openai_stream(c: openai.AsyncOpenAI, model: str) -> str:
    out = []
    async for chunk in await c.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}],
                                                       stream=True, stream_options={"include_usage": True}):
        out += [ch.delta.content or "" for ch in chunk.choices]
    return "".join(out)


async def _openai_tool(c: openai.AsyncOpenAI, model: str) -> tuple[str, dict[str, Any]]:
    r = await c.chat.completions.create(model=model, messages=[{"role": "user", "content": "weather?"}],
                                        tools=[_OPENAI_TOOL], tool_choice="required")  # type: ignore[list-item]
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    return call.function.name, json.loads(call.function.arguments)  # type: ignore[union-attr]


async def _openai_models(c: openai.AsyncOpenAI) -> list[str]:
    ids = [m.id async for m in c.models.list()]
    await c.models.retrieve(ids[0])  # GET …/models/{id}
    return ids


async def _dmr_models(c: openai.AsyncOpenAI) -> list[str]:
    # Docker Model Runner lists each model under its normalised tag (ai/smollm2:latest) and looks one up by
    # the rest of the path, unescaped; the short names its docs use are those tags without ":latest".
    ids = await _openai_models(c)
    return [i.removesuffix(":latest") for i in ids]


def _openai_oracle(name: str, provider: str, model: str, make: Callable[[FakeServer, str], Any],
                   models: Callable[[Any], Awaitable[list[str]]] | None = _openai_models) -> Oracle:
    return Oracle(
        name=name, provider=provider, model=model, make=make,
        chat=_openai_chat, stream=_openai_stream, tool=_openai_tool, models=models,
        rate_limited=lambda e: isinstance(e, openai.RateLimitError),
        unauthorized=lambda e: isinstance(e, openai.AuthenticationError),
        close=lambda c: c.close(),
    )


def _azure(fake: FakeServer, key: str) -> openai.AsyncAzureOpenAI:
    # A dated api-version: the deployment-scoped path /openai/deployments/{name}/chat/completions.
    return openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=key, api_version="2024-10-21",
                                   max_retries=0)


# -- anthropic ---------------------------------------------------------------------------------------


async def _anthropic_chat(c: anthropic.AsyncAnthropic, model: str) -> str:
    m = await c.messages.create(model=model, max_tokens=100, messages=[{"role": "user", "content": PROMPT}])
    return "".join(b.text for b in m.content if b.type == "text")


async def _anthropic_stream(c: anthropic.AsyncAnthropic, model: str) -> str:
    async with c.messages.stream(model=model, max_tokens=100, messages=[{"role": "user", "content": PROMPT}]) as s:
        return await s.get_final_text()


async def _anthropic_tool(c: anthropic.AsyncAnthropic, model: str) -> tuple[str, dict[str, Any]]:
    m = await c.messages.create(model=model, max_tokens=100, messages=[{"role": "user", "content": "weather?"}],
                                tools=[{"name": "get_weather", "description": "Weather", "input_schema": CITY_SCHEMA}],
                                tool_choice={"type": "any"})
    block = next(b for b in m.content if b.type == "tool_use")
    return block.name, dict(block.input)  # type: ignore[arg-type]


async def _anthropic_models(c: anthropic.AsyncAnthropic) -> list[str]:
    ids = [m.id async for m in c.models.list()]
    await c.models.retrieve(ids[0])
    return ids


# -- google-genai --------------------------------------------------------------------------------------


def _genai(fake: FakeServer, key: str) -> genai.Client:
    # v1beta: tools, system instructions and response schemas exist only there (the v1 request type has
    # none of them, and the fake refuses them on v1 as Google does); google-genai 3.x defaults to v1.
    return genai.Client(api_key=key, http_options=genai_types.HttpOptions(
        base_url=fake.url_for("gemini"), api_version="v1beta", retry_options=genai_types.HttpRetryOptions(attempts=1)))


async def _genai_chat(c: genai.Client, model: str) -> str:
    return (await c.aio.models.generate_content(model=model, contents=PROMPT)).text or ""


async def _genai_stream(c: genai.Client, model: str) -> str:
    return "".join([ch.text or "" async for ch in await c.aio.models.generate_content_stream(model=model, contents=PROMPT)])


async def _genai_tool(c: genai.Client, model: str) -> tuple[str, dict[str, Any]]:
    decl = genai_types.FunctionDeclaration(name="get_weather", description="Weather", parameters_json_schema=CITY_SCHEMA)
    cfg = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=[decl])],
        tool_config=genai_types.ToolConfig(function_calling_config=genai_types.FunctionCallingConfig(mode="ANY")),
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True))
    r = await c.aio.models.generate_content(model=model, contents="weather?", config=cfg)
    call = (r.function_calls or [])[0]
    return call.name or "", dict(call.args or {})


async def _genai_models(c: genai.Client) -> list[str]:
    names = [m.name or "" async for m in await c.aio.models.list()]
    await c.aio.models.get(model=names[0].removeprefix("models/"))
    return [n.removeprefix("models/") for n in names]


def _genai_status(code: int) -> Callable[[BaseException], bool]:
    # google-genai has no per-status classes: ClientError with the HTTP code and Google's status name.
    return lambda e: isinstance(e, genai_errors.ClientError) and e.code == code


# -- ollama ------------------------------------------------------------------------------------------


async def _ollama_chat(c: ollama.AsyncClient, model: str) -> str:
    return (await c.chat(model=model, messages=[{"role": "user", "content": PROMPT}])).message.content or ""


async def _ollama_stream(c: ollama.AsyncClient, model: str) -> str:
    parts = [p.message.content or "" async for p in await c.chat(
        model=model, messages=[{"role": "user", "content": PROMPT}], stream=True)]
    return "".join(parts)


async def _ollama_tool(c: ollama.AsyncClient, model: str) -> tuple[str, dict[str, Any]]:
    # Ollama has no tool_choice; the fake calls a tool the prompt names.
    r = await c.chat(model=model, messages=[{"role": "user", "content": "call get_weather please"}],
                     tools=[_OPENAI_TOOL])
    call = (r.message.tool_calls or [])[0]
    return call.function.name, dict(call.function.arguments)


async def _ollama_models(c: ollama.AsyncClient) -> list[str]:
    names = [m.model or "" for m in (await c.list()).models]
    await c.show(names[0])
    return names


def _ollama_status(code: int) -> Callable[[BaseException], bool]:
    # The ollama SDK raises ResponseError for every HTTP error, carrying the status code.
    return lambda e: isinstance(e, ollama.ResponseError) and e.status_code == code


# -- boto3 bedrock-runtime (synchronous: run in a thread so the fake's loop keeps serving) -------------


def _bedrock(fake: FakeServer, key: str) -> Any:
    secret = SECRET_ACCESS_KEY if key == fake.api_key else "wrong-secret"
    return boto3.client("bedrock-runtime", endpoint_url=fake.url_for("bedrock"), region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


_USER = [{"role": "user", "content": [{"text": PROMPT}]}]


async def _bedrock_chat(c: Any, model: str) -> str:
    r = await asyncio.to_thread(lambda: c.converse(modelId=model, messages=_USER))
    return "".join(b.get("text", "") for b in r["output"]["message"]["content"])


async def _bedrock_stream(c: Any, model: str) -> str:
    events = await asyncio.to_thread(lambda: list(c.converse_stream(modelId=model, messages=_USER)["stream"]))
    return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)


async def _bedrock_tool(c: Any, model: str) -> tuple[str, dict[str, Any]]:
    tool = {"toolSpec": {"name": "get_weather", "description": "Weather", "inputSchema": {"json": CITY_SCHEMA}}}
    r = await asyncio.to_thread(lambda: c.converse(
        modelId=model, messages=[{"role": "user", "content": [{"text": "weather?"}]}],
        toolConfig={"tools": [tool], "toolChoice": {"any": {}}}))
    use = next(b["toolUse"] for b in r["output"]["message"]["content"] if "toolUse" in b)
    return use["name"], use["input"]


def _aws_code(*codes: str) -> Callable[[BaseException], bool]:
    # botocore raises ClientError; the error code comes from the response (x-amzn-ErrorType / __type).
    return lambda e: isinstance(e, ClientError) and e.response["Error"]["Code"] in codes


# -- the table -----------------------------------------------------------------------------------------

ORACLES: tuple[Oracle, ...] = (
    _openai_oracle("openai", "openai", "gpt-4o-mini",
                   lambda f, k: openai.AsyncOpenAI(base_url=f.url_for("openai"), api_key=k, max_retries=0)),
    _openai_oracle("azure", "azure", "gpt-4o-mini", _azure, models=None),
    _openai_oracle("xai", "xai", "grok-4",
                   lambda f, k: openai.AsyncOpenAI(base_url=f.url_for("xai"), api_key=k, max_retries=0)),
    _openai_oracle("docker", "docker", "ai/smollm2",
                   lambda f, k: openai.AsyncOpenAI(base_url=f.url_for("docker"), api_key=k, max_retries=0),
                   models=_dmr_models),
    Oracle(
        name="anthropic", provider="anthropic", model="claude-haiku-4-5",
        make=lambda f, k: anthropic.AsyncAnthropic(base_url=f.url_for("anthropic"), api_key=k, max_retries=0),
        chat=_anthropic_chat, stream=_anthropic_stream, tool=_anthropic_tool, models=_anthropic_models,
        rate_limited=lambda e: isinstance(e, anthropic.RateLimitError),
        unauthorized=lambda e: isinstance(e, anthropic.AuthenticationError),
        close=lambda c: c.close(),
    ),
    Oracle(
        name="gemini", provider="gemini", model="gemini-2.5-flash", make=_genai,
        chat=_genai_chat, stream=_genai_stream, tool=_genai_tool, models=_genai_models,
        rate_limited=_genai_status(429), unauthorized=_genai_status(401),
        close=lambda c: c.aio.aclose(),
    ),
    Oracle(
        name="ollama", provider="ollama", model="llama3.2:latest",
        make=lambda f, k: ollama.AsyncClient(host=f.url_for("ollama")),
        chat=_ollama_chat, stream=_ollama_stream, tool=_ollama_tool, models=_ollama_models,
        rate_limited=_ollama_status(429), unauthorized=_ollama_status(401),
        close=lambda c: c._client.aclose(),
    ),
    Oracle(
        name="bedrock", provider="bedrock", model="anthropic.claude-3-5-sonnet-20240620-v1:0", make=_bedrock,
        chat=_bedrock_chat, stream=_bedrock_stream, tool=_bedrock_tool, models=None,  # listing is the `bedrock` control plane
        rate_limited=_aws_code("ThrottlingException"),
        # AWS answers a rejected credential with 403 (AccessDeniedException, or InvalidSignatureException
        # when SigV4 does not verify), never 401.
        unauthorized=_aws_code("AccessDeniedException", "InvalidSignatureException", "UnrecognizedClientException"),
        close=lambda c: asyncio.to_thread(c.close), auth_fault="403",
    ),
)

by_name = pytest.mark.parametrize("oracle", ORACLES, ids=[o.name for o in ORACLES])


@pytest.fixture
async def sdk(fake: FakeServer, oracle: Oracle) -> AsyncIterator[Any]:
    """The row's SDK client pointed at the shared fake server, closed afterwards."""
    c = oracle.make(fake, fake.api_key)
    yield c
    await oracle.close(c)


@by_name
async def test_chat(oracle: Oracle, sdk: Any, fake: FakeServer) -> None:
    """The SDK parses the fake's non-streamed answer into the expected text."""
    assert await oracle.chat(sdk, oracle.model) == EXPECTED
    assert fake.requests[-1].provider == oracle.provider


@by_name
async def test_stream(oracle: Oracle, sdk: Any) -> None:
    """The SDK's own stream parser reassembles exactly the text the non-streamed call returns."""
    assert await oracle.stream(sdk, oracle.model) == EXPECTED


@by_name
async def test_tool_call(oracle: Oracle, sdk: Any) -> None:
    """A forced tool call parses as the SDK's tool-call type with arguments matching the schema."""
    assert await oracle.tool(sdk, oracle.model) == ("get_weather", {"city": "sample"})


@pytest.mark.parametrize("oracle", [o for o in ORACLES if o.models], ids=[o.name for o in ORACLES if o.models])
async def test_model_listing(oracle: Oracle, sdk: Any, fake: FakeServer) -> None:
    """Each SDK lists (and looks up) models on its provider's own origin and gets that provider's models only."""
    assert oracle.models is not None
    ids = await oracle.models(sdk)
    assert oracle.model in ids
    assert {r.provider for r in fake.requests} == {oracle.provider}


@by_name
async def test_rate_limit_error(oracle: Oracle, sdk: Any, fake: FakeServer) -> None:
    """A 429 from the fake raises the SDK's own rate-limit error, after exactly one attempt."""
    fake.fail_next(oracle.provider, "429")
    with pytest.raises(Exception) as info:  # the oracle's predicate names the exact type
        await oracle.chat(sdk, oracle.model)
    assert oracle.rate_limited(info.value), repr(info.value)
    assert fake.attempts(oracle.provider) == 1


@by_name
async def test_auth_error(oracle: Oracle, sdk: Any, fake: FakeServer) -> None:
    """A 401 (AWS: 403) from the fake raises the SDK's own authentication error."""
    fake.fail_next(oracle.provider, oracle.auth_fault)
    with pytest.raises(Exception) as info:
        await oracle.chat(sdk, oracle.model)
    assert oracle.unauthorized(info.value), repr(info.value)


@pytest.mark.parametrize("oracle", [o for o in ORACLES if o.name in ("openai", "azure", "anthropic", "bedrock")],
                         ids=["openai", "azure", "anthropic", "bedrock"])
async def test_wrong_key_is_an_auth_error(oracle: Oracle, fake: FakeServer) -> None:
    """Where the provider rejects a bad credential with an auth status, the fake does too."""
    c = oracle.make(fake, "wrong-key")
    try:
        with pytest.raises(Exception) as info:
            await oracle.chat(c, oracle.model)
    finally:
        await oracle.close(c)
    assert oracle.unauthorized(info.value), repr(info.value)
