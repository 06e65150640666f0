"""Model strings and URLs (issue 17): empty parts, misspelled prefixes, the Ollama tag rule, path-safe ids."""

from __future__ import annotations

import pytest
from returns.result import Success

from interlingua.core import (
    DIALECTS,
    ChatRequest,
    ErrorKind,
    Message,
    ModelRef,
    ProviderConfig,
    Secret,
    parse_model,
)
from interlingua.effects import Client
from interlingua.fakes import FakeServer

from .helpers import config_for


@pytest.mark.parametrize("s", [":", "openai:", ":gpt-4o", "llama3:", "anthropic/", "::"])
def test_empty_parts_are_invalid_model(s: str) -> None:
    """No part of a model string may be empty; nothing is guessed."""
    assert parse_model(s).failure().kind is ErrorKind.INVALID_MODEL


@pytest.mark.parametrize(("s", "meant"), [("opnai:gpt-4o-mini", "openai"), ("antropic/claude-3-5-haiku", "anthropic"),
                                          ("gemni:gemini-2.0-flash", "gemini"), ("olama:llama3", "ollama"),
                                          ("bedrok:anthropic.claude-v2", "bedrock")])
def test_misspelled_prefix_suggests_the_provider(s: str, meant: str) -> None:
    """A prefix within edit distance 2 of a provider goes nowhere and says which one was meant."""
    err = parse_model(s).failure()
    assert err.kind is ErrorKind.INVALID_MODEL and f"did you mean {meant!r}?" in err.message


@pytest.mark.parametrize("s", ["llama3:8b", "gemma:2b", "llama:70b", "qwen2.5:7b-instruct-q4_K_M", "mymodel:latest",
                               "custom:v1.5", "thing:8x7b", "foo:q8_0", "mistral", "phi3:mini", "bar:1.5b-fp16"])
def test_ollama_names(s: str) -> None:
    """A local family, or any name with an Ollama-looking tag, is Ollama's."""
    assert parse_model(s) == Success(ModelRef("ollama", s))


@pytest.mark.parametrize("s", ["acme:gpt-4o-mini", "my-team:prod", "foo:bar"])
def test_other_name_tag_pairs_are_not_guessed(s: str) -> None:
    """name:tag with an unknown name and a non-Ollama tag is invalid_model, not sent to Ollama."""
    assert parse_model(s).failure().kind is ErrorKind.INVALID_MODEL


@pytest.mark.parametrize("s", ["bedrock:..", "gemini:.", "azure:..", "ollama:..", "bedrock:a\nb", "openai:a\x00b"])
def test_path_changing_ids_are_refused(s: str) -> None:
    """An id that would be a URL dot segment, or holds a control character, never reaches a URL."""
    assert parse_model(s).failure().kind is ErrorKind.INVALID_MODEL


@pytest.mark.parametrize(("provider", "cfg"), [
    ("bedrock", ProviderConfig(region="us-east-1", api_key=Secret("k" * 20))),
    ("gemini", ProviderConfig(api_key=Secret("k" * 20))),
    ("azure", ProviderConfig(base_url="https://r.openai.azure.com", api_key=Secret("k" * 20), api_version="2024-10-21")),
])
@pytest.mark.parametrize("model", [".", ".."])
def test_dialects_refuse_dot_segment_ids(provider: str, cfg: ProviderConfig, model: str) -> None:
    """Called directly (no parse_model), the URL-building dialects refuse a dot-segment id too."""
    req = ChatRequest(model=model, messages=(Message.user("hi"),))
    err = DIALECTS[provider].encode_request(req, cfg, now=1.7e9).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "dot segment" in err.message


@pytest.mark.parametrize("region", ["us-east-1.evil.example", "us-east-1/x", "-bad", "a" * 70, "us east"])
def test_bedrock_region_is_validated(region: str) -> None:
    """A region that is not one host label (botocore's rule) never goes into the host name."""
    req = ChatRequest(model="anthropic.claude-3-haiku-20240307-v1:0", messages=(Message.user("hi"),))
    cfg = ProviderConfig(region=region, api_key=Secret("k" * 20))
    err = DIALECTS["bedrock"].encode_request(req, cfg, now=1.7e9).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and "region" in err.message


async def test_a_typo_sends_nothing(fake: FakeServer) -> None:
    """Over loopback: 'opnai:gpt-4o-mini' fails at once, and no fake sees a request."""
    async with Client(config_for(fake, retry_enabled=False)) as client:
        r = await client.chat("opnai:gpt-4o-mini", "hi")
    assert r.failure().kind is ErrorKind.INVALID_MODEL and fake.attempts("ollama") == fake.attempts("openai") == 0
