"""Client-side rate limiting, the effect half: one :class:`Limiter` per client holds the pure state of
:mod:`interlingua.core.ratelimit` and sleeps when it says ``Wait``.

The clock and sleep are injected (tests pass fakes); the state changes only between awaits, so
concurrent tasks on one event loop can never both take the last unit of a bucket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from interlingua.core import ErrorKind, LlmError
from interlingua.core.budget import RateLimit
from interlingua.core.ratelimit import (
    Bucket,
    Decision,
    Granted,
    Key,
    LimiterState,
    Never,
    Observed,
    Wait,
    acquire,
    parse_rate_headers,
)

from .observe import NO_TRACE, CallTrace
from .store import Store

__all__ = ["Limiter"]

_log = logging.getLogger("interlingua.ratelimit")

_GRANTED = Granted()


class Limiter:
    """The limiter of one client. The caller's own buckets are keyed by its rules (a bounded set);
    what providers reported is kept per (provider, model) in an LRU of at most ``max_keys`` entries,
    so each call touches O(1) state however many distinct model strings the client has seen (the
    core's :func:`~interlingua.core.ratelimit.acquire` is handed only the entries that apply)."""

    def __init__(
        self,
        rules: tuple[RateLimit, ...] = (),
        *,
        adapt_to_headers: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        max_keys: int = 4096,
        store: Store | None = None,  # hook: redis
    ) -> None:
        self._store = store
        self.rules = rules
        self.adapt_to_headers = adapt_to_headers
        self.max_keys = max_keys
        self._buckets: dict[tuple[str, str | None, str], Bucket] = {}
        self._observed: OrderedDict[Key, Observed] = OrderedDict()
        self._clock = clock
        self._sleep = sleep
        self._ignored_logged: set[str] = set()
        self.waited = 0.0
        """Total seconds this limiter has made callers wait (a cheap metric for tests and dashboards)."""

    @property
    def state(self) -> LimiterState:
        """A snapshot of the whole state (for inspection; the call path never builds it)."""
        return LimiterState(dict(self._buckets), dict(self._observed))

    def needs_tokens(self, provider: str, model: str) -> bool:
        """Whether a request's token count matters to this limiter now: a tokens-per-minute rule of the
        caller's for ``provider``, or a token window the provider reported that has not reset yet."""
        if self._store is not None:
            return True  # the windows live in the shared store: count, as the other workers do
        for r in self.rules:
            if r.provider == provider and r.tokens_per_minute is not None and (r.model is None or r.model == model):
                return True
        observed = self._observed
        if not observed:
            return False
        for key in ((provider, model), (provider, None)):
            o = observed.get(key)
            if o is not None and o.tokens is not None and self._clock() < o.tokens.reset_at:
                return True
        return False

    def token_headroom(self, provider: str, model: str) -> float | None:
        """The fewest tokens any window the provider reported for ``provider``/``model`` still has
        (``inf`` when none is in force), counting this process's own sends since; ``None`` when a
        token rule of the caller's or a shared store applies, whose buckets need the exact count."""
        if self._store is not None:
            return None
        for r in self.rules:
            if r.provider == provider and r.tokens_per_minute is not None and (r.model is None or r.model == model):
                return None
        room = float("inf")
        observed = self._observed
        if observed:
            now = self._clock()
            for key in ((provider, model), (provider, None)):
                o = observed.get(key)
                if o is not None and o.tokens is not None and now < o.tokens.reset_at:
                    room = min(room, o.tokens.remaining)
        return room

    def _take(self, provider: str, model: str, tokens: int) -> Decision:
        observed = self._observed
        if not self.rules and not observed:
            return _GRANTED  # no limit of the caller's and none reported yet: the common case
        mine: dict[Key, Observed] = {}
        if observed:
            scopes: tuple[Key, Key] = ((provider, model), (provider, None))
            for k in scopes:
                o = observed.get(k)
                if o is not None:
                    mine[k] = o
        view = LimiterState(self._buckets, mine)
        new, decision = acquire(view, self.rules, provider, model, tokens=tokens, now=self._clock())
        if new is not view:
            self._buckets = new.buckets
            for k, o in new.observed.items():
                observed[k] = o
                observed.move_to_end(k)
        return decision

    async def wait_turn(
        self, provider: str, model: str, tokens: int, *, max_wait: float | None = None, trace: CallTrace = NO_TRACE
    ) -> LlmError | None:
        """Return once a request of ``tokens`` tokens may be sent (``None``), or why it cannot be.

        ``max_wait`` (the call's remaining deadline) bounds the waiting: a turn that cannot come
        within it is not waited for; the answer is at once a ``rate_limit`` error whose
        ``retry_after`` says when the turn would come."""
        waited = 0.0
        while True:
            if self._store is None:
                decision = self._take(provider, model, tokens)
            else:  # hook: redis (one round trip; bounded by what remains of the call's deadline)
                left = None if max_wait is None else max_wait - waited
                decision = await self._store.rate_acquire(self.rules, provider, model, tokens, timeout=left)
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

    def _log_ignored(self, provider: str, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in self._ignored_logged:
                # once per header name and limiter: a provider that always sends it would flood the log
                self._ignored_logged.add(name)
                _log.debug("ignored %s from %s: not a believable reset (unreadable, infinite or over a day)",
                           name, provider)

    def observe(self, provider: str, model: str, headers: Mapping[str, str]) -> None:
        if not self.adapt_to_headers:
            return
        if self._store is not None:  # hook: redis
            self._store.rate_observe(provider, model, headers)
            return
        seen = parse_rate_headers(headers, self._clock())
        if seen is None:
            return
        if seen.ignored:  # hook: edges — implausible resets are dropped by core, reported once here
            self._log_ignored(provider, seen.ignored)
            if seen.requests is None and seen.tokens is None:
                return
        observed = self._observed
        observed[(provider, model)] = seen
        observed.move_to_end((provider, model))
        if len(observed) > self.max_keys:
            observed.popitem(last=False)
