"""Client-side rate limiting, the effect half: one :class:`Limiter` per client holds the pure state of
:mod:`interlingua.core.ratelimit` and sleeps when it says ``Wait``.

The clock and sleep are injected (tests pass fakes); the state changes only between awaits, so
concurrent tasks on one event loop can never both take the last unit of a bucket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from interlingua.core import ErrorKind, LlmError
from interlingua.core.budget import RateLimit
from interlingua.core.ratelimit import Granted, LimiterState, Never, Wait, acquire, observe

from .observe import NO_TRACE, CallTrace

__all__ = ["Limiter"]


class Limiter:
    def __init__(
        self,
        rules: tuple[RateLimit, ...] = (),
        *,
        adapt_to_headers: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.rules = rules
        self.adapt_to_headers = adapt_to_headers
        self.state = LimiterState()
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0
        """Total seconds this limiter has made callers wait (a cheap metric for tests and dashboards)."""

    async def wait_turn(
        self, provider: str, model: str, tokens: int, *, max_wait: float | None = None, trace: CallTrace = NO_TRACE
    ) -> LlmError | None:
        """Return once a request of ``tokens`` tokens may be sent (``None``), or why it cannot be.

        ``max_wait`` (the call's remaining deadline) bounds the waiting: a turn that cannot come
        within it is not waited for; the answer is at once a ``rate_limit`` error whose
        ``retry_after`` says when the turn would come."""
        waited = 0.0
        while True:
            self.state, decision = acquire(self.state, self.rules, provider, model, tokens=tokens, now=self._clock())
            match decision:
                case Granted():
                    return None
                case Wait(seconds=s):
                    if max_wait is not None and waited + s > max_wait:
                        return LlmError(
                            kind=ErrorKind.RATE_LIMIT, provider=provider, retry_after=s, code="client_rate_limit",
                            message=f"the rate limit for {provider}:{model} allows the next request in {s:.3g}s, "
                            "past the call's deadline; nothing was sent",
                        )
                    trace.waiting("rate_limit", s, None)
                    self.waited += s
                    waited += s
                    await self._sleep(s)
                case Never(reason=why):
                    return LlmError(kind=ErrorKind.RATE_LIMIT, message=why + "; nothing was sent",
                                    provider=provider, retryable=False, code="client_rate_limit")

    def observe(self, provider: str, model: str, headers: Mapping[str, str]) -> None:
        if self.adapt_to_headers:
            self.state = observe(self.state, provider, model, headers, self._clock())
