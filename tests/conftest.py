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
from .redis_server import RedisServer, flush

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


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (tests that stop it start their own RedisServer)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The shared server's URL, emptied before each test."""
    flush(redis_server.url)
    yield redis_server.url
