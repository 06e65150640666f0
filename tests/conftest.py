"""Shared fixtures. The only autouse fixture strips provider environment variables (httpx's
``clean_environ``), so no test depends on the machine it runs on."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer, serve

_PROVIDER_ENV = re.compile(
    r"^(OPENAI|ANTHROPIC|GEMINI|GOOGLE|OLLAMA|AZURE|XAI|DMR|DOCKER|AWS|BEDROCK|LITELLM|INTERLINGUA)_"
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k in list(os.environ):
        if _PROVIDER_ENV.match(k) or k in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
            monkeypatch.delenv(k, raising=False)
    yield


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    """Every provider's fake on a free loopback port."""
    async with serve() as server:
        yield server


def config_for(fake: FakeServer, **settings: object) -> LlmConfig:
    """A config pointing every provider that has a fake at it, with the fake's key."""
    cfg = LlmConfig(**settings)  # type: ignore[arg-type]
    for spec in fake.specs:
        cfg = cfg.with_provider(spec.name, base_url=fake.url_for(spec.name), api_key=fake.api_key)
    return cfg


@pytest.fixture
async def client(fake: FakeServer) -> AsyncIterator[Client]:
    """A client wired to the fakes, retries off (tests that want them build their own)."""
    async with Client(config_for(fake, retry_enabled=False)) as c:
        yield c
