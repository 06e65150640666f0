"""Client-side rate limits: the pure bucket machine with explicit clocks, header adaptation, waiting."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Success

from interlingua.core import ErrorKind
from interlingua.core.budget import Limits, RateLimit
from interlingua.core.ratelimit import (
    Granted,
    LimiterState,
    Never,
    Observed,
    Wait,
    Window,
    acquire,
    observe,
    parse_duration,
    parse_rate_headers,
)
from interlingua.effects import Client
from interlingua.effects.budget import Guard
from interlingua.effects.ratelimit import Limiter
from interlingua.fakes import FakeServer

from .helpers import config_for


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("120ms", 0.12), ("2ms", 0.002),
                                                ("1h2m3.5s", 3723.5), ("0s", 0.0), ("", None), ("5 s", None), ("1d", None)])
def test_openai_durations(text: str, seconds: float | None) -> None:
    """OpenAI's reset durations parse to seconds; anything else is ignored."""
    assert parse_duration(text) == seconds


def test_header_tables() -> None:
    """OpenAI (durations) and Anthropic (RFC 3339) headers become windows; other headers none."""
    openai = {"x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms",
              "x-ratelimit-limit-requests": "500",
              "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "6m0s"}
    assert parse_rate_headers(openai, now=10.0) == Observed(Window(499, 10.12, 500, 10.0), Window(29000, 370.0, None, 10.0))
    anthropic = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "2024-01-01T00:00:30Z",
                 "anthropic-ratelimit-input-tokens-remaining": "100", "anthropic-ratelimit-input-tokens-reset": "2024-01-01T00:01:00+00:00"}
    base = 1704067200.0  # 2024-01-01T00:00:00Z
    assert parse_rate_headers(anthropic, now=base) == Observed(Window(0, base + 30, None, base), Window(100, base + 60, None, base))
    assert parse_rate_headers({"x-ratelimit-remaining-requests": "x", "x-ratelimit-reset-requests": "1s"}, 0) is None
    assert parse_rate_headers({"content-type": "application/json"}, 0) is None


RULES = (RateLimit(provider="openai", requests_per_minute=60, tokens_per_minute=1_000),
         RateLimit(provider="openai", model="gpt-4o", requests_per_minute=6))


def test_bucket_schedule_with_explicit_now() -> None:
    """Per-model limits bind first; waits are exact; other models are unaffected."""
    st_ = LimiterState()
    for _ in range(6):
        st_, d = acquire(st_, RULES, "openai", "gpt-4o", tokens=10, now=0.0)
        assert d == Granted()
    st_, d = acquire(st_, RULES, "openai", "gpt-4o", tokens=10, now=0.0)
    assert d == Wait(10.0)  # 6/min refills one request every 10 s
    assert acquire(st_, RULES, "openai", "gpt-4o-mini", tokens=10, now=0.0)[1] == Granted()
    assert acquire(st_, RULES, "openai", "gpt-4o", tokens=10, now=10.0)[1] == Granted()
    assert acquire(st_, RULES, "openai", "gpt-4o-mini", tokens=1_001, now=0.0)[1] == Never(
        "a request of 1001 tokens exceeds the 1000 tokens-per-minute limit for openai")
    assert acquire(st_, RULES, "anthropic", "x", tokens=10**9, now=0.0)[1] == Granted()  # no rule, no limit


def test_provider_headers_make_requests_wait_until_reset() -> None:
    """remaining=0 until reset → Wait until the reset; our own sends count down what is left."""
    st_ = observe(LimiterState(), "openai", "gpt-4o", {"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "2s"}, now=100.0)
    st_, d = acquire(st_, (), "openai", "gpt-4o", tokens=1, now=100.0)
    assert d == Granted()
    assert acquire(st_, (), "openai", "gpt-4o", tokens=1, now=100.5)[1] == Wait(1.5)
    assert acquire(st_, (), "openai", "gpt-4o", tokens=1, now=102.0)[1] == Granted()
    st_ = observe(st_, "openai", "gpt-4o", {"x-ratelimit-remaining-tokens": "50", "x-ratelimit-reset-tokens": "1s"}, now=200.0)
    assert acquire(st_, (), "openai", "gpt-4o", tokens=51, now=200.0)[1] == Wait(1.0)


def test_known_limit_refills_continuously() -> None:
    """With the limit reported, an empty quota refills linearly to full at the reset: the wait for one
    unit is a share of the time to reset, and a request bigger than the quota waits for a full one."""
    h = {"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
         "anthropic-ratelimit-requests-reset": "1970-01-01T00:01:00Z"}
    st_ = observe(LimiterState(), "anthropic", "m", h, now=0.0)
    assert acquire(st_, (), "anthropic", "m", tokens=1, now=0.0)[1] == Wait(pytest.approx(1.2))
    assert acquire(st_, (), "anthropic", "m", tokens=1, now=1.2)[1] == Granted()
    t = {"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "1000", "x-ratelimit-reset-tokens": "1m"}
    st_ = observe(LimiterState(), "openai", "m", t, now=0.0)
    assert acquire(st_, (), "openai", "m", tokens=5000, now=0.0)[1] == Granted()


_requests = st.lists(st.tuples(st.floats(0, 20), st.integers(1, 300)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(_requests, st.integers(1, 20), st.integers(300, 2_000))
def test_never_more_than_capacity_plus_refill_in_any_window(reqs: list[tuple[float, int]], rpm: int, tpm: int) -> None:
    """For any arrival pattern, grants in [t0, t1] never exceed capacity + rate x (t1 - t0), for both limits."""
    rules = (RateLimit(provider="p", requests_per_minute=rpm, tokens_per_minute=tpm),)
    state, now, granted = LimiterState(), 0.0, []
    for dt, tokens in reqs:
        now += dt
        state, d = acquire(state, rules, "p", "m", tokens=tokens, now=now)
        if isinstance(d, Granted):
            granted.append((now, tokens))
        elif isinstance(d, Wait):
            assert d.seconds > 0
            # Waiting exactly as told is enough (nothing else happened meanwhile).
            assert isinstance(acquire(state, rules, "p", "m", tokens=tokens, now=now + d.seconds + 1e-9)[1], Granted)
    for i, (t0, _) in enumerate(granted):
        for j in range(i, len(granted)):
            t1 = granted[j][0]
            window = granted[i : j + 1]
            assert len(window) <= rpm + rpm / 60 * (t1 - t0) + 1e-6
            assert sum(n for _, n in window) <= tpm + tpm / 60 * (t1 - t0) + 1e-6


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_limiter_sleeps_instead_of_failing() -> None:
    """Over the limit, the effect layer sleeps exactly the wait the state machine computed."""
    clock = FakeClock()
    lim = Limiter((RateLimit(provider="openai", requests_per_minute=2),), clock=clock, sleep=clock.sleep)
    for _ in range(4):
        assert await lim.wait_turn("openai", "gpt-4o", 1) is None
    assert clock.slept == [30.0, 30.0]


async def test_oversized_request_is_a_typed_failure(fake: FakeServer) -> None:
    """A prompt larger than the tokens-per-minute limit fails at once, nothing sent."""
    limits = Limits(rate_limits=(RateLimit(provider="openai", tokens_per_minute=5),))
    async with Client(config_for(fake, retry_enabled=False, limits=limits)) as client:
        r = await client.chat("openai:gpt-4o-mini", "this prompt has more than five tokens", max_tokens=1)
    err = r.failure()
    assert err.kind is ErrorKind.RATE_LIMIT and not err.is_retryable() and fake.attempts("openai") == 0


async def test_client_waits_after_a_429_says_nothing_is_left(fake: FakeServer) -> None:
    """A 429 whose headers say 0 of 10,000 requests remain, full again in 1s, makes the next call wait
    for one request's share of that second (1/10,000 s), then succeed."""
    clock = FakeClock()
    async with Client(config_for(fake, retry_enabled=False)) as client:
        client._guard = Guard(Limits(), clock=clock, sleep=clock.sleep)
        fake.fail_next("openai", "429")
        first = await client.chat("openai:gpt-4o-mini", "hi")
        assert first.failure().kind is ErrorKind.RATE_LIMIT
        second = await client.chat("openai:gpt-4o-mini", "hi")
        async for _ in client.stream("openai:gpt-4o-mini", "hi"):
            pass
    assert isinstance(second, Success)
    assert clock.slept == [pytest.approx(1 / 10_000)]  # x-ratelimit-limit-requests 10000, reset "1s"


async def test_rpm_limit_paces_concurrent_calls(fake: FakeServer) -> None:
    """Concurrent calls under an RPM limit all succeed; the ones over capacity wait their turn."""
    clock = FakeClock()
    limits = Limits(rate_limits=(RateLimit(provider="openai", requests_per_minute=3),))
    async with Client(config_for(fake, retry_enabled=False)) as client:
        client._guard = Guard(limits, clock=clock, sleep=clock.sleep)
        results = await asyncio.gather(*(client.chat("openai:gpt-4o-mini", "hi") for _ in range(5)))
    assert all(isinstance(r, Success) for r in results) and fake.attempts("openai") == 5
    assert len(clock.slept) >= 2 and all(s > 0 for s in clock.slept)


