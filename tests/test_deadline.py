"""One total deadline per call, over loopback: attempts, sleeps, limiter waits, failover and a stream's
first chunk all fit in it, whatever the servers do; a closed client answers without reopening.

The bounds below are loose on purpose (the machine is shared and noisy): each would fail by seconds
if the deadline were ignored (a hang waits for the 600 s total timeout, a Retry-After of 30 s is slept,
three fallbacks each get the whole deadline), never by milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from returns.result import Failure, Success

from interlingua.core import ErrorKind, LlmError, ModelRef
from interlingua.core.budget import Limits, RateLimit
from interlingua.effects import Client, LlmConfig
from interlingua.effects.observe import CallInfo, CallTrace
from interlingua.fakes import FakeServer

from .helpers import config_for
from .resilience_support import leak_check, warm_fake

MODEL = "openai:gpt-4o-mini"
SLACK = 1.0  # seconds of scheduling noise tolerated past a deadline (the failures being guarded against are longer)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    async for _ in leak_check():
        async for server in warm_fake():
            yield server


async def test_a_hang_ends_at_the_call_deadline(fake: FakeServer) -> None:
    """A server that never answers costs the call its deadline, not the 600 s exchange timeout."""
    async with Client(config_for(fake, first_byte_timeout=None)) as client:
        fake.fail_next("openai", "hang", times=10)
        began = time.monotonic()
        r = await client.chat(MODEL, "hi", deadline=0.5)
        elapsed = time.monotonic() - began
    err = r.failure()
    assert err.kind is ErrorKind.TIMEOUT and "deadline of 0.5s" in err.message and err.provider == "openai"
    assert 0.4 <= elapsed < 0.5 + SLACK


async def test_a_retry_after_past_the_deadline_is_not_slept(fake: FakeServer) -> None:
    """A 429 asking for 30 s under a 2 s deadline returns the 429 at once, with its retry_after."""
    async with Client(config_for(fake)) as client:
        fake.fail_next("openai", "429;retry-after=30")
        began = time.monotonic()
        r = await client.chat(MODEL, "hi", deadline=2)
        elapsed = time.monotonic() - began
    err = r.failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.status == 429 and err.retry_after == 30.0
    assert err.attempts == 1 and fake.attempts("openai") == 1
    assert elapsed < 2


async def test_failover_shares_one_deadline(fake: FakeServer) -> None:
    """Three hanging models in a row share the one deadline (before, each fallback got it afresh)."""
    async with Client(config_for(fake, first_byte_timeout=None)) as client:
        for provider in ("openai", "anthropic", "gemini"):
            fake.fail_next(provider, "hang", times=5)
        began = time.monotonic()
        r = await client.chat(
            MODEL, "hi", fallbacks=["anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash"], deadline=1.0
        )
        elapsed = time.monotonic() - began
    assert r.failure().kind is ErrorKind.TIMEOUT
    assert elapsed < 1.0 + SLACK


async def test_retry_deadline_is_the_old_name_of_deadline(fake: FakeServer) -> None:
    """``LlmConfig(retry_deadline=…)`` bounds a whole call, fallbacks included, like ``deadline``."""
    cfg = config_for(fake, first_byte_timeout=None, retry_deadline=0.5, fallbacks=("anthropic:claude-haiku-4-5",))
    assert cfg.call_deadline == 0.5
    async with Client(cfg) as client:
        fake.fail_next("openai", "hang", times=5)
        fake.fail_next("anthropic", "hang", times=5)
        began = time.monotonic()
        r = await client.chat(MODEL, "hi")
        elapsed = time.monotonic() - began
    assert r.failure().kind is ErrorKind.TIMEOUT and "deadline of 0.5s" in r.failure().message
    assert elapsed < 0.5 + SLACK


async def test_a_stream_is_bounded_up_to_its_first_chunk(fake: FakeServer) -> None:
    """A stream that never starts ends at the deadline with a timeout, as its only (last) item."""
    async with Client(config_for(fake, first_byte_timeout=None, retry_enabled=False)) as client:
        fake.fail_next("openai", "hang")
        began = time.monotonic()
        items = [i async for i in client.stream(MODEL, "hi", deadline=0.5)]
        elapsed = time.monotonic() - began
    assert len(items) == 1 and items[0].failure().kind is ErrorKind.TIMEOUT
    assert elapsed < 0.5 + SLACK


async def test_the_deadline_does_not_cut_a_stream_that_started(fake: FakeServer) -> None:
    """After the first chunk only the idle/total timeouts apply: a stall past the deadline still completes."""
    async with Client(config_for(fake, retry_enabled=False)) as client:
        fake.fail_next("openai", "idle=0.6")
        r = await client.stream_response(MODEL, "Tell me a story", deadline=0.3)
    assert r.unwrap().text and r.unwrap().provider_metadata["attempts"] == 1


async def test_a_limiter_turn_past_the_deadline_is_refused_at_once(fake: FakeServer) -> None:
    """With one request per minute, the second call under a 1 s deadline is refused at once, unsent."""
    limits = Limits(rate_limits=(RateLimit(provider="openai", requests_per_minute=1),))
    async with Client(config_for(fake, limits=limits)) as client:
        assert isinstance(await client.chat(MODEL, "hi"), Success)
        began = time.monotonic()
        r = await client.chat(MODEL, "hi", deadline=1)
        elapsed = time.monotonic() - began
    err = r.failure()
    assert err.kind is ErrorKind.RATE_LIMIT and err.retry_after is not None and err.retry_after > 1
    assert "past the call's deadline" in err.message and fake.attempts("openai") == 1
    assert elapsed < 1


async def test_a_closed_client_answers_without_reopening(fake: FakeServer) -> None:
    """After close(), every call is invalid_request "client is closed" and no new session is opened."""
    client = Client(config_for(fake))
    assert isinstance(await client.chat(MODEL, "hi"), Success)
    await client.close()
    r = await client.chat(MODEL, "hi")
    assert r.failure().kind is ErrorKind.INVALID_REQUEST and r.failure().message == "client is closed"
    items = [i async for i in client.stream(MODEL, "hi")]
    assert [i.failure().message for i in items] == ["client is closed"]
    assert (await client.stream_response(MODEL, "hi")).failure().message == "client is closed"
    counted = await client.count_tokens("anthropic:claude-haiku-4-5", "hi")
    assert counted.failure().message == "client is closed"
    assert client._transport._session is None  # type: ignore[attr-defined]
    async with client:  # entering a closed client opens nothing either
        assert client._transport._session is None  # type: ignore[attr-defined]


async def test_entering_the_client_opens_its_pool_and_the_first_call_uses_it(fake: FakeServer) -> None:
    """``async with Client(...)`` makes the pooled session on entry (not inside the first call), the
    calls go over it, and leaving closes it; a client never entered still opens one on first use."""
    async with Client(config_for(fake)) as client:
        session = client._transport._session  # type: ignore[attr-defined]
        assert session is not None and not session.closed
        assert isinstance(await client.chat(MODEL, "hi"), Success)
        assert client._transport._session is session  # type: ignore[attr-defined]
    assert session.closed
    plain = Client(config_for(fake))
    assert plain._transport._session is None  # type: ignore[attr-defined]
    assert isinstance(await plain.chat(MODEL, "hi"), Success)
    assert plain._transport._session is not None  # type: ignore[attr-defined]
    await plain.close()


def test_config_is_frozen_and_with_options_copies() -> None:
    """Assigning to a config field raises; with_options returns a changed copy and keeps the original."""
    cfg = LlmConfig(max_retries=3)
    with pytest.raises(AttributeError):
        cfg.max_retries = 0  # type: ignore[misc]
    changed = cfg.with_options(max_retries=0, deadline=5.0)
    assert (cfg.max_retries, cfg.deadline) == (3, None) and (changed.max_retries, changed.deadline) == (0, 5.0)
    with pytest.raises(TypeError):
        cfg.with_options(no_such_option=1)


def test_config_groups_the_flat_fields() -> None:
    """The flat seed names stay; the client reads them grouped (timeouts, retry policy, breaker policy)."""
    cfg = LlmConfig(timeout=9.0, connect_timeout=2.0, retry_enabled=False, max_retries=5, circuit_breaker_threshold=7)
    assert (cfg.timeouts.total, cfg.timeouts.connect) == (9.0, 2.0)
    assert cfg.retry_policy.max_attempts == 1 and cfg.with_options(retry_enabled=True).retry_policy.max_attempts == 6
    assert cfg.breaker_policy.threshold == 7


class _Recorder(CallTrace):
    __slots__ = ("events",)

    def __init__(self, events: list[tuple[object, ...]]) -> None:
        self.events = events

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        self.events.append(("attempt_started", str(ref), attempt))

    def attempt_ended(self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: object) -> None:
        self.events.append(("attempt_ended", attempt, error.status if error else None, getattr(head, "status", None)))

    def waiting(self, reason: str, seconds: float, error: LlmError | None) -> None:
        self.events.append(("waiting", reason, seconds))

    def first_chunk(self) -> None:
        self.events.append(("first_chunk",))

    def ended(self, result: object, cost: object) -> None:
        self.events.append(("ended", type(result).__name__, cost is not None))


class _Observer:
    def __init__(self) -> None:
        self.infos: list[CallInfo] = []
        self.events: list[tuple[object, ...]] = []

    def call_started(self, info: CallInfo) -> CallTrace:
        self.infos.append(info)
        return _Recorder(self.events)


async def test_an_observer_sees_every_step_of_a_call(fake: FakeServer) -> None:
    """A second observer gets the call's start, each attempt, the retry wait and the end, with its cost."""
    obs = _Observer()
    async with Client(config_for(fake, retry_delay=0.01), observer=obs) as client:
        fake.fail_next("openai", "503")
        assert isinstance(await client.chat(MODEL, "hi", deadline=30), Success)
    assert [(i.operation, str(i.ref), i.provider_name, i.deadline) for i in obs.infos] == [
        ("chat", MODEL, "openai", 30)
    ]
    kinds = [e[0] for e in obs.events]
    assert kinds == ["attempt_started", "attempt_ended", "waiting", "attempt_started", "attempt_ended", "ended"]
    assert obs.events[1][2:] == (503, 503) and obs.events[4][2:] == (None, 200)
    assert obs.events[-1] == ("ended", "Success", True)  # gpt-4o-mini has a catalog price


async def test_an_observer_sees_a_stream(fake: FakeServer) -> None:
    """A stream reports its first chunk once and ends with Success."""
    obs = _Observer()
    async with Client(config_for(fake), observer=obs) as client:
        items = [i async for i in client.stream(MODEL, "Tell me a story")]
    assert all(isinstance(i, Success) for i in items)
    kinds = [e[0] for e in obs.events]
    assert kinds.count("first_chunk") == 1 and kinds[-1] == "ended" and obs.events[-1][1] == "Success"
    assert not any(isinstance(i, Failure) for i in items)


async def test_warnings_are_logged_without_a_hook(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """With no on_event hook and the logger at WARNING, a failover and a breaker opening are still logged."""
    import logging

    caplog.set_level(logging.WARNING, logger="interlingua")
    cfg = config_for(fake, retry_enabled=False, circuit_breaker_threshold=1)
    async with Client(cfg) as client:
        fake.fail_next("openai", "500")
        r = await client.chat(MODEL, "hi", fallbacks=["anthropic:claude-haiku-4-5"])
    assert r.unwrap().provider == "anthropic"
    messages = [rec.getMessage() for rec in caplog.records]
    assert "circuit openai: closed -> open (1 consecutive failures)" in messages
    assert "failing over from openai:gpt-4o-mini to anthropic:claude-haiku-4-5 after provider (HTTP 500)" in messages


async def test_count_tokens_has_the_same_deadline(fake: FakeServer) -> None:
    """A count-tokens request to a hanging server ends at the call's deadline too."""
    async with Client(config_for(fake, first_byte_timeout=None)) as client:
        fake.fail_next("anthropic", "hang")
        began = time.monotonic()
        r = await client.count_tokens("anthropic:claude-haiku-4-5", "hi", deadline=0.5)
        elapsed = time.monotonic() - began
        assert r.failure().kind is ErrorKind.TIMEOUT and "deadline of 0.5s" in r.failure().message
        assert elapsed < 0.5 + SLACK
        exact = (await client.count_tokens("anthropic:claude-haiku-4-5", "hi", deadline=5)).unwrap()
    assert exact.exact and exact.count > 0
