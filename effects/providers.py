"""The provider registry of the original design: one table from provider name to dialect + config.

>>> get_provider_for_model("openai:gpt-4o-mini").unwrap().provider_name     # doctest: +SKIP
'openai'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from returns.result import Failure, Result, Success

from interlingua.core import ChatChunk, ChatResponse, LlmError, ModelInfo, ModelRef, get_dialect, parse_model
from interlingua.core.catalog import Catalog, default_catalog

from .client import Client, Messages

__all__ = ["Provider", "get_provider", "get_provider_for_model", "parse_model_string"]


def parse_model_string(model: str) -> Result[ModelRef, LlmError]:
    """Seed name for :func:`interlingua.core.parse_model`."""
    return parse_model(model)


class Provider:
    """One provider seen through a :class:`Client`: chat, stream and the catalog's capability answers."""

    def __init__(self, name: str, client: Client, catalog: Catalog | None = None) -> None:
        self.provider_name = name
        self._client = client
        self._catalog = catalog or default_catalog()

    def __repr__(self) -> str:
        return f"Provider({self.provider_name!r})"

    def _model(self, model: str) -> str:
        return model if ":" in model and model.split(":", 1)[0] == self.provider_name else f"{self.provider_name}:{model}"

    async def chat(self, model: str, messages: Messages, **options: Any) -> Result[ChatResponse, LlmError]:
        return await self._client.chat(self._model(model), messages, **options)

    def chat_stream(self, model: str, messages: Messages, **options: Any) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        return self._client.stream(self._model(model), messages, **options)

    def model_info(self, model: str) -> ModelInfo | None:
        return self._catalog.lookup(self.provider_name, model)

    def supports_tools(self, model: str) -> bool:
        info = self.model_info(model)
        return bool(info and info.supports_tools)

    def supports_vision(self, model: str) -> bool:
        info = self.model_info(model)
        return bool(info and info.supports_vision)

    def supports_structured_output(self, model: str) -> bool:
        info = self.model_info(model)
        return bool(info and info.supports_structured_output)


def get_provider(name: str, client: Client) -> Result[Provider, LlmError]:
    d = get_dialect(name)
    if isinstance(d, Failure):
        return d
    return Success(Provider(d.unwrap().name, client))


def get_provider_for_model(model: str, client: Client) -> Result[Provider, LlmError]:
    return parse_model(model).bind(lambda ref: get_provider(ref.provider, client))
