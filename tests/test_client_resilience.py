"""The client applies breaker, retries, failover and timeouts over loopback, and reports each step."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from returns.result import Failure, Success

from interlingua.core import ErrorKind
from interlingua.core.breaker import Phase
from interlingua.effects import Client
from interlingua.effects.events import AttemptDone, BreakerChanged, FailedOver, GaveUp, RetryDetails
from interlingua.fakes import FakeServer

from .helpers import config_for
from .resilience_support import FakeTime, leak_check, warm_fake

MODEL = "openai:gpt-4o-mini"


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    """Warm fakes; leak checks run after the server is gone."""
    async for _ in leak_check():
        async for server in warm_fake():
            yield server


async def test_breaker_opens_rejects_then_half_opens_and_closes(fake: FakeServer) -> None:
    """Three failures open the circuit; calls are rejected without a request until the cooldown; a probe closes it."""
    clock = FakeTime()
    events: list[Any] = []
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=3, circuit_breaker_cooldown=10.0)
    async with Client(cfg, env=clock.env(), on_event=events.append) as client:
        fake.fail_next("openai", "500", 3)
        for _ in range(3):
            err = (await client.chat(MODEL, "hi")).failure()
            assert (err.kind, err.status, err.provider) == (ErrorKind.PROVIDER, 500, "openai")
        r = await client.chat(MODEL, "hi")
        assert isinstance(r, Failure) and r.failure().kind is ErrorKind.CIRCUIT_OPEN
        assert r.failure().retry_after == 10.0 and "half-opens in 10s" in r.failure().message
        assert fake.attempts("openai") == 3
        clock.now += 10.0
        assert isinstance(await client.chat(MODEL, "hi"), Success)
        assert client.breaker("openai").phase is Phase.CLOSED
    changes = [(e.old, e.new) for e in events if isinstance(e, BreakerChanged)]
    assert changes == [(Phase.CLOSED, Phase.OPEN), (Phase.OPEN, Phase.HALF_OPEN), (Phase.HALF_OPEN, Phase.CLOSED)]


async def test_breaker_state_is_per_client(fake: FakeServer) -> None:
    """An open circuit in one client does not affect another (no module globals)."""
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=1)
    async with Client(cfg) as a, Client(cfg) as b:
        fake.fail_next("openai", "503")
        await a.chat(MODEL, "hi")
        assert a.breaker("openai").phase is Phase.OPEN
        assert isinstance(await b.chat(MODEL, "hi"), Success)


async def test_failover_after_exhausted_retries(fake: FakeServer) -> None:
    """The primary fails every attempt; the call-level fallback answers and the result says so."""
    clock = FakeTime()
    events: list[Any] = []
    async with Client(config_for(fake, max_retries=1), env=clock.env(), on_event=events.append) as client:
        fake.fail_next("openai", "503", 2)
        r = await client.chat(MODEL, "hi", fallbacks=["mystery-model", "openai:gpt-4.1-mini"])
    assert isinstance(r, Success)
    resp = r.unwrap()
    assert resp.model == "gpt-4.1-mini" and resp.provider == "openai"
    assert resp.provider_metadata["attempts"] == 3 and resp.provider_metadata["failed_over_from"] == (MODEL,)
    assert [type(e) for e in events if not isinstance(e, AttemptDone)] == [RetryDetails, GaveUp, FailedOver]


async def test_failover_from_config_on_open_circuit_streams(fake: FakeServer) -> None:
    """With the primary's circuit open, a stream fails over at once (config fallbacks, per-model breaker)."""
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=1, circuit_breaker_per_model=True,
                     fallbacks=("openai:gpt-4.1-mini",))
    async with Client(cfg) as client:
        fake.fail_next("openai", "500")  # the primary fails once: its circuit opens, the fallback answers
        first = await client.chat(MODEL, "hi")
        assert isinstance(first, Success) and first.unwrap().provider_metadata["attempts"] == 2
        assert client.breaker(MODEL).phase is Phase.OPEN
        fake.state.clear()
        r = await client.stream_response(MODEL, "hi", fallbacks=None)
    assert isinstance(r, Success) and r.unwrap().model == "gpt-4.1-mini"
    assert r.unwrap().provider_metadata["failed_over_from"] == (MODEL,) and fake.attempts("openai") == 1


async def test_no_failover_for_caller_errors(fake: FakeServer) -> None:
    """An invalid request is not something another model can fix: no failover, one attempt."""
    async with Client(config_for(fake)) as client:
        r = await client.chat("openai:no-such-model", "hi", fallbacks=[MODEL])
    assert isinstance(r, Failure) and r.failure().kind is ErrorKind.NOT_FOUND and fake.attempts("openai") == 1


async def test_stream_output_is_never_duplicated(fake: FakeServer) -> None:
    """A 503 before the first chunk is retried invisibly; the caller sees one clean copy of the text."""
    clock = FakeTime()
    async with Client(config_for(fake), env=clock.env()) as client:
        fake.fail_next("openai", "503")
        text = "".join([i.unwrap().text async for i in client.stream(MODEL, "Tell me a story")])
        expected = (await client.chat(MODEL, "Tell me a story")).unwrap().text
    assert text == expected


async def test_first_byte_and_idle_timeouts_are_named(fake: FakeServer) -> None:
    """A slow first byte and a stalled stream fail with different, precise messages."""
    cfg = config_for(fake, retry_enabled=False, first_byte_timeout=0.2, idle_timeout=0.2)
    async with Client(cfg) as client:
        fake.fail_next("openai", "slow=1")
        r = await client.chat(MODEL, "hi")
        assert r.failure().kind is ErrorKind.TIMEOUT and "first_byte timeout" in r.failure().message
        fake.fail_next("openai", "idle=1")
        last = [i async for i in client.stream(MODEL, "Tell me a story")][-1]
        assert last.failure().kind is ErrorKind.STREAMING and "idle timeout" in last.failure().message


async def test_total_timeout_bounds_a_hang(fake: FakeServer) -> None:
    """Without a first-byte limit, the total timeout ends a hang."""
    async with Client(config_for(fake, retry_enabled=False, first_byte_timeout=None, timeout=0.2)) as client:
        fake.fail_next("openai", "hang")
        r = await client.chat(MODEL, "hi")
    assert r.failure().kind is ErrorKind.TIMEOUT and "total timeout" in r.failure().message


async def test_slow_consumer_is_not_an_idle_stream(fake: FakeServer) -> None:
    """Time the caller spends between chunks is not charged to the server's idle limit."""
    async with Client(config_for(fake, retry_enabled=False, idle_timeout=0.1)) as client:
        items = []
        async for i in client.stream(MODEL, "Tell me a story"):
            items.append(i)
            await asyncio.sleep(0.03)
    assert all(isinstance(i, Success) for i in items) and len(items) > 4


async def test_cancelled_probe_frees_its_slot(fake: FakeServer) -> None:
    """A half-open probe whose task is cancelled gives its slot back; the next call may probe."""
    clock = FakeTime()
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=1, circuit_breaker_cooldown=1.0)
    async with Client(cfg, env=clock.env()) as client:
        fake.fail_next("openai", "500")
        await client.chat(MODEL, "hi")
        clock.now += 1.0
        fake.fail_next("openai", "hang")
        task = asyncio.create_task(client.chat(MODEL, "hi"))
        while fake.attempts("openai") < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.breaker("openai").probes == 0
        assert isinstance(await client.chat(MODEL, "hi"), Success)


async def test_log_records_describe_each_step(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """The "interlingua" logger gets one record per attempt, retry and give-up, with the record attached."""
    caplog.set_level(logging.DEBUG, logger="interlingua")
    async with Client(config_for(fake, max_retries=1), env=FakeTime().env()) as client:
        fake.fail_next("openai", "429;retry-after=2", 2)
        await client.chat(MODEL, "hi")
    messages = [r.getMessage() for r in caplog.records if r.name == "interlingua"]
    assert messages == [
        "openai:gpt-4o-mini attempt 1 failed in 0.000s: rate_limit (HTTP 429)",
        "retrying openai:gpt-4o-mini in 2s after attempt 1 failed: rate_limit (HTTP 429)",
        "openai:gpt-4o-mini attempt 2 failed in 0.000s: rate_limit (HTTP 429)",
        "giving up on openai:gpt-4o-mini after 2 attempt(s) (attempts): rate_limit (HTTP 429)",
    ]
    assert all(hasattr(r, "interlingua") for r in caplog.records if r.name == "interlingua")


async def test_cancelling_a_stalled_stream_read_is_a_cancellation(fake: FakeServer) -> None:
    """A caller's cancel while a body read waits propagates as CancelledError: the body timer never turns it into a timeout."""
    async with Client(config_for(fake, retry_enabled=False, idle_timeout=5.0, timeout=5.0)) as client:
        fake.fail_next("openai", "idle=3")
        seen: list[object] = []

        async def consume() -> None:
            async for i in client.stream(MODEL, "Tell me a story"):
                seen.append(i)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen and all(isinstance(i, Success) for i in seen)
