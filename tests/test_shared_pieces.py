"""The shared dialect pieces (issue 17/18): provider_options refusals, config preflight, the
empty-conversation rule, the User-Agent — the same answer from every provider, nothing sent."""

from __future__ import annotations

import importlib.metadata

import msgspec
import pytest
from returns.result import Failure

from interlingua.core import DIALECTS, ChatRequest, ErrorKind, Message, ProviderConfig, Secret, TextPart
from interlingua.core.shared import USER_AGENT, merge_provider_options
from interlingua.effects import Client
from interlingua.fakes import FakeServer

from .helpers import config_for
from .resilience_support import SAMPLE_MODELS

PROVIDERS = ["openai", "anthropic", "gemini", "ollama", "azure", "xai", "docker", "bedrock"]
CFG = {
    "azure": ProviderConfig(base_url="https://r.openai.azure.com", api_key=Secret("k" * 20), api_version="2024-10-21"),
    "bedrock": ProviderConfig(region="us-east-1", api_key=Secret("k" * 20)),
    "docker": ProviderConfig(),
}


def _cfg(provider: str, **changes: object) -> ProviderConfig:
    base = CFG.get(provider, ProviderConfig(api_key=Secret("k" * 20)))
    return msgspec.structs.replace(base, **changes)  # type: ignore[arg-type]


def _req(provider: str, **fields: object) -> ChatRequest:
    model = SAMPLE_MODELS[provider].split(":", 1)[1]
    return ChatRequest(model=model, messages=(Message.user("hi"),), **fields)  # type: ignore[arg-type]


REFUSED = [
    ("openai", {"max_tokens": 1_000_000}, "max_tokens"),
    ("openai", {"max_completion_tokens": 1_000_000}, "max_completion_tokens"),
    ("openai", {"n": 128}, "n"),
    ("openai", {"model": "gpt-4.5-preview"}, "model"),
    ("openai", {"stream": True}, "stream"),
    ("anthropic", {"max_tokens": 64_000}, "max_tokens"),
    ("gemini", {"generationConfig": {"maxOutputTokens": 65_536}}, "generationConfig.maxOutputTokens"),
    ("gemini", {"generationConfig": {"candidateCount": 8}}, "generationConfig.candidateCount"),
    ("ollama", {"num_predict": -1}, "num_predict"),
    ("ollama", {"options": {"num_predict": -1}}, "options.num_predict"),
    ("bedrock", {"inferenceConfig": {"maxTokens": 8192}}, "inferenceConfig.maxTokens"),
    ("bedrock", {"additionalModelRequestFields": {"max_tokens": 8192}}, "additionalModelRequestFields.max_tokens"),
    ("xai", {"max_output_tokens": 9}, "max_output_tokens"),
]


@pytest.mark.parametrize(("provider", "options", "key"), REFUSED)
def test_provider_options_cannot_change_what_was_priced(provider: str, options: dict[str, object], key: str) -> None:
    """model, stream, the output limit and the answer count are refused, naming the key and the option to use."""
    r = DIALECTS[provider].encode_request(_req(provider, provider_options=options), _cfg(provider), now=1.7e9)
    err = r.failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and f"provider_options[{key!r}]" in err.message
    instead = {"model": "model string", "stream": "stream()", "n": "one call per answer"}
    assert instead.get(key.rpartition(".")[2], "pass max_tokens=" if "candidate" not in key else "one call per") in err.message


def test_other_provider_options_still_merge() -> None:
    """The one merge keeps each dialect's rules: Gemini merges generationConfig, Ollama nests options."""
    gem = DIALECTS["gemini"].encode_request(
        _req("gemini", temperature=0.5, provider_options={"generationConfig": {"topK": 3}}), _cfg("gemini")
    ).unwrap()
    assert msgspec.json.decode(gem.body)["generationConfig"] == {"temperature": 0.5, "topK": 3}
    oll = DIALECTS["ollama"].encode_request(
        _req("ollama", temperature=0.5, provider_options={"num_ctx": 8192, "keep_alive": "5m"}), _cfg("ollama")
    ).unwrap()
    body = msgspec.json.decode(oll.body)
    assert body["options"] == {"temperature": 0.5, "num_ctx": 8192} and body["keep_alive"] == "5m"
    assert merge_provider_options("x", b'{"a":1}', {}).unwrap() == b'{"a":1}'


async def test_refused_options_are_never_sent(fake: FakeServer) -> None:
    """Over loopback: the client refuses before the spending guard or the server see anything."""
    async with Client(config_for(fake, retry_enabled=False)) as client:
        r = await client.chat("openai:gpt-4o-mini", "hi", max_tokens=5, provider_options={"max_tokens": 10**6})
    assert r.failure().kind is ErrorKind.INVALID_REQUEST and fake.attempts("openai") == 0


def test_user_agent_is_the_package_version() -> None:
    """The User-Agent every dialect sends carries the installed package version."""
    assert importlib.metadata.version("interlingua") in USER_AGENT
    for provider in ("openai", "gemini", "ollama", "anthropic"):
        req = DIALECTS[provider].encode_request(_req(provider), _cfg(provider)).unwrap()
        assert req.headers.get("user-agent") == USER_AGENT, provider


FIELDS = ["api_key", "api_version", "organization", "project", "base_url", "header"]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama", "azure", "bedrock"])
def test_control_characters_are_refused_naming_the_field(provider: str, field: str) -> None:
    """A CR/LF/NUL inside any config value is invalid_request naming the field, never the value."""
    evil = "sk-ab\r\nX-Injected: 1"
    changes: dict[str, object] = {
        "api_key": {"api_key": Secret(evil)},
        "api_version": {"api_version": evil},
        "organization": {"organization": evil},
        "project": {"project": evil},
        "base_url": {"base_url": "https://api.example.com/\x00v1"},
        "header": {"headers": (("X-Team", evil),)},
    }[field]
    r = DIALECTS[provider].encode_request(_req(provider), _cfg(provider, **changes), now=1.7e9)
    err = r.failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "control character" in err.message
    assert "Injected" not in err.message and "sk-ab" not in err.message


def test_a_trailing_newline_is_stripped_when_the_config_is_built() -> None:
    """Keys and values read from files keep working: the trailing newline goes, once, at build time."""
    cfg = ProviderConfig(api_key=Secret("sk-abc\n"), api_version="2024-10-21\r\n", headers=(("X-A", "b\n"),),
                         base_url="https://api.openai.com/v1\n")
    assert cfg.api_key is not None and cfg.api_key.reveal() == "sk-abc"
    assert (cfg.api_version, cfg.headers, cfg.base_url) == ("2024-10-21", (("X-A", "b"),), "https://api.openai.com/v1")
    req = DIALECTS["openai"].encode_request(_req("openai"), cfg).unwrap()
    assert req.headers.get("authorization") == "Bearer sk-abc"


async def test_newline_in_a_header_is_a_failure_not_an_exception(fake: FakeServer) -> None:
    """Over loopback, chat and stream return Failure(invalid_request) where aiohttp used to raise ValueError."""
    cfg = config_for(fake, retry_enabled=False).with_provider(
        "openai", base_url=fake.url_for("openai"), api_key=fake.api_key, headers=(("X-Team", "a\nb"),))
    async with Client(cfg) as client:
        r = await client.chat("openai:gpt-4o-mini", "hi")
        chunks = [c async for c in client.stream("openai:gpt-4o-mini", "hi")]
    assert r.failure().kind is ErrorKind.INVALID_REQUEST and "headers['X-Team']" in r.failure().message
    assert any(isinstance(c, Failure) and c.failure().kind is ErrorKind.INVALID_REQUEST for c in chunks)
    assert fake.attempts("openai") == 0


def test_base_url_with_credentials_is_refused_and_never_shown() -> None:
    """user:password@ in a base URL is invalid_request; neither the error nor the repr shows the password."""
    cfg = _cfg("openai", base_url="https://me:hunter2@proxy.example/v1")
    err = DIALECTS["openai"].encode_request(_req("openai"), cfg).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "credentials" in err.message and "hunter2" not in err.message
    assert "hunter2" not in repr(cfg) and "proxy.example" in repr(cfg)


EMPTY = [
    (Message.user(""),),
    (Message.user("   \n"),),
    (Message.system(""), Message.user((TextPart(""),))),
]


@pytest.mark.parametrize("messages", EMPTY)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_empty_conversation_is_refused_by_every_dialect(provider: str, messages: tuple[Message, ...]) -> None:
    """No message with content: invalid_request from every dialect, the same words."""
    req = msgspec.structs.replace(_req(provider), messages=messages)
    err = DIALECTS[provider].encode_request(req, _cfg(provider), now=1.7e9).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "empty" in err.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_empty_conversation_is_never_sent(fake: FakeServer, provider: str) -> None:
    """Over loopback, for every provider: refused before sending (OpenAI used to take and bill it)."""
    async with Client(config_for(fake, retry_enabled=False)) as client:
        r = await client.chat(SAMPLE_MODELS[provider], "")
    assert r.failure().kind is ErrorKind.INVALID_REQUEST and fake.attempts(provider) == 0
