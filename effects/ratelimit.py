"""Client-side rate limiting, the effect half: one :class:`Limiter` per client holds the pure state of
:mod:`interlingua.core.ratelimit` and sleeps when it says ``Wait``.

The clock and sleep are injected (tests pass fakes); the state changes only between awaits, so
concurrent tasks on one event loop can never both take the last unit of a bucket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from interlingua.core import ErrorKind, LlmError
from interlingua.core.budget import RateLimit
from interlingua.core.ratelimit import Granted, LimiterState, Never, Wait, acquire, parse_rate_headers, record

__all__ = ["Limiter"]

_log = logging.getLogger("interlingua.ratelimit")


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
        self._ignored_logged: set[str] = set()
        self.waited = 0.0
        """Total seconds this limiter has made callers wait (a cheap metric for tests and dashboards)."""

    async def wait_turn(self, provider: str, model: str, tokens: int) -> LlmError | None:
        """Return once a request of ``tokens`` tokens may be sent (``None``), or why it never can."""
        while True:
            self.state, decision = acquire(self.state, self.rules, provider, model, tokens=tokens, now=self._clock())
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
        if not self.adapt_to_headers:
            return
        seen = parse_rate_headers(headers, self._clock())
        if seen is None:
            return
        for name in seen.ignored:
            if name not in self._ignored_logged:
                # once per header name and limiter: a provider that always sends it would flood the log
                self._ignored_logged.add(name)
                _log.debug("ignored %s from %s: not a believable reset (unreadable, infinite or over a day)",
                           name, provider)
        self.state = record(self.state, provider, model, seen)
