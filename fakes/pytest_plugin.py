"""pytest plugin (registered through the ``pytest11`` entry point): the ``fake_llm`` fixtures.

``fake_llm`` (async tests) starts every provider's fake, each on its own free loopback port, and yields a
:class:`FakeLlm`: the base URLs, a configured :class:`interlingua.effects.Client`, the requests the
fakes received (to assert what your code sent), and helpers to script answers and inject faults::

    async def test_my_summary(fake_llm):
        fake_llm.script("openai", responses=["A short summary."])
        assert await summarize(fake_llm.client, "long text") == "A short summary."
        assert fake_llm.requests_for("openai")[0].json()["model"] == "gpt-4o-mini"

    async def test_retry_path(fake_llm):
        fake_llm.fail_next("openai", "429")

Code that uses an official SDK points it at ``fake_llm.url_for("openai")`` with
``fake_llm.api_key`` (or sets ``fake_llm.env()`` with ``monkeypatch.setenv``).
``fake_llm_sync`` is the same server on a background thread for synchronous tests (no ``client``).

pytest loads this module in every run of every project that has interlingua installed, so it
imports nothing heavy: the fakes (aiohttp, the tokenizer) load only when a test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._faults import Fault
    from ._server import FakeServer, RecordedRequest

__all__ = ["FakeLlm", "fake_llm", "fake_llm_sync"]

class FakeLlm:
    """A handle on the running fakes, for tests."""

    def __init__(self, server: FakeServer, client: Any = None) -> None:
        self.server = server
        self._client = client

    @property
    def client(self) -> Any:
        """An :class:`interlingua.effects.Client` wired to every fake (retries off, so faults show)."""
        if self._client is None:
            raise RuntimeError("fake_llm_sync has no client; use the async fake_llm fixture")
        return self._client

    @property
    def base_url(self) -> str:
        """The OpenAI fake's origin (every provider has its own: see :meth:`url_for`)."""
        return self.server.base_url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    def url_for(self, provider: str) -> str:
        """The base URL ``provider``'s SDK wants (each provider has its own origin)."""
        return self.server.url_for(provider)

    def origin(self, provider: str) -> str:
        """``provider``'s bare root URL (scheme, host, port)."""
        return self.server.origin(provider)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests

    def requests_for(self, provider: str) -> list[RecordedRequest]:
        return self.server.requests_for(provider)

    def script(self, provider: str, responses: Sequence[Any]) -> None:
        """The next requests to ``provider`` get these answers, in order (str, tool dict or Decision)."""
        self.server.script(provider, responses)

    def fail_next(self, provider: str, fault: str | Fault, times: int = 1, *, endpoint: str | None = None) -> None:
        """The next ``times`` requests to ``provider`` get ``fault`` (e.g. "429", "500", "cut=2");
        with ``endpoint`` (``"chat"``, ``"models"``, or a path) only requests to that endpoint do."""
        self.server.fail_next(provider, fault, times, endpoint=endpoint)

    def attempts(self, provider: str) -> int:
        return self.server.attempts(provider)

    def config(self, **settings: Any) -> Any:
        """An ``LlmConfig`` pointing every provider with a fake at it; ``settings`` override fields."""
        from interlingua.effects import LlmConfig

        cfg = LlmConfig(**settings)
        for spec in self.server.specs:
            cfg = cfg.with_provider(spec.name, base_url=self.url_for(spec.name), api_key=self.api_key)
        return cfg

    def env(self) -> dict[str, str]:
        """Environment variables that point the official SDKs (and ``LlmConfig.from_env()``) at the
        fakes, for every provider: ``for k, v in fake_llm.env().items(): monkeypatch.setenv(k, v)``."""
        from ._env import fake_env

        return fake_env(self.server)


try:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def fake_llm() -> AsyncIterator[FakeLlm]:
        """Every provider's fake on a free port, plus a configured Client (closed afterwards)."""
        from interlingua.effects import Client

        from ._server import serve

        async with serve() as server:
            handle = FakeLlm(server)
            async with Client(handle.config(retry_enabled=False)) as client:
                handle._client = client
                yield handle

except ImportError:  # pragma: no cover - pytest-asyncio is what runs async tests; without it, sync only
    pass


@pytest.fixture
def fake_llm_sync() -> Iterator[FakeLlm]:
    """The fakes on a background thread with their own event loop, for synchronous tests/SDKs."""
    from ._server import serve_in_thread

    with serve_in_thread() as server:
        yield FakeLlm(server)
