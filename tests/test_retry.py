"""The pure retry policy: which errors retry, the exact backoff schedule, Retry-After and deadlines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interlingua.core import ErrorKind, LlmError
from interlingua.core.retry import GiveUp, GiveUpReason, RetryAt, RetryPolicy, backoff, decide


def err(kind: ErrorKind, status: int | None = None, **kw: object) -> LlmError:
    return LlmError(kind=kind, message="x", status=status, **kw)  # type: ignore[arg-type]


RETRIED = [
    err(ErrorKind.TIMEOUT),
    err(ErrorKind.NETWORK),
    err(ErrorKind.TIMEOUT, 408),
    err(ErrorKind.API, 409),
    err(ErrorKind.RATE_LIMIT, 429),
    err(ErrorKind.PROVIDER, 500),
    err(ErrorKind.PROVIDER, 502),
    err(ErrorKind.OVERLOADED, 503),
    err(ErrorKind.TIMEOUT, 504),
    err(ErrorKind.OVERLOADED, 529),
    err(ErrorKind.OVERLOADED),
    err(ErrorKind.API, 418, retryable=True),  # x-should-retry: true on an unexpected status
]
NEVER = [
    err(ErrorKind.AUTHENTICATION, 401),
    err(ErrorKind.PERMISSION, 403),
    err(ErrorKind.INVALID_REQUEST, 400),
    err(ErrorKind.NOT_FOUND, 404),
    err(ErrorKind.CONTEXT_LENGTH_EXCEEDED, 400),
    err(ErrorKind.CONTENT_FILTER, 400),
    err(ErrorKind.BUDGET_EXCEEDED),
    err(ErrorKind.CIRCUIT_OPEN),
    err(ErrorKind.DECODE, 200),
    err(ErrorKind.STREAMING),
    err(ErrorKind.RATE_LIMIT, 429, retryable=False),  # x-should-retry: false (quota exhausted)
    err(ErrorKind.AUTHENTICATION, 401, retryable=True),  # a hint never makes auth retryable
    err(ErrorKind.INVALID_REQUEST, 400, retryable=True),  # ... nor an invalid request
]


@pytest.mark.parametrize("e", RETRIED, ids=lambda e: f"{e.kind.value}-{e.status}")
def test_retryable_errors_are_retried(e: LlmError) -> None:
    """Timeouts, network errors, 408/409/429/5xx/529 and overloaded get a retry."""
    assert isinstance(decide(RetryPolicy(), 1, e, now=0.0, started_at=0.0, draw=0.5), RetryAt)


@pytest.mark.parametrize("e", NEVER, ids=lambda e: f"{e.kind.value}-{e.status}-{e.retryable}")
def test_caller_errors_are_never_retried(e: LlmError) -> None:
    """Auth, permission, invalid request, not found, context length, filter, budget: give up at once."""
    assert decide(RetryPolicy(), 1, e, now=0.0, started_at=0.0, draw=0.5) == GiveUp(GiveUpReason.NOT_RETRYABLE)


def schedule(policy: RetryPolicy, e: LlmError, draws: list[float], start: float = 0.0) -> list[float | str]:
    """Run the policy like the client does: sleep each delay, stop at the first GiveUp."""
    now, out = start, []
    for attempt, draw in enumerate(draws, 1):
        d = decide(policy, attempt, e, now=now, started_at=start, draw=draw)
        if isinstance(d, GiveUp):
            out.append(d.reason.value)
            return out
        assert d.when == now + d.delay
        out.append(d.delay)
        now = d.when
    return out


BUSY = err(ErrorKind.OVERLOADED, 503)

SCHEDULES = [
    # (policy, error, draws, expected delays then the give-up reason)
    (RetryPolicy(max_attempts=4, base_delay=1.0), BUSY, [0.5] * 5, [0.5, 1.0, 2.0, "attempts"]),
    (RetryPolicy(max_attempts=4, base_delay=1.0), BUSY, [0.0] * 5, [0.0, 0.0, 0.0, "attempts"]),
    (RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=3.0), BUSY, [0.5] * 6, [0.5, 1.0, 1.5, 1.5, 1.5, "attempts"]),
    (RetryPolicy(max_attempts=4, base_delay=0.5, multiplier=3.0), BUSY, [1 / 3] * 4, [0.5 / 3, 0.5, 1.5, "attempts"]),
    (RetryPolicy(max_attempts=1), BUSY, [0.5], ["attempts"]),
    # total deadline 2.5 s: 0.5 + 1.0 fit (t=1.5); the next 2.0 would end at 3.5
    (RetryPolicy(max_attempts=10, base_delay=1.0, deadline=2.5), BUSY, [0.5] * 10, [0.5, 1.0, "deadline"]),
    # Retry-After overrides the computed delay, every time
    (RetryPolicy(max_attempts=3), err(ErrorKind.RATE_LIMIT, 429, retry_after=7.0), [0.1] * 3, [7.0, 7.0, "attempts"]),
    (RetryPolicy(max_attempts=3), err(ErrorKind.RATE_LIMIT, 429, retry_after=0.0), [0.9] * 3, [0.0, 0.0, "attempts"]),
    # ... but never past the deadline, nor beyond max_delay: give up instead of sleeping in vain
    (RetryPolicy(max_attempts=5, deadline=10.0), err(ErrorKind.RATE_LIMIT, 429, retry_after=4.0), [0.5] * 5, [4.0, 4.0, "deadline"]),
    (RetryPolicy(max_attempts=5, max_delay=60.0), err(ErrorKind.RATE_LIMIT, 429, retry_after=61.0), [0.5], ["retry_after_too_long"]),
]


@pytest.mark.parametrize(("policy", "error", "draws", "expected"), SCHEDULES)
def test_exact_schedules(policy: RetryPolicy, error: LlmError, draws: list[float], expected: list[float | str]) -> None:
    """Full-jitter exponential backoff, cap, attempts, deadline and Retry-After give this exact schedule."""
    got = schedule(policy, error, draws)
    assert got[-1] == expected[-1]
    assert got[:-1] == pytest.approx(expected[:-1])


def test_from_retries_counts_the_first_attempt() -> None:
    """``max_retries=3`` (the seed's name) means four attempts in all."""
    p = RetryPolicy.from_retries(3, base_delay=0.25)
    assert (p.max_attempts, p.max_retries, p.base_delay) == (4, 3, 0.25)
    assert RetryPolicy.from_retries(-1).max_attempts == 1


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(1, 10_000),
    draw=st.floats(0.0, 1.0, exclude_max=True),
    base=st.floats(0.0, 100.0),
    cap=st.floats(0.0, 1000.0),
    mult=st.floats(1.0, 10.0),
)
def test_backoff_stays_within_zero_and_the_cap(attempt: int, draw: float, base: float, cap: float, mult: float) -> None:
    """Any attempt number, draw and policy: 0 <= delay <= max_delay, no overflow."""
    d = backoff(RetryPolicy(base_delay=base, max_delay=cap, multiplier=mult), attempt, draw)
    assert 0.0 <= d <= cap


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(1, 20),
    now=st.floats(0.0, 1e6),
    elapsed=st.floats(0.0, 100.0),
    deadline=st.none() | st.floats(0.0, 100.0),
    retry_after=st.none() | st.floats(0.0, 120.0),
    draw=st.floats(0.0, 1.0, exclude_max=True),
)
def test_a_retry_never_ends_past_the_deadline(
    attempt: int, now: float, elapsed: float, deadline: float | None, retry_after: float | None, draw: float
) -> None:
    """Whatever the inputs, a RetryAt lands no later than started_at + deadline."""
    policy = RetryPolicy(max_attempts=10, deadline=deadline)
    e = err(ErrorKind.RATE_LIMIT, 429, retry_after=retry_after)
    d = decide(policy, attempt, e, now=now + elapsed, started_at=now, draw=draw)
    if isinstance(d, RetryAt):
        assert attempt < policy.max_attempts
        assert deadline is None or d.when <= now + deadline
        assert d.delay == (retry_after if retry_after is not None else backoff(policy, attempt, draw))
