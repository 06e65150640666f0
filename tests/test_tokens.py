"""Token counting: OpenAI's published counts, image formulas, estimates, offline tokenizer."""

from __future__ import annotations

import socket
from typing import Any

import msgspec
import pytest
import tiktoken
import tiktoken.load
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Result, Success

from interlingua.core import (
    ErrorKind,
    HttpRequest,
    HttpResponse,
    ImagePart,
    LlmError,
    Message,
    ProviderConfig,
    Role,
    ToolSpec,
)
from interlingua.core import tokens as T
from interlingua.core.http import Headers
from interlingua.core.schema import ChatRequest
from interlingua.core.tokens import (
    TokenCount,
    anthropic_image_tokens,
    count_tokens,
    gemini_image_tokens,
    openai_image_tokens,
)
from interlingua.effects import Client, LlmConfig
from interlingua.effects.budget import CountTokens
from interlingua.effects.transport import Timeouts

# OpenAI cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb, section 6: these messages, and the
# prompt_tokens the API reported for them (printed by the notebook next to its own count).
COOKBOOK_MESSAGES = [
    Message.system("You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
    Message(role=Role.SYSTEM, name="example_user", content="New synergies will help drive top-line growth."),
    Message(role=Role.SYSTEM, name="example_assistant", content="Things working well together will increase revenue."),
    Message(role=Role.SYSTEM, name="example_user",
            content="Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."),
    Message(role=Role.SYSTEM, name="example_assistant", content="Let's talk later when we're less busy about how to do better."),
    Message.user("This late pivot means we don't have time to boil the ocean for the client deliverable."),
]
API_PROMPT_TOKENS = [("gpt-3.5-turbo", 129), ("gpt-4-0613", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)]

# Same notebook, section 7: one tool with an enum property; API-reported prompt_tokens per model.
COOKBOOK_TOOLS = [ToolSpec(
    name="get_current_weather",
    description="Get the current weather in a given location",
    parameters={"type": "object", "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]},
    }, "required": ["location"]},
)]
COOKBOOK_TOOL_MESSAGES = [
    Message.system("You are a helpful assistant that can answer to questions about the weather."),
    Message.user("What's the weather like in San Francisco?"),
]
API_PROMPT_TOKENS_TOOLS = [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)]


@pytest.mark.parametrize(("model", "expected"), API_PROMPT_TOKENS)
def test_messages_match_openai_reported_prompt_tokens(model: str, expected: int) -> None:
    """The count equals what the OpenAI API reported for the cookbook's messages."""
    assert count_tokens(model, COOKBOOK_MESSAGES) == TokenCount(expected, True, T.encoding_for_model(model))


@pytest.mark.parametrize(("model", "expected"), API_PROMPT_TOKENS_TOOLS)
def test_tools_match_openai_reported_prompt_tokens(model: str, expected: int) -> None:
    """Tool definitions are counted by the cookbook's verified rule, matching the API's prompt_tokens."""
    c = count_tokens(f"openai:{model}", COOKBOOK_TOOL_MESSAGES, COOKBOOK_TOOLS)
    assert (c.count, c.exact) == (expected, True)


def test_nested_tool_schema_is_flagged_inexact() -> None:
    """A tool shape the published rule was not verified on is counted but not claimed exact."""
    nested = ToolSpec(name="f", parameters={"type": "object", "properties": {"x": {"type": "object", "properties": {}}}})
    assert count_tokens("gpt-4o", [Message.user("hi")], [nested]).exact is False


def test_tool_calls_are_counted_but_inexact() -> None:
    """Tool calls and results have no published framing: counted, flagged as estimates."""
    from interlingua.core import ToolCall

    msgs = [Message.user("hi"), Message.assistant(tool_calls=[ToolCall("c1", "f", '{"a": 1}')]), Message.tool("c1", "42")]
    plain = count_tokens("gpt-4o", msgs[:1])
    c = count_tokens("gpt-4o", msgs)
    assert c.count > plain.count and c.exact is False


@pytest.mark.parametrize(
    ("model", "w", "h", "detail", "expected"),
    [
        ("gpt-4o", 1024, 1024, "high", (765, True)),     # OpenAI's worked examples
        ("gpt-4o", 2048, 4096, "high", (1105, True)),
        ("gpt-4o", 4096, 8192, "low", (85, True)),
        ("gpt-4o-mini", 512, 512, "high", (2833 + 5667, True)),
        ("gpt-4o-mini", 512, 512, "low", (2833, True)),
        ("o3", 512, 512, "high", (75 + 150, True)),
        ("gpt-4o", 512, 512, "auto", (255, False)),       # OpenAI decides: not claimed exact
        ("gpt-4o", None, None, "high", (85 + 8 * 170, False)),  # unknown size: the largest it could cost
        ("gpt-4.1-mini", 1024, 1024, None, (1659, False)),  # 1024 patches x 1.62
    ],
)
def test_openai_image_tokens(model: str, w: int | None, h: int | None, detail: str | None, expected: tuple[int, bool]) -> None:
    """OpenAI's published image formula, per model family."""
    assert openai_image_tokens(model, w, h, detail) == expected


def test_image_parts_add_to_the_message_count() -> None:
    """An image part costs its formula's tokens inside the conversation count."""
    img = ImagePart(url="https://example.com/a.png", detail="high", width=1024, height=1024)
    text_only = count_tokens("gpt-4o", [Message.user([T.TextPart("look")])])
    with_image = count_tokens("gpt-4o", [Message.user([T.TextPart("look"), img])])
    assert with_image == TokenCount(text_only.count + 765, True, "o200k_base")


def test_other_providers_images_and_estimates() -> None:
    """Anthropic (w*h/750) and Gemini (258 per tile) formulas feed their estimates, flagged inexact."""
    assert anthropic_image_tokens(1092, 1092) == 1590
    assert anthropic_image_tokens(3136, 3136) == 1600  # resized to 1568 on the long edge, then capped
    assert gemini_image_tokens(384, 384) == 258 and gemini_image_tokens(1536, 768) == 516
    img = ImagePart(data="AAAA", media_type="image/png", width=1000, height=1000)
    a = count_tokens("anthropic:claude-sonnet-4-5", [Message.user([img])])
    g = count_tokens("gemini:gemini-2.5-flash", [Message.user([img])])
    assert a.exact is False and a.count >= 1334 and g.exact is False and g.count >= 258 * 4


@settings(max_examples=100, deadline=None)
@given(st.text(), st.sampled_from(["gpt-4o", "gpt-4", "claude-haiku-4-5", "gemini-2.5-pro", "llama3:8b", "??", ""]))
def test_count_is_total_and_monotone(text: str, model: str) -> None:
    """Any text and any model string give a count; appending a message never lowers it."""
    one = count_tokens(model, [Message.user(text)])
    two = count_tokens(model, [Message.user(text), Message.user(text)])
    assert 0 < one.count < two.count


def test_wrong_rank_file_hash_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged vendored rank file is refused, never silently used."""
    file, _, pat, special = T.ENCODINGS["cl100k_base"]
    monkeypatch.setitem(T.ENCODINGS, "cl100k_base", (file, "0" * 64, pat, special))
    T.get_encoding.cache_clear()
    try:
        with pytest.raises(T.CorruptRankFile):
            T.get_encoding("cl100k_base")
    finally:
        monkeypatch.undo()
        T.get_encoding.cache_clear()


def test_encodings_build_without_network_or_tiktoken_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building both encodings never downloads, reads tiktoken's cache, or opens a socket."""

    def forbidden(*a: Any, **k: Any) -> Any:
        raise AssertionError("network or tiktoken cache touched")

    for name in ("read_file", "read_file_cached", "load_tiktoken_bpe"):
        monkeypatch.setattr(tiktoken.load, name, forbidden)
    monkeypatch.setattr(tiktoken, "get_encoding", forbidden)
    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    T.get_encoding.cache_clear()
    try:
        assert T.get_encoding("o200k_base").encode("tiktoken is great!") == [83, 8251, 2488, 382, 2212, 0]
        assert len(T.get_encoding("cl100k_base").encode("antidisestablishmentarianism")) == 6
        assert count_tokens("gpt-4o", COOKBOOK_MESSAGES).count == 124
    finally:
        T.get_encoding.cache_clear()


# -- the count-tokens endpoint dispatch ----------------------------------------------------------


class _CountingDialect:
    """A dialect with the optional count-tokens operations (shape of the Anthropic/Gemini ones)."""

    name = "anthropic"

    def encode_count_tokens(self, req: ChatRequest, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
        return Success(HttpRequest("POST", "http://127.0.0.1/v1/messages/count_tokens", Headers({}), b"{}"))

    def decode_count_tokens(self, resp: HttpResponse) -> Result[int, LlmError]:
        return Success(msgspec.json.decode(resp.body)["input_tokens"])


class _OneReply:
    def __init__(self) -> None:
        self.sent: list[HttpRequest] = []

    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Result[HttpResponse, LlmError]:
        self.sent.append(request)
        return Success(HttpResponse(200, Headers({}), b'{"input_tokens": 42}'))

    async def close(self) -> None:
        pass


async def test_count_tokens_uses_the_endpoint_when_the_dialect_has_it() -> None:
    """A dialect with encode/decode_count_tokens gets an exact count from the provider, through the client's loop."""
    assert isinstance(_CountingDialect(), CountTokens)
    transport = _OneReply()
    cfg = LlmConfig().with_provider("anthropic", api_key="sk-ant-test")
    async with Client(cfg, transport=transport) as client:  # type: ignore[arg-type]
        got = await client.count_tokens("anthropic:claude-haiku-4-5", "hi")
    assert got == Success(TokenCount(42, True, None)) and len(transport.sent) == 1
    assert transport.sent[0].url.endswith("/v1/messages/count_tokens")


async def test_count_tokens_falls_back_offline_without_the_operation() -> None:
    """Without the operation the offline count comes back and nothing is sent."""
    transport = _OneReply()
    async with Client(LlmConfig(), transport=transport) as client:  # type: ignore[arg-type]
        got = await client.count_tokens("openai:gpt-4o", "hi")
    assert got == Success(count_tokens("openai:gpt-4o", [Message.user("hi")])) and transport.sent == []


async def test_client_count_tokens_reports_unknown_models_as_failure(client: Any) -> None:
    """Client.count_tokens returns a Result; an unparseable model string is a Failure."""
    assert (await client.count_tokens("openai:gpt-4o", "hi")).unwrap().exact is True
    err = (await client.count_tokens("mystery-model", "hi")).failure()
    assert err.kind is ErrorKind.INVALID_MODEL and "mystery-model" in err.message
