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

from .store import Store

__all__ = ["Limiter"]


class Limiter:
    def __init__(
        self,
        rules: tuple[RateLimit, ...] = (),
        *,
        adapt_to_headers: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        store: Store | None = None,  # hook: redis
    ) -> None:
        self._store = store
        self.rules = rules
        self.adapt_to_headers = adapt_to_headers
        self.state = LimiterState()
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0
        """Total seconds this limiter has made callers wait (a cheap metric for tests and dashboards)."""

    async def wait_turn(self, provider: str, model: str, tokens: int) -> LlmError | None:
        """Return once a request of ``tokens`` tokens may be sent (``None``), or why it never can."""
        while True:
            if self._store is None:
                self.state, decision = acquire(self.state, self.rules, provider, model, tokens=tokens, now=self._clock())
            else:  # hook: redis
                decision = await self._store.rate_acquire(self.rules, provider, model, tokens)
            match decision:
                case Granted():
                    return None
                case Wait(seconds=s):
                    self.waited += s
                    await self._sleep(s)
                case Never(reason=why):
                    return LlmError(kind=ErrorKind.RATE_LIMIT, message=why + "; nothing was sent",
                                    provider=provider, retryable=False, code="client_rate_limit")

    def observe(self, provider: str, model: str, headers: Mapping[str, str]) -> None:
        if self.adapt_to_headers and self._store is not None:  # hook: redis
            self._store.rate_observe(provider, model, headers)
        elif self.adapt_to_headers:
            self.state = observe(self.state, provider, model, headers, self._clock())
