"""The one table from provider name to dialect. Adding a provider is adding a row, never a branch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from returns.result import Failure, Result, Success

from .anthropic import ANTHROPIC
from .bedrock import BEDROCK
from .compat import AZURE, DOCKER, OPENAI_COMPATIBLE, XAI
from .dialect import Dialect
from .errors import ErrorKind, LlmError
from .gemini import GEMINI
from .models import PROVIDER_ALIASES, PROVIDERS
from .ollama import OLLAMA
from .openai import OPENAI

__all__ = ["DIALECTS", "get_dialect"]

DIALECTS: Mapping[str, Dialect[Any]] = {
    "openai": OPENAI,
    "ollama": OLLAMA,
    "bedrock": BEDROCK,
    "azure": AZURE,
    "xai": XAI,
    "docker": DOCKER,
    "openai_compatible": OPENAI_COMPATIBLE,
    "anthropic": ANTHROPIC,
    "gemini": GEMINI,
}


def get_dialect(provider: str) -> Result[Dialect[Any], LlmError]:
    name = PROVIDER_ALIASES.get(provider, provider)
    d = DIALECTS.get(name)
    if d is not None:
        return Success(d)
    known = name in PROVIDERS
    return Failure(
        LlmError(
            kind=ErrorKind.PROVIDER if known else ErrorKind.INVALID_MODEL,
            message=(
                f"provider {name!r} is known but has no dialect in this version"
                if known
                else f"unknown provider {provider!r}; known: {', '.join(sorted(DIALECTS))}"
            ),
            provider=name if known else None,
        )
    )
