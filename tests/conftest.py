"""Shared fixtures. The only autouse fixture strips provider environment variables (httpx's
``clean_environ``), so no test depends on the machine it runs on."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from interlingua.effects import Client
from interlingua.fakes import FakeServer, serve

from .helpers import config_for

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


@pytest.fixture
async def client(fake: FakeServer) -> AsyncIterator[Client]:
    """A client wired to the fakes, retries off (tests that want them build their own)."""
    async with Client(config_for(fake, retry_enabled=False)) as c:
        yield c
