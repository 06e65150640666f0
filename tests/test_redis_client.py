"""Clients sharing one RedisStore over loopback: the breaker, the budget and the limiter as the
client sees them (chat and stream), the environment variable, events, and the default path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from returns.result import Failure, Success

from interlingua.core import ErrorKind
from interlingua.core import budget as B
from interlingua.core.breaker import Phase
from interlingua.core.catalog import default_catalog
from interlingua.effects import Client, LlmConfig, RedisStore
from interlingua.effects.events import BreakerChanged
from interlingua.fakes import FakeServer, serve

from .helpers import config_for

MODEL = "openai:gpt-4o-mini"


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with serve() as server:
        yield server


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis, as two workers have (a store passed to a Client is the caller's to close)."""
    a, b = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    yield a, b
    await a.aclose()
    await b.aclose()


async def test_a_circuit_opened_by_one_client_is_open_for_another(fake: FakeServer, stores: tuple[RedisStore, RedisStore]) -> None:
    """Client A's failures open the shared circuit; client B (its own store, same Redis) is refused unsent."""
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=2, circuit_breaker_cooldown=30.0)
    events: list[Any] = []
    async with Client(cfg, store=stores[0], on_event=events.append) as a, Client(cfg, store=stores[1]) as b:
        fake.fail_next("openai", "500", 2)
        for _ in range(2):
            assert isinstance(await a.chat(MODEL, "hi"), Failure)
        r = await b.chat(MODEL, "hi")
        assert isinstance(r, Failure) and r.failure().kind is ErrorKind.CIRCUIT_OPEN
        assert r.failure().retry_after is not None and 29.0 < r.failure().retry_after <= 30.0
        s = b.stream(MODEL, "hi")
        items = [item async for item in s]
        assert len(items) == 1 and items[0].failure().kind is ErrorKind.CIRCUIT_OPEN
        assert fake.attempts("openai") == 2
        assert b.breaker("openai").phase is Phase.OPEN
        assert [(e.old, e.new) for e in events if isinstance(e, BreakerChanged)] == [(Phase.CLOSED, Phase.OPEN)]


async def test_streams_and_chats_share_one_budget(fake: FakeServer, stores: tuple[RedisStore, RedisStore]) -> None:
    """A cap for two calls lets exactly two through, whichever client and call kind takes them."""
    plan = B.plan(default_catalog().lookup("openai", "gpt-4o-mini"), prompt_tokens=8, exact=True, max_tokens=16)
    assert plan.cost is not None
    cfg = config_for(fake, limits=B.Limits(max_cost=plan.cost * 2 + plan.cost / 2))
    async with Client(cfg, store=stores[0]) as a, Client(cfg, store=stores[1]) as b:
        assert isinstance(await a.chat(MODEL, "hi", max_tokens=16), Success)
        # the first call settled below its worst case, so the cap now has room for more than one
        chunks = [c async for c in b.stream(MODEL, "hi", max_tokens=16)]
        assert all(isinstance(c, Success) for c in chunks)
        spent = a.total_cost
        assert 0 < spent <= b.total_cost  # b saw the state after a's settlement and its own
        results = [await a.chat(MODEL, "hi", max_tokens=16) for _ in range(5)]
        refused = [r for r in results if isinstance(r, Failure)]
        assert refused and all(r.failure().kind is ErrorKind.BUDGET_EXCEEDED for r in refused)
        assert a.total_cost <= cfg.limits.max_cost  # type: ignore[operator]


async def test_the_environment_variable_selects_the_redis_store(fake: FakeServer, redis_url: str) -> None:
    """INTERLINGUA_REDIS_URL makes the client share its state (and close the store it built)."""
    cfg = LlmConfig.from_env({"INTERLINGUA_REDIS_URL": redis_url}, retry_enabled=False, circuit_breaker_threshold=1)
    cfg = cfg.with_provider("openai", base_url=fake.url_for("openai"), api_key=fake.api_key)
    async with Client(cfg) as a, Client(cfg) as b:
        assert isinstance(a._shared, RedisStore)
        fake.fail_next("openai", "503")
        await a.chat(MODEL, "hi")
        r = await b.chat(MODEL, "hi")
        assert isinstance(r, Failure) and r.failure().kind is ErrorKind.CIRCUIT_OPEN


async def test_without_a_store_nothing_is_shared(fake: FakeServer) -> None:
    """The default client keeps its state to itself: no store, the in-process fast path."""
    async with Client(config_for(fake)) as client:
        assert client._shared is None
        assert isinstance(await client.chat(MODEL, "hi"), Success)
        assert client.total_cost > Decimal(0)


async def test_a_half_open_circuit_lets_exactly_its_probes_through_across_workers(fake: FakeServer, redis_url: str) -> None:
    """After the cooldown, 4 workers x 5 concurrent calls: exactly `probes` (2) requests are sent."""

    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=1, circuit_breaker_cooldown=0.3,
                     circuit_breaker_probes=2)
    stores = [RedisStore.from_url(redis_url) for _ in range(4)]
    clients = [Client(cfg, store=s) for s in stores]
    try:
        fake.fail_next("openai", "503")
        await clients[0].chat(MODEL, "hi")
        await asyncio.sleep(0.35)
        fake.fail_next("openai", "slow=1", 2)  # the probes stay in flight while the others ask
        results = await asyncio.gather(*(c.chat(MODEL, "hi") for c in clients for _ in range(5)))
        assert fake.attempts("openai") == 1 + 2
        assert sum(isinstance(r, Success) for r in results) == 2
        assert all(r.failure().kind is ErrorKind.CIRCUIT_OPEN for r in results if isinstance(r, Failure))
        assert (await stores[0].breaker_state("openai")).phase is Phase.CLOSED
    finally:
        for c in clients:
            await c.close()
        for s in stores:
            await s.aclose()


async def test_a_stream_probe_closes_the_shared_circuit(fake: FakeServer, stores: tuple[RedisStore, RedisStore]) -> None:
    """A half-open probe that streams well is reported from its first chunk: the shared circuit closes."""
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=1, circuit_breaker_cooldown=0.2)
    async with Client(cfg, store=stores[0]) as a:
        fake.fail_next("openai", "503")
        await a.chat(MODEL, "hi")
        assert (await stores[1].breaker_state("openai")).phase is Phase.OPEN
        await asyncio.sleep(0.25)
        chunks = [c async for c in a.stream(MODEL, "hi")]
        assert chunks and all(isinstance(c, Success) for c in chunks)
    # closing the client waited for the report made at the first chunk
    assert (await stores[1].breaker_state("openai")).phase is Phase.CLOSED


async def test_a_cancelled_call_settles_its_shared_reservation(fake: FakeServer, stores: tuple[RedisStore, RedisStore]) -> None:
    """Cancelled while its request is in flight: the shared budget charges the worst case, holds nothing."""
    plan = B.plan(default_catalog().lookup("openai", "gpt-4o-mini"), prompt_tokens=8, exact=True, max_tokens=16)
    cfg = config_for(fake, retry_enabled=False, limits=B.Limits(max_cost=Decimal(1)))
    fake.fail_next("openai", "slow=5")
    async with Client(cfg, store=stores[0]) as a:
        task = asyncio.create_task(a.chat(MODEL, "hi", max_tokens=16))
        while fake.attempts("openai") == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    state = await stores[1].budget_state()
    assert state.reserved == 0 and state.spent == plan.cost
