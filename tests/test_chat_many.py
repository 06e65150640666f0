"""Fan-out now: chat_many against the fakes, with faults, limits, deadlines and bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from returns.result import Failure, Success

from interlingua.core import ChatRequest, ErrorKind, Message
from interlingua.core.budget import Limits, RateLimit
from interlingua.effects import Client
from interlingua.effects.budget import Guard
from interlingua.effects.client import Env
from interlingua.fakes import FakeServer

from .helpers import config_for

MODEL = "openai:gpt-4o-mini"


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def _requests(n: int, bad_every: int = 0) -> Iterator[str | ChatRequest]:
    """Prompts p0…p(n-1); every ``bad_every``-th is a request chat refuses (max_tokens=0)."""
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            yield ChatRequest(model="gpt-4o-mini", messages=(Message.user(f"p{i}"),), max_tokens=0)
        else:
            yield f"p{i}"


def _assert_in_order(results: list[object], n: int, bad_every: int = 0) -> None:
    assert len(results) == n
    for i, r in enumerate(results):
        if bad_every and i % bad_every == bad_every - 1:
            assert isinstance(r, Failure) and r.failure().kind is ErrorKind.INVALID_REQUEST
        else:
            assert isinstance(r, Success) and r.unwrap().text == f"Fake reply: p{i}", (i, r)


async def test_order_kept_and_failures_isolated(fake: FakeServer) -> None:
    """Results come back in input order; refused requests and retried faults never disturb the others."""
    fake.fail_next("openai", "500", times=6)
    fake.fail_next("openai", "429;retry-after=0", times=4)
    async with Client(config_for(fake, max_retries=3, retry_delay=0.001, circuit_breaker_enabled=False), env=Env(sleep=_no_wait)) as client:
        seen: list[tuple[int, int | None]] = []
        results = await client.chat_many(MODEL, list(_requests(60, bad_every=7)), concurrency=8,
                                          on_progress=lambda done, total: seen.append((done, total)))
    _assert_in_order(results, 60, bad_every=7)  # type: ignore[arg-type]
    assert seen == [(i, 60) for i in range(1, 61)]


async def test_iterator_is_drawn_lazily(client: Client) -> None:
    """From an iterator, at most ``concurrency`` requests are drawn ahead of the finished ones."""
    drawn = 0
    finished = 0
    worst = 0

    def source() -> Iterator[str]:
        nonlocal drawn, worst
        for i in range(200):
            drawn += 1
            worst = max(worst, drawn - finished)
            yield f"p{i}"

    def progress(done: int, total: int | None) -> None:
        nonlocal finished
        assert total is None
        finished = done

    results = await client.chat_many(MODEL, source(), concurrency=5, on_progress=progress)
    _assert_in_order(results, 200)  # type: ignore[arg-type]
    assert worst <= 5  # never more drawn than in flight


async def test_async_iterable_input(client: Client) -> None:
    """An async iterable of requests works like a list."""

    async def source() -> AsyncIterator[str]:
        for i in range(20):
            yield f"p{i}"

    _assert_in_order(await client.chat_many(MODEL, source(), concurrency=3), 20)  # type: ignore[arg-type]


async def test_iter_chat_many_stops_cleanly(client: Client, fake: FakeServer) -> None:
    """Leaving iter_chat_many early cancels the in-flight work and draws no more requests."""
    got = []
    async for i, r in client.iter_chat_many(MODEL, _requests(10_000), concurrency=4):
        got.append((i, r))
        if len(got) == 10:
            break
    await asyncio.sleep(0.05)
    assert fake.attempts("openai") < 30


async def test_rate_limit_waits_for_turns(fake: FakeServer) -> None:
    """Under a requests-per-minute limit every request waits for its turn: no 429s, all succeed."""
    clock_now = [1_000.0]
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        clock_now[0] += s
        await asyncio.sleep(0)

    async with Client(config_for(fake, retry_enabled=False)) as client:
        client._guard = Guard(Limits(rate_limits=(RateLimit(provider="openai", requests_per_minute=5),)),
                              clock=lambda: clock_now[0], sleep=sleep)
        results = await client.chat_many(MODEL, list(_requests(12)), concurrency=12)
    _assert_in_order(results, 12)  # type: ignore[arg-type]
    assert fake.attempts("openai") == 12 and len(slept) >= 7


async def test_budget_is_never_crossed(fake: FakeServer) -> None:
    """With a spending cap, the requests past it fail with budget_exceeded and the total stays under it."""
    cap = Decimal("0.0001")
    async with Client(config_for(fake, retry_enabled=False, limits=Limits(max_cost=cap))) as client:
        results = await client.chat_many(MODEL, [f"p{i}" for i in range(50)], concurrency=10, max_tokens=20)
        spent = client.total_cost
    refused = [r for r in results if isinstance(r, Failure)]
    assert refused and all(r.failure().kind is ErrorKind.BUDGET_EXCEEDED for r in refused)
    assert any(isinstance(r, Success) for r in results) and spent <= cap


async def test_deadline_fails_only_the_unfinished(fake: FakeServer) -> None:
    """Requests still hanging at the fan-out's deadline fail with timeout; the others are answered."""
    fake.fail_next("openai", "hang", times=2)
    async with Client(config_for(fake, retry_enabled=False)) as client:
        results = await client.chat_many(MODEL, [f"p{i}" for i in range(10)], concurrency=10, deadline=1.0)
    timeouts = [r for r in results if isinstance(r, Failure)]
    assert len(timeouts) == 2 and all(r.failure().kind is ErrorKind.TIMEOUT for r in timeouts)
    assert sum(isinstance(r, Success) for r in results) == 8


async def test_breaker_open_fails_fast(fake: FakeServer) -> None:
    """Once the circuit opens, the remaining requests fail with circuit_open instead of reaching the server."""
    fake.fail_next("openai", "500", times=1000)
    async with Client(config_for(fake, retry_enabled=False, circuit_breaker_threshold=3)) as client:
        results = await client.chat_many(MODEL, [f"p{i}" for i in range(40)], concurrency=1)
    kinds = [r.failure().kind for r in results]  # type: ignore[union-attr]
    assert kinds.count(ErrorKind.CIRCUIT_OPEN) >= 30 and fake.attempts("openai") < 10


@pytest.mark.slow
async def test_ten_thousand_requests_with_faults(fake: FakeServer) -> None:
    """10,000 requests from a generator, with faults injected, give 10,000 Results in input order."""
    # A FIFO of faults met by 32 requests at a time: each request meets at most a few (< max_retries).
    fake.fail_next("openai", "500", times=60)
    fake.fail_next("openai", "503", times=30)
    async with Client(config_for(fake, max_retries=6, retry_delay=0.001, circuit_breaker_enabled=False), env=Env(sleep=_no_wait)) as client:
        results = await client.chat_many(MODEL, _requests(10_000, bad_every=97), concurrency=32)
    _assert_in_order(results, 10_000, bad_every=97)  # type: ignore[arg-type]


_CANNED = (b'{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,'
           b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
           b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')


class _Canned:
    """A transport that answers every request at once (no sockets): the fan-out machinery alone."""

    async def send(self, request: object, *, timeouts: object, max_bytes: int) -> object:
        from interlingua.core import HttpResponse

        await asyncio.sleep(0)
        return Success(HttpResponse(200, body=_CANNED))

    def stream(self, request: object, *, timeouts: object, max_bytes: int) -> object:
        raise NotImplementedError

    async def close(self) -> None:
        return None


async def test_iter_chat_many_memory_does_not_grow_with_the_count() -> None:
    """Traced peak memory of iter_chat_many over 4x the requests stays flat (requests drawn lazily, results dropped)."""
    import tracemalloc

    from interlingua.effects import LlmConfig

    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url="http://127.0.0.1:9/v1", api_key="k")
    peaks = []
    async with Client(cfg, transport=_Canned()) as client:  # type: ignore[arg-type]
        async for _ in client.iter_chat_many(MODEL, (f"warm {i}" for i in range(300)), concurrency=16):
            pass  # first-use allocations (caches, pools) out of the measurement
        for n in (500, 2_000):
            tracemalloc.start()
            count = 0
            async for _, r in client.iter_chat_many(MODEL, (f"request {i}" for i in range(n)), concurrency=16):
                count += isinstance(r, Success)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            assert count == n
    assert peaks[1] < peaks[0] * 1.5, peaks
