"""What the client reports about retries, the circuit breaker and failover: frozen records.

A hook (``Client(on_event=…)``) receives each record as it happens (stamina's ``RetryDetails``
style); the same facts go to the ``"interlingua"`` logger. Records carry model strings, error kinds
and the (already redacted) :class:`LlmError` — never URLs, headers sent or keys.

>>> from interlingua.core import ErrorKind, LlmError
>>> err = LlmError(kind=ErrorKind.RATE_LIMIT, message="slow down", status=429, retry_after=1.0)
>>> r = RetryDetails(model="openai:gpt-4o-mini", attempt=1, wait_for=1.0, waited_so_far=0.0, error=err)
>>> describe(r)
'retrying openai:gpt-4o-mini in 1s after attempt 1 failed: rate_limit (HTTP 429)'
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from interlingua.core import LlmError
from interlingua.core.breaker import Phase
from interlingua.core.retry import GiveUpReason

__all__ = [
    "LOGGER",
    "AttemptDone",
    "BreakerChanged",
    "Event",
    "FailedOver",
    "GaveUp",
    "Hook",
    "RetryDetails",
    "describe",
    "emit",
]

LOGGER = logging.getLogger("interlingua")


class AttemptDone(msgspec.Struct, frozen=True, kw_only=True, tag="attempt"):
    """One HTTP attempt finished; ``error`` is ``None`` when it succeeded."""

    model: str
    attempt: int
    elapsed: float
    error: LlmError | None = None


class RetryDetails(msgspec.Struct, frozen=True, kw_only=True, tag="retry"):
    """Attempt ``attempt`` failed with ``error``; the client sleeps ``wait_for`` seconds, then tries
    attempt ``attempt + 1``. ``waited_so_far`` sums the earlier sleeps of this call."""

    model: str
    attempt: int
    wait_for: float
    waited_so_far: float
    error: LlmError


class GaveUp(msgspec.Struct, frozen=True, kw_only=True, tag="gave_up"):
    """No more attempts at ``model``: ``reason`` says why, ``error`` is the last failure."""

    model: str
    attempts: int
    reason: GiveUpReason
    error: LlmError


class BreakerChanged(msgspec.Struct, frozen=True, kw_only=True, tag="breaker"):
    """The circuit for ``key`` (``"openai"`` or ``"openai:gpt-4o"``) changed phase at ``at``
    (the client's monotonic clock)."""

    key: str
    old: Phase
    new: Phase
    at: float
    failures: int


class FailedOver(msgspec.Struct, frozen=True, kw_only=True, tag="failover"):
    """``from_model`` failed with ``error``; ``to_model`` is tried next."""

    from_model: str
    to_model: str
    error: LlmError


Event = AttemptDone | RetryDetails | GaveUp | BreakerChanged | FailedOver
Hook = Callable[[Event], None]


def _err(e: LlmError) -> str:
    return e.kind.value + (f" (HTTP {e.status})" if e.status is not None else "")


def describe(ev: Event) -> str:
    """A one-line, secret-free description (the log message)."""
    match ev:
        case AttemptDone(model=m, attempt=n, elapsed=t, error=None):
            return f"{m} attempt {n} succeeded in {t:.3f}s"
        case AttemptDone(model=m, attempt=n, elapsed=t, error=e):
            return f"{m} attempt {n} failed in {t:.3f}s: {_err(e)}"  # type: ignore[arg-type]
        case RetryDetails(model=m, attempt=n, wait_for=w, error=e):
            return f"retrying {m} in {w:g}s after attempt {n} failed: {_err(e)}"
        case GaveUp(model=m, attempts=n, reason=r, error=e):
            return f"giving up on {m} after {n} attempt(s) ({r.value}): {_err(e)}"
        case BreakerChanged(key=k, old=o, new=n, failures=f):
            return f"circuit {k}: {o.value} -> {n.value} ({f} consecutive failures)"
        case FailedOver(from_model=a, to_model=b, error=e):
            return f"failing over from {a} to {b} after {_err(e)}"
    return repr(ev)  # pragma: no cover


_LEVELS: dict[type, int] = {
    AttemptDone: logging.DEBUG,
    RetryDetails: logging.INFO,
    GaveUp: logging.INFO,
    BreakerChanged: logging.WARNING,
    FailedOver: logging.WARNING,
}


def emit(hook: Hook | None, ev: Event) -> None:
    """Hand ``ev`` to the hook (if any) and log it; the record rides along as ``extra["interlingua"]``."""
    if hook is not None:
        hook(ev)
    level = _LEVELS[type(ev)]
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, "%s", describe(ev), extra={"interlingua": ev})
