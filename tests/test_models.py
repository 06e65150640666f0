"""Model strings: explicit prefixes, LiteLLM-style slashes, auto-detection, clear failures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import PROVIDERS, ErrorKind, ModelRef, parse_model
from interlingua.core.shared import model_id_problem

CASES = [
    ("openai:gpt-4o", "openai", "gpt-4o"),
    ("gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("o1", "openai", "o1"),
    ("o3-mini", "openai", "o3-mini"),
    ("o4-mini-2025-04-16", "openai", "o4-mini-2025-04-16"),
    ("chatgpt-4o-latest", "openai", "chatgpt-4o-latest"),
    ("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
    ("anthropic/claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"),
    ("gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
    ("google:gemini-2.5-pro", "gemini", "gemini-2.5-pro"),
    ("google/gemini-2.0-flash", "gemini", "gemini-2.0-flash"),
    ("grok-4", "xai", "grok-4"),
    ("xai:grok-3-mini", "xai", "grok-3-mini"),
    ("ai/smollm2", "docker", "ai/smollm2"),
    ("docker:ai/smollm2", "docker", "ai/smollm2"),
    ("ollama:llama3:8b", "ollama", "llama3:8b"),
    ("llama3:8b", "ollama", "llama3:8b"),
    ("qwen2.5-coder", "ollama", "qwen2.5-coder"),
    ("mistral", "ollama", "mistral"),
    ("deepseek-r1:14b", "ollama", "deepseek-r1:14b"),
    ("azure:my-gpt4o-deployment", "azure", "my-gpt4o-deployment"),
    ("bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("openai_compatible:my-model", "openai_compatible", "my-model"),
    ("  gpt-4o  ", "openai", "gpt-4o"),
]


@pytest.mark.parametrize(("s", "provider", "model"), CASES)
def test_parse_model_table(s: str, provider: str, model: str) -> None:
    """Each accepted form resolves to the documented provider and model id."""
    assert parse_model(s) == Success(ModelRef(provider, model))


@pytest.mark.parametrize("s", ["", "   ", "mystery-model", "acme/some-model", "meta-llama/Llama-3-8B", "openai:"])
def test_unknown_forms_fail_with_guidance(s: str) -> None:
    """An unknown form is an invalid_model Failure that lists the providers and accepted forms."""
    result = parse_model(s)
    assert isinstance(result, Failure)
    err = result.failure()
    assert err.kind is ErrorKind.INVALID_MODEL
    for p in ("openai", "anthropic", "gemini", "ollama", "bedrock"):
        assert p in err.message
    assert "provider:model" in err.message


@given(st.sampled_from(PROVIDERS), st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s))
def test_explicit_prefix_always_wins(provider: str, model: str) -> None:
    """``provider:anything`` keeps everything after the first colon, whatever it contains — unless
    that id could not go on the wire (a dot segment, whitespace, a control character)."""
    result = parse_model(f"{provider}:{model}")
    if model_id_problem(model) is None:
        assert result == Success(ModelRef(provider, model))
    else:
        assert result.failure().kind is ErrorKind.INVALID_MODEL
