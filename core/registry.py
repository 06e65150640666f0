"""The one table from provider name to dialect. Adding a provider is adding a row, never a branch.

A row names the module and attribute that hold the dialect; the module is imported on the first
lookup, so ``import interlingua`` does not pay for the Struct classes of eight dialects when a
program talks to one (each dialect module costs ~10-30 ms to import).

>>> "openai" in DIALECTS, len(DIALECTS) == len(list(DIALECTS))
(True, True)
>>> DIALECTS["openai"].name
'openai'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from returns.result import Failure, Result, Success

from .dialect import Dialect
from .errors import ErrorKind, LlmError
from .models import PROVIDER_ALIASES, PROVIDERS

__all__ = ["DIALECTS", "get_dialect"]

# provider name -> (module in this package, attribute holding the dialect value)
_ROWS: Mapping[str, tuple[str, str]] = {
    "openai": ("openai", "OPENAI"),
    "ollama": ("ollama", "OLLAMA"),
    "bedrock": ("bedrock", "BEDROCK"),
    "azure": ("compat", "AZURE"),
    "xai": ("compat", "XAI"),
    "docker": ("compat", "DOCKER"),
    "openai_compatible": ("compat", "OPENAI_COMPATIBLE"),
    "anthropic": ("anthropic", "ANTHROPIC"),
    "gemini": ("gemini", "GEMINI"),
    "openai_responses": ("openai_responses", "OPENAI_RESPONSES"),  # hook: responses
}


class _LazyDialects(Mapping[str, "Dialect[Any]"]):
    """A read-only mapping over :data:`_ROWS` that imports a dialect's module on its first lookup."""

    __slots__ = ("_loaded", "_rows")

    def __init__(self, rows: Mapping[str, tuple[str, str]]) -> None:
        self._rows = rows
        self._loaded: dict[str, Dialect[Any]] = {}

    def __getitem__(self, name: str) -> Dialect[Any]:
        d = self._loaded.get(name)
        if d is None:
            module, attr = self._rows[name]  # KeyError for an unknown name, as a dict
            d = self._loaded[name] = getattr(importlib.import_module(f".{module}", __package__), attr)
        return d

    def get(self, name: str, default: Any = None) -> Any:
        d = self._loaded.get(name)
        if d is not None:
            return d
        return self[name] if name in self._rows else default

    def __contains__(self, name: object) -> bool:
        return name in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"DIALECTS({', '.join(self._rows)})"


DIALECTS: Mapping[str, Dialect[Any]] = _LazyDialects(_ROWS)


# get_dialect runs on every call: a found dialect's Success is built once per name (or alias).
_FOUND: dict[str, Success[Dialect[Any]]] = {}


def get_dialect(provider: str) -> Result[Dialect[Any], LlmError]:
    found = _FOUND.get(provider)
    if found is not None:
        return found
    name = PROVIDER_ALIASES.get(provider, provider)
    d = DIALECTS.get(name)
    if d is not None:
        found = _FOUND[provider] = Success(d)
        return found
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
