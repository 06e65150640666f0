"""Third-party clients against the fakes, unmodified: LiteLLM, LangChain's provider packages and pydantic-ai,
for every provider they speak over HTTP (the `fidelity` extra; CI runs this module in its own step).

For each: chat, stream, a tool call, a 429 raising the client's own rate-limit type, and streamed usage
equal to non-streamed usage. The fakes run on a background thread: some clients block their event loop
while streaming, which would starve a server on the same loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the cost map

litellm = pytest.importorskip("litellm")
lc_openai = pytest.importorskip("langchain_openai")
lc_anthropic = pytest.importorskip("langchain_anthropic")
lc_ollama = pytest.importorskip("langchain_ollama")
pai = pytest.importorskip("pydantic_ai")

import anthropic  # noqa: E402
import boto3  # noqa: E402
import botocore.config  # noqa: E402
import httpx  # noqa: E402
import ollama  # noqa: E402
import openai  # noqa: E402
import pydantic  # noqa: E402
from google import genai  # noqa: E402
from pydantic_ai.exceptions import ModelHTTPError  # noqa: E402
from pydantic_ai.models import openai as pai_openai  # noqa: E402
from pydantic_ai.models.anthropic import AnthropicModel  # noqa: E402
from pydantic_ai.models.bedrock import BedrockConverseModel  # noqa: E402
from pydantic_ai.models.google import GoogleModel  # noqa: E402
from pydantic_ai.providers.anthropic import AnthropicProvider  # noqa: E402
from pydantic_ai.providers.azure import AzureProvider  # noqa: E402
from pydantic_ai.providers.bedrock import BedrockProvider  # noqa: E402
from pydantic_ai.providers.google import GoogleProvider  # noqa: E402
from pydantic_ai.providers.ollama import OllamaProvider  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402

from interlingua.fakes import FakeServer, serve_in_thread  # noqa: E402
from interlingua.fakes.bedrock import ACCESS_KEY_ID, SECRET_ACCESS_KEY  # noqa: E402

pytestmark = pytest.mark.fidelity
EXPECTED = "Fake reply: hello there"
HELLO = [{"role": "user", "content": "hello there"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    """The fakes on their own thread and loop for the module."""
    with serve_in_thread() as server:
        yield server


@pytest.fixture(autouse=True)
async def _close_litellm_clients() -> AsyncIterator[None]:
    """LiteLLM caches its HTTP clients across calls; each test has its own event loop, so close them at
    its end (LiteLLM's own clean-up) rather than leave their sockets for the garbage collector."""
    yield
    await litellm.close_litellm_async_clients()
    litellm.in_memory_llm_clients_cache.flush_cache()


# -- LiteLLM -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiteRow:
    name: str
    provider: str
    kwargs: Callable[[FakeServer], dict[str, Any]]


LITELLM = [
    LiteRow("openai", "openai", lambda f: {"model": "openai/gpt-4o-mini", "api_base": f.url_for("openai"),
                                           "api_key": f.api_key}),
    LiteRow("azure", "azure", lambda f: {"model": "azure/gpt-4o-mini", "api_base": f.url_for("azure"),
                                         "api_key": f.api_key, "api_version": "2024-10-21"}),
    LiteRow("xai", "xai", lambda f: {"model": "xai/grok-3", "api_base": f.url_for("xai"), "api_key": f.api_key}),
    LiteRow("anthropic", "anthropic", lambda f: {"model": "anthropic/claude-haiku-4-5",
                                                 "api_base": f.url_for("anthropic"), "api_key": f.api_key}),
    # LiteLLM appends /models/{model}:generateContent to the base: the API version is part of it.
    LiteRow("gemini", "gemini", lambda f: {"model": "gemini/gemini-2.5-flash",
                                           "api_base": f.origin("gemini") + "/v1beta", "api_key": f.api_key}),
    # LiteLLM's docker_model_runner provider. Its docs give the base as ".../engines/llama.cpp", but this
    # LiteLLM posts to {api_base}/chat/completions, which DMR's router does not serve (only .../v1/...:
    # docker/model-runner pkg/inference/scheduling/http_handler.go), so the base names the /v1 path.
    LiteRow("docker", "docker", lambda f: {"model": "docker_model_runner/ai/smollm2",
                                           "api_base": f.origin("docker") + "/engines/llama.cpp/v1"}),
    LiteRow("ollama_chat", "ollama", lambda f: {"model": "ollama_chat/llama3.2", "api_base": f.url_for("ollama")}),
    LiteRow("bedrock", "bedrock", lambda f: {
        "model": "bedrock/converse/anthropic.claude-3-5-haiku-20241022-v1:0",
        "aws_bedrock_runtime_endpoint": f.url_for("bedrock"), "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY, "aws_region_name": "us-east-1"}),
    # InvokeModel: Anthropic's Messages body in, base64 chunks of Anthropic's events out
    LiteRow("bedrock_invoke", "bedrock", lambda f: {
        "model": "bedrock/invoke/anthropic.claude-3-5-haiku-20241022-v1:0",
        "aws_bedrock_runtime_endpoint": f.url_for("bedrock"), "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY, "aws_region_name": "us-east-1"}),
]
by_lite = pytest.mark.parametrize("row", LITELLM, ids=[r.name for r in LITELLM])


async def _lite(row: LiteRow, fake: FakeServer, **more: Any) -> Any:
    return await litellm.acompletion(messages=HELLO, num_retries=0, **row.kwargs(fake), **more)


async def _lite_stream(row: LiteRow, fake: FakeServer) -> tuple[str, Any]:
    stream = await _lite(row, fake, stream=True, stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    return text, usage[-1] if usage else None


@by_lite
async def test_litellm_chat_and_stream(row: LiteRow, fake: FakeServer) -> None:
    """LiteLLM's parser and stream wrapper give the same text, and the streamed usage equals the chat's."""
    r = await _lite(row, fake)
    text, usage = await _lite_stream(row, fake)
    assert r.choices[0].message.content == text == EXPECTED
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens)


@by_lite
async def test_litellm_tool_call(row: LiteRow, fake: FakeServer) -> None:
    """A demanded tool call parses as LiteLLM's tool call with arguments that fill the schema."""
    r = await litellm.acompletion(messages=[{"role": "user", "content": "call get_weather"}], num_retries=0,
                                  tools=[TOOL], **row.kwargs(fake))
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments.replace(" ", "") == '{"city":"sample"}'


@by_lite
async def test_litellm_rate_limit(row: LiteRow, fake: FakeServer) -> None:
    """A 429 on the chat endpoint raises litellm.RateLimitError."""
    fake.fail_next(row.provider, "429", endpoint="chat")
    with pytest.raises(litellm.RateLimitError):
        await _lite(row, fake)


# -- LangChain -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainRow:
    name: str
    provider: str
    make: Callable[[FakeServer], Any]
    rate_limited: Callable[[BaseException], bool]
    streams_input_tokens: bool = True
    """False where the service's stream reports input tokens only in ``message_start``, which LangChain's
    ChatAnthropic does not count (llama.cpp's ``message_delta`` carries ``output_tokens`` alone)."""


def _openai_429(e: BaseException) -> bool:
    return isinstance(e, openai.RateLimitError)


CHAINS = [
    ChainRow("openai", "openai", lambda f: lc_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=f.url_for("openai"), api_key=f.api_key, max_retries=0, stream_usage=True),
        _openai_429),
    ChainRow("azure", "azure", lambda f: lc_openai.AzureChatOpenAI(
        azure_deployment="gpt-4o-mini", azure_endpoint=f.url_for("azure"), api_key=f.api_key,
        api_version="2024-10-21", max_retries=0, stream_usage=True), _openai_429),
    ChainRow("xai", "xai", lambda f: lc_openai.ChatOpenAI(
        model="grok-3", base_url=f.url_for("xai"), api_key=f.api_key, max_retries=0, stream_usage=True), _openai_429),
    ChainRow("anthropic", "anthropic", lambda f: lc_anthropic.ChatAnthropic(
        model="claude-haiku-4-5", base_url=f.url_for("anthropic"), api_key=f.api_key, max_retries=0,
        max_tokens=200), lambda e: isinstance(e, anthropic.RateLimitError)),
    # Docker Model Runner: its OpenAI-compatible API takes no key (any bearer is accepted)
    ChainRow("docker", "docker", lambda f: lc_openai.ChatOpenAI(
        model="ai/smollm2", base_url=f.url_for("docker"), api_key="unused", max_retries=0, stream_usage=True),
        _openai_429),
    # DMR's Anthropic path: ChatAnthropic with the bare origin (DMR's docs), so /v1/messages through the
    # scheduler's /v1 alias to llama.cpp's Anthropic Messages; no key needed (the SDK insists on one)
    ChainRow("docker_anthropic", "docker", lambda f: lc_anthropic.ChatAnthropic(
        model="ai/smollm2", base_url=f.origin("docker"), api_key="unused", max_retries=0, max_tokens=200),
        lambda e: isinstance(e, anthropic.RateLimitError), streams_input_tokens=False),
    ChainRow("ollama", "ollama", lambda f: lc_ollama.ChatOllama(model="llama3.2", base_url=f.url_for("ollama")),
             lambda e: isinstance(e, ollama.ResponseError) and e.status_code == 429),
    # Ollama's Anthropic-compatible /v1/messages: ChatAnthropic with the bare Ollama origin as its base URL
    ChainRow("ollama_anthropic", "ollama", lambda f: lc_anthropic.ChatAnthropic(
        model="llama3.2", base_url=f.origin("ollama"), api_key="ollama", max_retries=0, max_tokens=200),
        lambda e: isinstance(e, anthropic.RateLimitError)),
]
by_chain = pytest.mark.parametrize("row", CHAINS, ids=[r.name for r in CHAINS])


@by_chain
async def test_langchain(row: ChainRow, fake: FakeServer) -> None:
    """ainvoke and astream give the same text and usage_metadata; bind_tools gets LangChain's tool_calls;
    a 429 raises the provider SDK's own rate-limit error. (One test per client: the provider packages
    cache their HTTP clients per process, bound to the event loop of the test that made them.)"""
    model = row.make(fake)
    whole = await model.ainvoke("hello there")
    chunks = [c async for c in model.astream("hello there")]
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert whole.content == merged.content == EXPECTED
    assert whole.usage_metadata is not None and merged.usage_metadata is not None
    keys = ("input_tokens", "output_tokens", "total_tokens")
    if not row.streams_input_tokens:
        assert merged.usage_metadata["input_tokens"] == 0
        keys = ("output_tokens",)
    assert [merged.usage_metadata[k] for k in keys] == [whole.usage_metadata[k] for k in keys]
    assert whole.usage_metadata["input_tokens"] > 0

    msg = await model.bind_tools([TOOL]).ainvoke("call get_weather")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [("get_weather", {"city": "sample"})]

    fake.fail_next(row.provider, "429", endpoint="chat")
    with pytest.raises(Exception) as info:
        await model.ainvoke("hello there")
    assert row.rate_limited(info.value), repr(info.value)


# -- pydantic-ai -------------------------------------------------------------------------------------------
# Its models over each provider's own SDK, built with retries off (so that one injected 429 is seen).


class City(pydantic.BaseModel):
    city: str


def _openai_sdk(f: FakeServer, provider: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f.url_for(provider), api_key=f.api_key or "unused", max_retries=0)


def _bedrock_client(f: FakeServer) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=f.url_for("bedrock"), region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
                        config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}))


# name: (the fake's provider and endpoint the agent's requests reach, how to build the model)
PYDANTIC_AI: dict[str, tuple[tuple[str, str], Callable[[FakeServer], Any]]] = {
    "openai": (("openai", "chat"), lambda f: pai_openai.OpenAIChatModel(
        "gpt-4o-mini", provider=OpenAIProvider(openai_client=_openai_sdk(f, "openai")))),
    "openai_responses": (("openai", "responses"), lambda f: pai_openai.OpenAIResponsesModel(
        "gpt-4o-mini", provider=OpenAIProvider(openai_client=_openai_sdk(f, "openai")))),
    "azure": (("azure", "chat"), lambda f: pai_openai.OpenAIChatModel("gpt-4o-mini", provider=AzureProvider(
        openai_client=openai.AsyncAzureOpenAI(azure_endpoint=f.url_for("azure"), api_key=f.api_key,
                                              api_version="2024-10-21", max_retries=0)))),
    "xai": (("xai", "chat"), lambda f: pai_openai.OpenAIChatModel("grok-3", provider=OpenAIProvider(
        openai_client=_openai_sdk(f, "xai")))),
    "docker": (("docker", "chat"), lambda f: pai_openai.OpenAIChatModel("ai/smollm2", provider=OpenAIProvider(
        openai_client=_openai_sdk(f, "docker")))),
    "anthropic": (("anthropic", "chat"), lambda f: AnthropicModel("claude-haiku-4-5", provider=AnthropicProvider(
        anthropic_client=anthropic.AsyncAnthropic(base_url=f.url_for("anthropic"), api_key=f.api_key,
                                                  max_retries=0)))),
    # google-genai 3 addresses v1 by default, where pydantic-ai's responseModalities is not a field (a 400,
    # from Google and from the fake alike); pydantic-ai itself pins google-genai < 3, whose default is v1beta.
    "gemini": (("gemini", "chat"), lambda f: GoogleModel("gemini-2.5-flash", provider=GoogleProvider(client=genai.Client(
        api_key=f.api_key, http_options={"base_url": f.origin("gemini"), "api_version": "v1beta"})))),
    "ollama": (("ollama", "chat"), lambda f: pai_openai.OpenAIChatModel("llama3.2", provider=OllamaProvider(
        openai_client=openai.AsyncOpenAI(base_url=f.url_for("ollama") + "/v1", api_key="ollama", max_retries=0)))),
    # Ollama's Anthropic-compatible /v1/messages (the bare origin as base URL)
    "ollama_anthropic": (("ollama", "chat"), lambda f: AnthropicModel("llama3.2", provider=AnthropicProvider(
        anthropic_client=anthropic.AsyncAnthropic(base_url=f.origin("ollama"), api_key="ollama", max_retries=0)))),
    "bedrock": (("bedrock", "chat"), lambda f: BedrockConverseModel("anthropic.claude-3-5-haiku-20241022-v1:0",
                                                          provider=BedrockProvider(bedrock_client=_bedrock_client(f)))),
}
# Ollama reads no tool_choice (neither /v1/chat/completions' ChatCompletionRequest in openai/openai.go nor
# anthropic.FromMessagesRequest for /v1/messages), so pydantic-ai's forced final_result tool, its structured
# output there, is the model's choice: not checked on those rows (a NativeOutput, i.e. a JSON-schema
# format, which Ollama does enforce, is checked on the Responses row).
NO_FORCED_TOOL = {"ollama", "ollama_anthropic"}


@pytest.mark.parametrize("name", list(PYDANTIC_AI))
async def test_pydantic_ai(name: str, fake: FakeServer) -> None:
    """An agent's run and run_stream give the same text and usage; a tool the model calls runs and its
    result goes back for the final answer; a structured output arrives as a validated model; a 429 is
    pydantic-ai's ModelHTTPError with that status."""
    (provider, endpoint), make = PYDANTIC_AI[name]
    model = make(fake)
    try:
        await _pydantic_ai_checks(model, provider, endpoint, fake, structured=name not in NO_FORCED_TOOL)
    finally:
        await _close_sdk_client(model.client)


async def _close_sdk_client(client: Any) -> None:
    if isinstance(client, genai.Client):
        await client.aio.aclose()
    elif isinstance(client, openai.AsyncOpenAI | anthropic.AsyncAnthropic):
        await client.close()
    else:
        client.close()  # boto3's


async def _pydantic_ai_checks(model: Any, provider: str, endpoint: str, fake: FakeServer, *, structured: bool = True) -> None:
    await _pai_run_and_stream_agree(model)
    await _pai_tool_round_trip(model)
    if structured:
        city = await pai.Agent(model, output_type=City).run("Name a city like Paris")
        assert city.output == City(city="Paris")
    await _pai_429(model, provider, endpoint, fake)


async def _pai_run_and_stream_agree(model: Any) -> Any:
    """An agent's run and run_stream give the same text and usage; returns the run's result."""
    agent = pai.Agent(model)
    whole = await agent.run("hello there")
    async with agent.run_stream("hello there") as streamed:
        text = await streamed.get_output()
    assert whole.output == text == EXPECTED
    usage, streamed_usage = whole.usage, streamed.usage
    assert (usage.input_tokens, usage.output_tokens) == (streamed_usage.input_tokens, streamed_usage.output_tokens)
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    return whole


async def _pai_tool_round_trip(model: Any) -> Any:
    """A tool the model calls runs, and its result goes back for the final answer; returns the run's result."""
    tools = pai.Agent(model)
    asked: list[str] = []

    @tools.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        asked.append(city)
        return f"sunny in {city}"

    answer = await tools.run("Weather in Paris? call get_weather")
    assert asked == ["Paris"]
    assert answer.output.startswith("Fake reply: tool get_weather returned ") and "sunny in Paris" in answer.output
    return answer


async def _pai_429(model: Any, provider: str, endpoint: str, fake: FakeServer) -> None:
    fake.fail_next(provider, "429", endpoint=endpoint)
    with pytest.raises(ModelHTTPError) as info:
        await pai.Agent(model).run("hello there")
    assert info.value.status_code == 429


async def test_pydantic_ai_responses_on_ollama(fake: FakeServer) -> None:
    """pydantic-ai's OpenAIResponsesModel at Ollama's /v1/responses: run and run_stream give the same text and
    usage; a tool the model calls runs and its function_call_output goes back for the final answer; a
    NativeOutput (text.format json_schema, which Ollama constrains the answer to) validates; a 429 is a
    ModelHTTPError. (Ollama reads no tool_choice, so pydantic-ai's tool-mode output is not exercised.)"""
    client = openai.AsyncOpenAI(base_url=fake.url_for("ollama") + "/v1", api_key="ollama", max_retries=0)
    model = pai_openai.OpenAIResponsesModel("llama3.2", provider=OllamaProvider(openai_client=client))
    try:
        whole = await _pai_run_and_stream_agree(model)
        assert whole.usage.output_tokens == 5  # "Fake reply: hello there"

        answer = await _pai_tool_round_trip(model)
        assert answer.output == "Fake reply: tool get_weather returned sunny in Paris"
        sent = [r.json() for r in fake.requests_for("ollama") if r.endpoint == "responses"][-1]
        assert [i.get("type") for i in sent["input"]][-2:] == ["function_call", "function_call_output"]

        structured = await pai.Agent(model, output_type=pai.NativeOutput(City)).run("Name a city")
        assert structured.output == City(city="sample")

        await _pai_429(model, "ollama", "responses", fake)
    finally:
        await client.close()


async def test_langchain_responses_api_on_ollama(fake: FakeServer) -> None:
    """LangChain's ChatOpenAI with use_responses_api at Ollama's /v1/responses: ainvoke and astream agree on
    text and usage; bind_tools gets the call."""
    model = lc_openai.ChatOpenAI(model="llama3.2", base_url=fake.url_for("ollama") + "/v1", api_key="ollama",
                                 max_retries=0, use_responses_api=True)
    whole = await model.ainvoke("hello there")
    chunks = [c async for c in model.astream("hello there")]
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert whole.text == merged.text == EXPECTED
    assert whole.usage_metadata is not None and merged.usage_metadata is not None
    keys = ("input_tokens", "output_tokens", "total_tokens")
    assert [merged.usage_metadata[k] for k in keys] == [whole.usage_metadata[k] for k in keys]
    msg = await model.bind_tools([TOOL]).ainvoke("call get_weather")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [("get_weather", {"city": "sample"})]
    assert fake.requests_for("ollama")[-1].path == "/v1/responses"


async def test_litellm_pages_through_batch_listing(fake: FakeServer) -> None:
    """LiteLLM's ``alist_batches`` (over the OpenAI SDK) reads the fake's batch list a page at a time:
    ``limit`` bounds a page, ``has_more``/``last_id`` say where the next one starts, ``after`` goes there,
    and the pages together are every job, newest first."""
    from interlingua.effects import Client, LlmConfig

    cfg = LlmConfig().with_provider("openai", base_url=fake.url_for("openai"), api_key=fake.api_key)
    async with Client(cfg) as client:
        made = [(await client.submit_batch("openai:gpt-4o-mini", {"a": f"job {i}"})).unwrap().id for i in range(3)]
    where = {"custom_llm_provider": "openai", "api_base": fake.url_for("openai"), "api_key": fake.api_key}
    first = await litellm.alist_batches(limit=2, **where)
    assert [b.id for b in first.data] == made[:0:-1] and first.has_more and first.last_id == made[1]
    rest = await litellm.alist_batches(limit=2, after=first.last_id, **where)
    assert [b.id for b in rest.data] == made[:1] and not rest.has_more


# -- embeddings (tests/test_fake_embeddings.py covers the endpoints themselves) ------------------------


def _as_f32(vectors: list[list[float]]) -> list[bytes]:
    import struct

    return [struct.pack(f"<{len(v)}f", *v) for v in vectors]


async def _sdk_vectors(fake: FakeServer, texts: list[str]) -> list[list[float]]:
    async with openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0) as sdk:
        got = await sdk.embeddings.create(model="text-embedding-3-small", input=texts)
    return [d.embedding for d in got.data]


async def test_litellm_aembedding_agrees_with_the_sdk(fake: FakeServer) -> None:
    """litellm.aembedding against the OpenAI fake: the openai SDK's vectors, in order, and its usage."""
    texts = ["the first text", "a second one"]
    got = await litellm.aembedding(model="text-embedding-3-small", input=texts, api_base=fake.url_for("openai"),
                                   api_key=fake.api_key)
    vectors = [d["embedding"] for d in got.data]
    assert [len(v) for v in vectors] == [1536, 1536]
    assert _as_f32(vectors) == _as_f32(await _sdk_vectors(fake, texts))
    from interlingua.fakes._content import count_tokens

    assert got.usage.prompt_tokens == sum(count_tokens(t) for t in texts)


async def test_langchain_openai_embeddings_agree_with_the_sdk(fake: FakeServer) -> None:
    """LangChain's OpenAIEmbeddings (aembed_documents, aembed_query) gets the SDK's vectors."""
    emb = lc_openai.OpenAIEmbeddings(model="text-embedding-3-small", base_url=fake.url_for("openai"),
                                     api_key=fake.api_key, check_embedding_ctx_length=False, max_retries=0)
    docs = ["a document", "another document"]
    got = await emb.aembed_documents(docs)
    query = await emb.aembed_query("a question")
    assert _as_f32(got) == _as_f32(await _sdk_vectors(fake, docs))
    assert _as_f32([query]) == _as_f32(await _sdk_vectors(fake, ["a question"]))
    assert len(query) == 1536 and got[0] != got[1]


async def test_pydantic_ai_reads_ollamas_thinking_as_a_thinking_part(fake: FakeServer) -> None:
    """pydantic-ai's OllamaProvider on a thinking model at Ollama's /v1/chat/completions: the ``reasoning``
    field Ollama sends (thinking is on by default) becomes a ThinkingPart before the answer, in run and
    run_stream alike, and the thinking is counted in the output tokens, as /api/chat counts it."""
    from pydantic_ai.messages import TextPart, ThinkingPart

    client = openai.AsyncOpenAI(base_url=fake.url_for("ollama") + "/v1", api_key="ollama", max_retries=0)
    agent = pai.Agent(pai_openai.OpenAIChatModel("qwen3:8b", provider=OllamaProvider(openai_client=client)))
    result = await agent.run("hello there")
    parts = result.all_messages()[-1].parts
    assert [type(p) for p in parts] == [ThinkingPart, TextPart]
    assert parts[0].content == "Thinking about: hello there" and result.output == EXPECTED
    async with agent.run_stream("hello there") as streamed:
        assert await streamed.get_output() == EXPECTED
    streamed_parts = streamed.all_messages()[-1].parts
    assert [type(p) for p in streamed_parts] == [ThinkingPart, TextPart] and streamed_parts[0].content == parts[0].content
    async with httpx.AsyncClient() as http:
        native = (await http.post(fake.url_for("ollama") + "/api/chat",
                                  json={"model": "qwen3:8b", "messages": HELLO, "stream": False})).json()
    assert result.usage.output_tokens == native["eval_count"]
    await client.close()


# -- LiteLLM's Bedrock invoke route for the native bodies of Llama, Mistral, Nova and Titan Text ---------------------


def _invoke_kwargs(fake: FakeServer, model: str) -> dict[str, Any]:
    return {"model": f"bedrock/invoke/{model}", "aws_bedrock_runtime_endpoint": fake.url_for("bedrock"),
            "aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY,
            "aws_region_name": "us-east-1", "num_retries": 0}


# LiteLLM renders the conversation into each prompt family's chat template and sends that string, which the fake
# reads as one user message: the answer is "Fake reply: " and the template's first 60 words.
PROMPT_FAMILIES = ["meta.llama3-1-8b-instruct-v1:0", "mistral.mistral-7b-instruct-v0:2", "amazon.titan-text-express-v1"]


@pytest.mark.parametrize("model", PROMPT_FAMILIES, ids=["llama", "mistral", "titan"])
async def test_litellm_invoke_prompt_families(model: str, fake: FakeServer) -> None:
    """Text non-streamed and streamed; the non-streamed usage is the fake's (LiteLLM reads the
    x-amzn-bedrock-*-token-count headers). LiteLLM's stream parser for these families reads only the text
    (``generation``, ``outputs[0].text``, ``outputText``): the streamed usage it reports is its own estimate,
    not the chunks' counts, so only the text is compared there."""
    r = await litellm.acompletion(messages=HELLO, **_invoke_kwargs(fake, model))
    sent = fake.requests_for("bedrock")[-1]
    assert sent.path == f"/model/{model}/invoke"
    body = sent.json()
    prompt = body["prompt"] if "prompt" in body else body["inputText"]
    assert "hello there" in prompt
    expected = "Fake reply: " + " ".join(prompt.split()[:60])
    assert r.choices[0].message.content == expected and r.choices[0].finish_reason == "stop"
    from interlingua.fakes._content import count_tokens

    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (3 + count_tokens(prompt), count_tokens(expected))
    stream = await litellm.acompletion(messages=HELLO, stream=True, **_invoke_kwargs(fake, model))
    chunks = [c async for c in stream]
    assert fake.requests_for("bedrock")[-1].path == f"/model/{model}/invoke-with-response-stream"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected


async def test_litellm_invoke_nova(fake: FakeServer) -> None:
    """Nova's messages-v1 body (LiteLLM's Converse transform): text and usage non-streamed and streamed (the
    ``metadata`` chunk's usage), and a tool call."""
    kwargs = _invoke_kwargs(fake, "us.amazon.nova-lite-v1:0")
    r = await litellm.acompletion(messages=HELLO, **kwargs)
    stream = await litellm.acompletion(messages=HELLO, stream=True, stream_options={"include_usage": True}, **kwargs)
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = [c.usage for c in chunks if getattr(c, "usage", None)][-1]
    assert r.choices[0].message.content == text == EXPECTED
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (usage.prompt_tokens, usage.completion_tokens) == (5, 5)
    tool = await litellm.acompletion(messages=[{"role": "user", "content": "call get_weather"}], tools=[TOOL], **kwargs)
    call = tool.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments.replace(" ", "") == '{"city":"sample"}'
    fake.fail_next("bedrock", "429", endpoint="chat")
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(messages=HELLO, **kwargs)
