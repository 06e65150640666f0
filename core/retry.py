"""When to try again: a pure retry policy (stamina's rules, as a function of values).

:func:`decide` answers one question — "attempt ``n`` just failed with this error; what now?" — from
values only: the policy, the error, the clock reading and a random draw are all arguments, so the
whole schedule is testable without a loop or a clock.

- Only :meth:`LlmError.is_retryable` errors are retried: timeouts, network failures, 408/409/429/
  500/502/503/504/529 and "overloaded". Authentication, permission, invalid requests, unknown
  models, context-length, content-filter, budget and circuit-open errors never are.
- The computed delay is exponential backoff with *full jitter* (AWS Architecture Blog, "Exponential
  Backoff And Jitter"): ``draw * min(max_delay, base_delay * multiplier ** (attempt - 1))``.
- A server hint — ``LlmError.retry_after``, already parsed from ``Retry-After`` (seconds or
  HTTP-date), ``retry-after-ms`` or a provider body such as Gemini's ``RetryInfo`` — replaces the
  computed delay. It is honoured as given, never shortened; if it would end past the total
  ``deadline`` (or beyond ``max_delay``), the policy gives up instead of sleeping in vain.
- ``LlmError.retryable`` carries ``x-should-retry``: ``false`` stops retries of an otherwise
  retryable status, ``true`` allows them (see ``LlmError.is_retryable``).

>>> from interlingua.core.errors import ErrorKind, LlmError
>>> policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=10.0)
>>> busy = LlmError(kind=ErrorKind.OVERLOADED, message="busy", status=503)
>>> decide(policy, 1, busy, now=100.0, started_at=100.0, draw=0.5)
RetryAt(when=100.5, delay=0.5)
>>> decide(policy, 3, busy, now=103.0, started_at=100.0, draw=0.5)
GiveUp(reason=<GiveUpReason.ATTEMPTS: 'attempts'>)
"""

from __future__ import annotations

import enum

import msgspec

from .errors import LlmError

__all__ = ["GiveUp", "GiveUpReason", "RetryAt", "RetryPolicy", "backoff", "decide"]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How hard to try. ``max_attempts`` counts the first try (``max_retries + 1``).

    ``deadline`` (seconds from the first attempt, ``None`` for none) bounds the whole call
    including sleeps; ``max_delay`` caps each computed delay and is the longest server-requested
    wait the policy accepts.

    >>> RetryPolicy.from_retries(3).max_attempts
    4
    """

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    multiplier: float = 2.0
    deadline: float | None = None

    @classmethod
    def from_retries(cls, max_retries: int, **fields: float | None) -> RetryPolicy:
        return cls(max_attempts=max(0, max_retries) + 1, **fields)  # type: ignore[arg-type]

    @property
    def max_retries(self) -> int:
        return self.max_attempts - 1


class RetryAt(msgspec.Struct, frozen=True):
    """Sleep ``delay`` seconds, then try again at ``when`` (same clock as ``now``)."""

    when: float
    delay: float


class GiveUpReason(enum.StrEnum):
    NOT_RETRYABLE = "not_retryable"
    """The error is one that no retry can fix."""
    ATTEMPTS = "attempts"
    """``max_attempts`` reached."""
    DEADLINE = "deadline"
    """The next attempt would start after the total deadline."""
    RETRY_AFTER_TOO_LONG = "retry_after_too_long"
    """The server asked for a wait longer than ``max_delay``."""


class GiveUp(msgspec.Struct, frozen=True):
    reason: GiveUpReason


_NOT_RETRYABLE = GiveUp(GiveUpReason.NOT_RETRYABLE)
_ATTEMPTS = GiveUp(GiveUpReason.ATTEMPTS)
_DEADLINE = GiveUp(GiveUpReason.DEADLINE)
_TOO_LONG = GiveUp(GiveUpReason.RETRY_AFTER_TOO_LONG)


def backoff(policy: RetryPolicy, attempt: int, draw: float) -> float:
    """The full-jitter delay after failed attempt number ``attempt`` (1-based); ``draw`` is in [0, 1).

    >>> p = RetryPolicy(base_delay=1.0, max_delay=5.0)
    >>> [backoff(p, n, 0.999) for n in (1, 2, 3, 4)]
    [0.999, 1.998, 3.996, 4.995]
    """
    # Computed in floats and capped before the power can overflow for absurd attempt numbers.
    ceiling = policy.max_delay
    exp = policy.base_delay * policy.multiplier ** min(attempt - 1, 64)
    return draw * (exp if exp < ceiling else ceiling)


def decide(
    policy: RetryPolicy,
    attempt: int,
    error: LlmError,
    now: float,
    started_at: float,
    draw: float,
) -> RetryAt | GiveUp:
    """Attempt number ``attempt`` (1-based) failed with ``error`` at ``now``: retry when, or give up why.

    >>> from interlingua.core.errors import ErrorKind, LlmError
    >>> limited = LlmError(kind=ErrorKind.RATE_LIMIT, message="slow down", status=429, retry_after=2.0)
    >>> decide(RetryPolicy(), 1, limited, now=10.0, started_at=10.0, draw=0.1)
    RetryAt(when=12.0, delay=2.0)
    >>> decide(RetryPolicy(deadline=1.0), 1, limited, now=10.0, started_at=10.0, draw=0.1)
    GiveUp(reason=<GiveUpReason.DEADLINE: 'deadline'>)
    """
    if not error.is_retryable():
        return _NOT_RETRYABLE
    if attempt >= policy.max_attempts:
        return _ATTEMPTS
    hinted = error.retry_after
    if hinted is not None:
        if hinted > policy.max_delay:
            return _TOO_LONG
        delay = hinted
    else:
        delay = backoff(policy, attempt, draw)
    when = now + delay
    if policy.deadline is not None and when > started_at + policy.deadline:
        return _DEADLINE
    return RetryAt(when, delay)
