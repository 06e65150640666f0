"""Every landed provider x every injectable fault x {chat, stream}, against the fakes over loopback:
the typed error or the success after retries, the exact attempt count the fake saw, no leaks, no
secret anywhere; then a 10,000-request load run with seeded faults."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from returns.result import Failure, Result, Success

from interlingua.core import ErrorKind, LlmError
from interlingua.effects import Client
from interlingua.fakes import FakeServer

from .helpers import config_for
from .resilience_support import MODELS, SENTINEL_KEY, FakeTime, leak_check, warm_fake

OK = "ok"
FB = 0.3  # first-byte and idle limits: long enough for a warm fake, short enough to keep this fast

# (fault spec, times injected) → (chat outcome, chat attempts), (stream outcome, stream attempts).
# An outcome is OK or the ErrorKind of the final Failure. Three attempts at most (max_retries=2).
# Stream-only faults (idle, error-event) leave a non-stream answer alone, and the body faults
# (truncate, oversize, content-type) apply to JSON answers only: the fakes document both.
MATRIX: list[tuple[str, int, tuple[str, int], tuple[str, int]]] = [
    ("429;retry-after=1", 1, (OK, 2), (OK, 2)),
    ("429;retry-after=1", 3, (ErrorKind.RATE_LIMIT, 3), (ErrorKind.RATE_LIMIT, 3)),
    ("500", 1, (OK, 2), (OK, 2)),
    ("502", 1, (OK, 2), (OK, 2)),
    ("503", 1, (OK, 2), (OK, 2)),
    ("529", 1, (OK, 2), (OK, 2)),
    ("500", 3, (ErrorKind.PROVIDER, 3), (ErrorKind.PROVIDER, 3)),
    ("reset", 1, (OK, 2), (OK, 2)),
    ("reset", 3, (ErrorKind.NETWORK, 3), (ErrorKind.NETWORK, 3)),
    ("hang", 1, (OK, 2), (OK, 2)),
    ("hang", 3, (ErrorKind.TIMEOUT, 3), (ErrorKind.TIMEOUT, 3)),
    ("slow=1", 1, (OK, 2), (OK, 2)),
    # a non-stream cut is a body cut short (retried); a stream cut after chunks reached the caller
    # is a streaming error and is never retried (no duplicated output)
    ("cut=2", 1, (OK, 2), (ErrorKind.STREAMING, 1)),
    ("idle=1", 1, (OK, 1), (ErrorKind.STREAMING, 1)),
    ("error-event", 1, (OK, 1), (ErrorKind.STREAMING, 1)),
    ("malformed", 1, (ErrorKind.DECODE, 1), (ErrorKind.STREAMING, 1)),
    ("truncate", 1, (OK, 2), (OK, 1)),
    ("oversize=2000000", 1, (ErrorKind.DECODE, 1), (OK, 1)),
    ("content-type", 1, (ErrorKind.DECODE, 1), (OK, 1)),
]


# Where a provider's framing changes the stream outcome. Bedrock's first frame (messageStart)
# carries no content, so a fault at the second frame strikes before any chunk reached the caller:
# the stream is still retryable.
# Anthropic's mid-stream `error` event carries its own type (overloaded_error), kept as the kind.
STREAM_OVERRIDES: dict[tuple[str, str], tuple[str, int]] = {
    ("bedrock", "idle=1"): (OK, 2),
    ("bedrock", "error-event"): (OK, 2),
    ("anthropic", "error-event"): (ErrorKind.OVERLOADED, 1),
    # a CRC-corrupt binary frame is a decode error of the framing itself, not of one event's JSON
    ("bedrock", "malformed"): (ErrorKind.DECODE, 1),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    """Warm fakes keyed with the sentinel; leak checks run after the server is gone."""
    async for _ in leak_check():
        async for server in warm_fake():
            yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_fake() -> AsyncIterator[FakeServer]:
    """One warm fake for every matrix cell (starting and warming one per cell was most of the
    matrix's time); its leak check runs when the module is done and the server is gone."""
    async for _ in leak_check():
        async for server in warm_fake():
            yield server


@pytest_asyncio.fixture(loop_scope="module")
async def cell_fake(shared_fake: FakeServer) -> AsyncIterator[FakeServer]:
    """The shared fake, reset for one cell (counters, queued faults); each cell still checks that
    its client left no session, connector or task behind. The cells share nothing else: every one
    builds its own client (breaker, limiter, budget), and a fault is consumed by the request it hits."""
    shared_fake.state.clear()
    async for _ in leak_check(server_shared=True):
        yield shared_fake
    shared_fake.state.clear()


def _settings(**extra: Any) -> dict[str, Any]:
    return {
        "max_retries": 2,
        "retry_delay": 0.5,
        "first_byte_timeout": FB,
        "idle_timeout": FB,
        "timeout": 10.0,
        "max_response_bytes": 1_000_000,
        "circuit_breaker_threshold": 10,  # chat and stream share a client: 6 failures in a row
        **extra,
    }


def _outcome(r: Result[Any, LlmError]) -> str:
    return OK if isinstance(r, Success) else r.failure().kind


async def _stream(client: Client, model: str) -> tuple[list[Result[Any, LlmError]], Result[Any, LlmError]]:
    items = [i async for i in client.stream(model, "Tell me a story about faults")]
    failures = [i for i in items if isinstance(i, Failure)]
    assert len(failures) <= 1 and (not failures or items[-1] is failures[0]), "a Failure is the last item"
    return items, items[-1]


def _assert_no_secret(*things: object) -> None:
    for t in things:
        assert SENTINEL_KEY not in repr(t) and SENTINEL_KEY not in str(t)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("provider", sorted(MODELS))
@pytest.mark.parametrize(("fault", "times", "chat", "stream"), MATRIX, ids=[f"{f}x{n}" for f, n, *_ in MATRIX])
async def test_fault_matrix(
    cell_fake: FakeServer, caplog: pytest.LogCaptureFixture, provider: str, fault: str, times: int,
    chat: tuple[str, int], stream: tuple[str, int],
) -> None:
    """The fault gives the expected typed error or success after retries, in exactly N attempts."""
    fake = cell_fake
    model = MODELS[provider]
    caplog.set_level(logging.DEBUG, logger="interlingua")
    clock = FakeTime()
    events: list[Any] = []
    async with Client(config_for(fake, **_settings()), env=clock.env(), on_event=events.append) as client:
        fake.fail_next(provider, fault, times)
        r = await client.chat(model, "Tell me a story about faults")
        assert (_outcome(r), fake.attempts(provider)) == chat
        if isinstance(r, Success):
            assert r.unwrap().provider == provider and r.unwrap().provider_metadata["attempts"] == chat[1]
        else:
            assert r.failure().attempts == chat[1] and r.failure().provider == provider

        fake.state.clear()
        fake.fail_next(provider, fault, times)
        items, last = await _stream(client, model)
        stream = STREAM_OVERRIDES.get((provider, fault), stream)
        assert (_outcome(last), fake.attempts(provider)) == stream
        chunks = [i.unwrap() for i in items if isinstance(i, Success)]
        if chunks:
            assert chunks[0].provider_metadata and chunks[0].provider_metadata["attempts"] <= stream[1]
        _assert_no_secret(client, r, *items, *events)
    for rec in caplog.records:
        _assert_no_secret(rec.getMessage(), rec.__dict__)


async def test_retry_after_is_waited_exactly(fake: FakeServer) -> None:
    """A 429 with Retry-After: 3 makes the client sleep exactly 3 s (fake clock), then succeed."""
    clock = FakeTime()
    async with Client(config_for(fake, **_settings()), env=clock.env()) as client:
        fake.fail_next("openai", "429;retry-after=3", 2)
        r = await client.chat(MODELS["openai"], "hi")
    assert isinstance(r, Success) and clock.sleeps == [3.0, 3.0] and fake.attempts("openai") == 3


async def test_backoff_schedule_over_the_wire(fake: FakeServer) -> None:
    """Three 503s: sleeps follow full-jitter backoff exactly (draw 0.5: 0.25, 0.5, 1.0), then success."""
    clock = FakeTime(draw=0.5)
    async with Client(config_for(fake, **_settings(max_retries=3)), env=clock.env()) as client:
        fake.fail_next("openai", "503", 3)
        r = await client.chat(MODELS["openai"], "hi")
    assert isinstance(r, Success) and clock.sleeps == [0.25, 0.5, 1.0] and r.unwrap().provider_metadata["attempts"] == 4


async def test_oversized_stream_is_cut_at_the_cap(fake: FakeServer) -> None:
    """A stream longer than max_response_bytes ends with a decode error, not unbounded memory."""
    async with Client(config_for(fake, **_settings(max_response_bytes=200))) as client:
        items = [i async for i in client.stream(MODELS["openai"], "Tell me a long story about limits")]
    assert isinstance(items[-1], Failure) and items[-1].failure().kind is ErrorKind.DECODE
    assert "max_response_bytes" in items[-1].failure().message


async def test_wrong_key_echo_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """The fake echoes a masked wrong key (as OpenAI does); no part of the sentinel survives."""
    caplog.set_level(logging.DEBUG, logger="interlingua")
    async for _ in leak_check():
        async for server in warm_fake(api_key="the-right-key"):
            cfg = config_for(server, **_settings()).with_provider("openai", api_key=SENTINEL_KEY)
            async with Client(cfg) as client:
                r = await client.chat(MODELS["openai"], "hi")
                items = [i async for i in client.stream(MODELS["openai"], "hi")]
            assert isinstance(r, Failure) and r.failure().kind is ErrorKind.AUTHENTICATION
            _assert_no_secret(r, r.failure().to_exception(), *items, client)
            for frag in (SENTINEL_KEY[:8], SENTINEL_KEY[-6:]):
                assert frag not in repr(r) and frag not in repr(items)
    for rec in caplog.records:
        _assert_no_secret(rec.getMessage(), rec.__dict__)


LOAD_FAULTS = ["429;retry-after=0", "500", "503", "529", "reset", "malformed", "truncate", "cut=1"]


@pytest.mark.slow
async def test_load_ten_thousand_requests(fake: FakeServer) -> None:
    """10,000 requests, 256 at a time, 10 % seeded faults: exactly 10,000 terminal Results, every
    attempt the fake counted accounted for by the client's records, no connection left checked out."""
    rng = random.Random(20240601)
    plan = [rng.choice(LOAD_FAULTS) if rng.random() < 0.10 else None for _ in range(10_000)]
    clock = FakeTime()
    # Generous timeouts: 256 requests in flight on a small machine are slow, not faulty.
    cfg = config_for(fake, **_settings(first_byte_timeout=None, idle_timeout=30.0, timeout=60.0, max_retries=3,
                                       pool_limit=256, pool_limit_per_host=256, circuit_breaker_threshold=10_000))
    gate = asyncio.Semaphore(256)
    results: list[Result[Any, LlmError]] = []
    kinds: dict[str, int] = {"attempt": 0, "retry": 0, "gave_up": 0}

    def count(ev: Any) -> None:
        kinds[type(ev).__struct_config__.tag] = kinds.get(type(ev).__struct_config__.tag, 0) + 1

    async def one(fault: str | None) -> None:
        async with gate:
            # Queued faults go to whichever request the fake sees next, retries included.
            if fault is not None:
                fake.fail_next("openai", fault)
            results.append(await client.chat(MODELS["openai"], "load"))

    async with Client(cfg, env=clock.env(), on_event=count) as client:
        async with asyncio.TaskGroup() as tg:
            for f in plan:
                tg.create_task(one(f))
        connector = client._transport._session.connector  # type: ignore[attr-defined]
        assert not connector._acquired, "every connection went back to the pool or was closed"
    assert len(results) == 10_000
    failures = [r.failure() for r in results if isinstance(r, Failure)]
    injected = {ErrorKind.DECODE, ErrorKind.RATE_LIMIT, ErrorKind.PROVIDER, ErrorKind.OVERLOADED, ErrorKind.NETWORK}
    assert {f.kind for f in failures} <= injected
    assert fake.attempts("openai") == kinds["attempt"] == 10_000 + kinds["retry"]
    assert len(failures) == kinds["gave_up"] >= plan.count("malformed")
    assert not fake.state.faults["openai"], "every injected fault was served"
