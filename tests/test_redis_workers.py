"""Many worker processes, one Redis, one set of limits: real processes (``tests/redis_worker.py``),
a real redis-server and the fakes served from this test process, which counts what arrives."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from interlingua.core import Message
from interlingua.core import budget as B
from interlingua.core.budget import RateLimit
from interlingua.core.catalog import default_catalog
from interlingua.core.ratelimit import Granted
from interlingua.core.tokens import count_tokens
from interlingua.effects import RedisStore
from interlingua.fakes import FakeServer, serve

from .redis_server import RedisServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "openai:gpt-4o-mini"
Outcomes = list[tuple[float, str]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async with serve() as server:
        yield server


class Worker:
    """One ``python -m tests.redis_worker`` process, started and waiting for its go."""

    def __init__(self, proc: asyncio.subprocess.Process, go: str) -> None:
        self.proc = proc
        self.go = go

    @classmethod
    async def start(cls, fake: FakeServer, redis_url: str, name: str, **spec: Any) -> Worker:
        go = f"go-{name}-{time.monotonic_ns()}"
        spec = {"redis_url": redis_url, "fake_url": fake.url_for("openai"), "api_key": fake.api_key, "go": go, **spec}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.redis_worker", json.dumps(spec), cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line != b"ready\n":
            err = await proc.stderr.read() if proc.stderr else b""
            raise AssertionError(f"worker did not start: {line!r} {err.decode()[-2000:]}")
        return cls(proc, go)

    async def result(self, timeout: float = 60) -> Outcomes:
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        assert self.proc.returncode == 0, err.decode()[-2000:]
        return [(t, kind) for t, kind in json.loads(out.decode().strip().splitlines()[-1])]


async def go(redis_url: str, *workers: Worker) -> None:
    r = aioredis.from_url(redis_url)
    try:
        for w in workers:
            await r.rpush(w.go, "1")
    finally:
        await r.aclose()


def one_call() -> B.Plan:
    """The worst case a worker reserves for one ``chat(MODEL, "hi", max_tokens=16)``."""
    count = count_tokens(MODEL, (Message.user("hi"),), ())
    return B.plan(default_catalog().lookup("openai", "gpt-4o-mini"), prompt_tokens=count.count, exact=count.exact, max_tokens=16)


async def test_four_workers_fifty_calls_each_send_exactly_what_the_budget_allows(fake: FakeServer, redis_url: str) -> None:
    """4 workers x 50 concurrent calls against a budget for 25 calls: exactly 25 reach the provider."""
    cost = one_call().cost
    assert cost is not None
    cap = cost * 25 + cost / 2
    # slow answers: every worker asks for its 50 reservations while the first 25 are still in flight
    fake.fail_next("openai", "slow=2", 200)
    workers = await asyncio.gather(*(
        Worker.start(fake, redis_url, f"w{i}", calls=50, concurrency=50, max_cost=str(cap)) for i in range(4)
    ))
    await go(redis_url, *workers)
    outcomes = [o for w in workers for o in await w.result()]
    kinds = [k for _, k in outcomes]
    assert fake.attempts("openai") == 25
    assert kinds.count("ok") == 25 and kinds.count("budget_exceeded") == 175
    store = RedisStore.from_url(redis_url)
    try:
        state = await store.budget_state()
        assert 0 < state.spent <= cap and state.reserved == 0
    finally:
        await store.aclose()


async def test_a_global_rate_limit_holds_across_workers(fake: FakeServer, redis_url: str) -> None:
    """120 requests/minute shared by 4 workers (clock compressed 15x): the rate at the fake is within 5 %."""
    scale = 15.0
    workers = await asyncio.gather(*(
        Worker.start(fake, redis_url, f"r{i}", calls=10**6, concurrency=3, duration=6.0, rpm=120, scale=scale)
        for i in range(4)
    ))
    samples: list[tuple[float, int]] = []
    # empty the shared bucket first (it starts full: a burst of 120), so the steady rate is measured
    drain = RedisStore.from_url(redis_url, clock_scale=scale)
    try:
        rules = (RateLimit(provider="openai", requests_per_minute=120),)
        while isinstance(await drain.rate_acquire(rules, "openai", "gpt-4o-mini", 1), Granted):
            pass
    finally:
        await drain.aclose()
    await go(redis_url, *workers)
    start = time.monotonic()
    while time.monotonic() - start < 6.0:
        samples.append((time.monotonic() - start, fake.attempts("openai")))
        await asyncio.sleep(0.02)
    for w in workers:
        await w.result()
    first = next(t for t, n in samples if n > 0)
    window = [(t, n) for t, n in samples if first + 0.5 <= t <= 5.5]
    (t0, n0), (t1, n1) = window[0], window[-1]
    per_minute = (n1 - n0) / (t1 - t0) * 60.0 / scale
    assert abs(per_minute / 120.0 - 1.0) <= 0.05, per_minute


async def test_one_workers_failures_open_the_circuit_for_all(fake: FakeServer, redis_url: str) -> None:
    """Worker A sees 5 failures; workers B, C, D then get circuit_open without sending anything."""
    fake.fail_next("openai", "500", 5)
    a, *others = await asyncio.gather(*(Worker.start(fake, redis_url, f"b{i}", calls=5 if i == 0 else 3) for i in range(4)))
    await go(redis_url, a)
    seen = [k for _, k in await a.result()]
    assert len(seen) == 5 and not {"ok", "circuit_open"} & set(seen)
    assert fake.attempts("openai") == 5
    await go(redis_url, *others)
    for w in others:
        assert [k for _, k in await w.result()] == ["circuit_open"] * 3
    assert fake.attempts("openai") == 5


async def test_a_killed_workers_reservation_returns_after_its_lease(fake: FakeServer, redis_url: str) -> None:
    """A worker killed while its call is in flight holds its reservation only until the lease ends."""
    fake.fail_next("openai", "slow=30")
    w = await Worker.start(fake, redis_url, "k", calls=1, max_cost="1", lease=3.0)
    store = RedisStore.from_url(redis_url)
    try:
        await go(redis_url, w)
        deadline = time.monotonic() + 20
        while (await store.budget_state()).reserved == 0:
            assert time.monotonic() < deadline, "the worker never reserved"
            await asyncio.sleep(0.02)
        w.proc.kill()
        await w.proc.wait()
        assert (await store.budget_state()).reserved == one_call().cost
        await asyncio.sleep(3.2)
        assert (await store.budget_state()).reserved == 0
    finally:
        await store.aclose()


async def test_redis_stopped_mid_run_then_back(fake: FakeServer) -> None:
    """Redis down: budgeted calls are refused (fail_closed), not sent unmetered; back: shared again."""
    with RedisServer() as server:
        w = await Worker.start(fake, server.url, "o", calls=10**6, duration=4.5, pause=0.05, max_cost="1", timeout=0.3)
        await go(server.url, w)
        await asyncio.sleep(1.2)
        server.stop()
        stopped = 1.2
        await asyncio.sleep(1.5)
        server.start()
        restarted = 2.7
        outcomes = await w.result()
        before = [k for t, k in outcomes if t < stopped - 0.2]
        during = [k for t, k in outcomes if stopped + 0.3 < t < restarted - 0.1]
        after = [k for t, k in outcomes if t > restarted + 0.8]
        assert before and set(before) == {"ok"}
        assert during and set(during) == {"budget_exceeded"}
        assert after and set(after) == {"ok"}
        store = RedisStore.from_url(server.url)
        try:
            state = await store.budget_state()  # the restarted Redis holds the spend since it came back
            assert state.spent > 0 and state.reserved == 0 and state.spent <= Decimal(1)
        finally:
            await store.aclose()
