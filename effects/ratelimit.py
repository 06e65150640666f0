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
from interlingua.core._memo import remember
from interlingua.core.budget import RateLimit
from interlingua.core.ratelimit import (
    LOW_QUOTA,
    Bucket,
    Decision,
    Granted,
    Key,
    LimiterState,
    Never,
    Observed,
    QuotaWindow,
    Wait,
    acquire,
    as_window,
    read_quota,
    roomy,
)

from .observe import NO_TRACE, CallTrace
from .store import Store

__all__ = ["Limiter"]

_log = logging.getLogger("interlingua.ratelimit")

_GRANTED = Granted()

# What a provider reported for one (provider, model), kept as plain numbers so that a call spends
# from it in place (issue 19: no ``LimiterState``/``Observed``/``Window`` copies per call). A record
# is ``[requests, tokens]``; each window is ``None`` or ``[remaining, reset_at, limit, observed_at]``
# (``limit`` may be ``None``), the fields of :class:`~interlingua.core.ratelimit.Window`.
_Record = list[QuotaWindow | None]
_REM, _RESET, _LIMIT = 0, 1, 2  # the fields the call path spends from and checks
_INF = float("inf")
_MAX_REFRESH = 1.0


def _record(o: Observed) -> _Record:
    r, t = o.requests, o.tokens
    return [
        None if r is None else [r.remaining, r.reset_at, r.limit, r.observed_at],
        None if t is None else [t.remaining, t.reset_at, t.limit, t.observed_at],
    ]


def _observed(rec: _Record) -> Observed:
    return Observed(as_window(rec[0]), as_window(rec[1]))


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
        quota_refresh: float = 0.0,
    ) -> None:
        self._store = store
        self.rules = rules
        self.adapt_to_headers = adapt_to_headers
        self.max_keys = max_keys
        self._buckets: dict[tuple[str, str | None, str], Bucket] = {}
        self._observed: OrderedDict[Key, _Record] = OrderedDict()
        # (provider, model) → when a reading found every window roomy (or none): for ``quota_refresh``
        # seconds after it (at most one), a 2xx reply's quota headers need not be read again
        self.quota_refresh = min(quota_refresh, _MAX_REFRESH) if quota_refresh > 0 else 0.0
        self._quiet: dict[Key, float] = {}
        self._clock = clock
        self._sleep = sleep
        self._ignored_logged: set[str] = set()
        # Set (and dropped) by ``observe`` when a reply reports a quota while callers wait for a turn:
        # they decide again on the fresher report instead of sleeping out a wait computed from the
        # older one. Made by the first waiter, for its event loop.
        self._news: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self.waited = 0.0
        """Total seconds this limiter has made callers wait (a cheap metric for tests and dashboards)."""

    @property
    def state(self) -> LimiterState:
        """A snapshot of the whole state (for inspection; the call path never builds it)."""
        return LimiterState(dict(self._buckets), {k: _observed(rec) for k, rec in self._observed.items()})

    def token_headroom(self, provider: str, model: str) -> float | None:
        """The fewest tokens any window the provider reported for ``provider``/``model`` still has
        (``inf`` when none is in force), counting this process's own sends since; ``None`` when a
        token rule of the caller's or a shared store applies, whose buckets need the exact count."""
        if self._store is not None:
            return None
        for r in self.rules:
            if r.provider == provider and r.tokens_per_minute is not None and (r.model is None or r.model == model):
                return None
        # what ``observe`` records is per (provider, model): no provider-wide window to look at
        observed = self._observed
        rec = observed.get((provider, model)) if observed else None
        if rec is None:
            return _INF
        tk = rec[1]
        if tk is None or self._clock() >= tk[_RESET]:  # type: ignore[operator]
            return _INF
        return tk[_REM]

    def decide(self, provider: str, model: str, tokens: int) -> Decision:
        """Take one request of ``tokens`` tokens now (``Granted``), or say how long to wait or that it
        can never fit; never sleeps (:meth:`wait_turn` does). This process's state only: with a shared
        store, use :meth:`wait_turn`.

        Without rules of the caller's this is :func:`~interlingua.core.ratelimit.acquire` over the
        provider's windows for ``provider``/``model`` (the only ones :meth:`observe` records), spending
        in place (issue 19: no ``Observed``/``Window`` copies on the common path). A window with at least
        the amount left, and not more left than its limit, grants it with no arithmetic (its continuous
        refill can only add to what is left); any other asks core's ``Window.wait_for``. The property ``test_fast_path_decides_as_acquire`` holds it to the pure
        machine."""
        if self.rules:
            return self._take_ruled(provider, model, tokens)
        observed = self._observed
        if not observed:
            return _GRANTED  # no limit of the caller's and none reported yet: the common case
        key: Key = (provider, model)
        rec = observed.get(key)
        if rec is None:
            return _GRANTED
        now = self._clock()
        rq, tk = rec
        # A window in force (before its reset) with room for the amount grants it with no arithmetic:
        # its refill (a rate of (limit - remaining) / span, from ``observed_at``) only adds to what is
        # left. Only when no more is left than its limit, though: a report of more left than the limit
        # refills at a negative rate, toward the limit, and ``wait_for``'s float sum can then fall a hair
        # short of the amount; that case decides the long way, as any other.
        live_rq = rq is not None and now < rq[_RESET]  # type: ignore[operator]
        if live_rq and not (rq[_REM] >= 1.0 and (rq[_LIMIT] is None or rq[_LIMIT] >= rq[_REM])):  # type: ignore[index,operator]
            return self._wait_or_take(key, rec, tokens, now)
        live_tk = tk is not None and now < tk[_RESET]  # type: ignore[operator]
        if live_tk and not (tk[_REM] >= tokens and (tk[_LIMIT] is None or tk[_LIMIT] >= tk[_REM])):  # type: ignore[index,operator]
            return self._wait_or_take(key, rec, tokens, now)
        # granted: spend from every window in force; past its reset the provider's figure says nothing
        # any more and is dropped (core's ``_spend``)
        if live_rq:
            rq[_REM] -= 1.0  # type: ignore[index,operator]
        elif rq is not None:
            rec[0] = None
        if live_tk:
            tk[_REM] -= tokens  # type: ignore[index,operator]
        elif tk is not None:
            rec[1] = None
        observed.move_to_end(key)
        return _GRANTED

    def _wait_or_take(self, key: Key, rec: _Record, tokens: int, now: float) -> Decision:
        """:meth:`decide` for a window that may not hold the amount: the wait is core's
        ``Window.wait_for`` for each window in force; all-or-nothing, as ``acquire``."""
        need = float(tokens)
        wait = 0.0
        for win, amount in ((rec[0], 1.0), (rec[1], need)):
            w = as_window(win)
            if w is not None:
                wait = max(wait, w.wait_for(amount, now))
        if wait > 0:
            return Wait(wait)
        for i, amount in ((0, 1.0), (1, need)):
            win = rec[i]
            if win is not None:
                if now >= win[_RESET]:  # type: ignore[operator]
                    rec[i] = None
                else:
                    win[_REM] -= amount  # type: ignore[operator]
        self._observed.move_to_end(key)
        return _GRANTED

    def _take_ruled(self, provider: str, model: str, tokens: int) -> Decision:
        # the caller's own buckets: the pure machine over the buckets and the applicable windows
        observed = self._observed
        mine: dict[Key, Observed] = {}
        if observed:
            scopes: tuple[Key, Key] = ((provider, model), (provider, None))
            for k in scopes:
                rec = observed.get(k)
                if rec is not None:
                    mine[k] = _observed(rec)
        view = LimiterState(self._buckets, mine)
        new, decision = acquire(view, self.rules, provider, model, tokens=tokens, now=self._clock())
        if new is not view:
            self._buckets = new.buckets
            for k, o in new.observed.items():
                observed[k] = _record(o)
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
                decision = self.decide(provider, model, tokens)
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
                    took = await self._nap(s)
                    self.waited += took
                    waited += took
                case Never(reason=why):
                    return LlmError(kind=ErrorKind.RATE_LIMIT, message=why + "; nothing was sent",
                                    provider=provider, retryable=False, code="client_rate_limit")

    async def _nap(self, seconds: float) -> float:
        """Sleep ``seconds``, or until a reply reports a fresher quota (:meth:`observe`), whichever
        comes first: a wait computed from one report (say, nothing left until a reset a minute away)
        should not outlast the next report, which may show room now. Returns the seconds slept: all
        of them when the sleep ran out (so a clock that steps back never lets a caller's waits add up
        past its ``max_wait``), else the clock's reading of the time until the wake, at most ``seconds``."""
        loop = asyncio.get_running_loop()
        news = self._news
        if news is None or news[0] is not loop:
            news = self._news = (loop, asyncio.Event())
        began = self._clock()
        nap = asyncio.ensure_future(self._sleep(seconds))
        woken = loop.create_task(news[1].wait())
        # hook: redis — a report another worker shared wakes us too (a future shared by every waiter: not cancelled here)
        elsewhere = self._store.rate_reported() if self._store is not None else None
        try:
            await asyncio.wait((nap, woken) if elsewhere is None else (nap, woken, elsewhere),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            woken.cancel()
        if nap.done() and not nap.cancelled():
            return seconds
        return min(seconds, max(0.0, self._clock() - began))

    def _log_ignored(self, provider: str, names: tuple[str, ...]) -> None:
        for name in names:
            if name not in self._ignored_logged:
                # once per header name and limiter: a provider that always sends it would flood the log
                self._ignored_logged.add(name)
                _log.debug("ignored %s from %s: not a believable reset (unreadable, infinite or over a day)",
                           name, provider)

    def observe(self, provider: str, model: str, headers: Mapping[str, str], status: int = 200) -> None:
        """Take the quota a reply reports (its status ``status``) as this (provider, model)'s windows.

        With ``quota_refresh`` set, a 2xx reply within that many seconds of the last reading is not read
        when that reading found every window roomy (more than ``LOW_QUOTA`` of a known limit, before its
        reset) or no quota at all, and the record is still roomy after this client's own sends since
        (``decide`` spends them from it in place): replies that close together report about the same
        figures. Every other reply is read: one that is not 2xx, one while a window is nearly used up or a
        caller waits for a turn, the first after the interval."""
        if not self.adapt_to_headers:
            return
        if self._store is not None:  # hook: redis
            written = self._store.rate_observe(provider, model, headers)
            if self._news is not None:  # callers wait for a turn: they ask the store again once it holds the report
                if written is None:
                    self._wake()
                else:
                    written.add_done_callback(lambda _: self._wake())
            return
        now = self._clock()
        key = (provider, model)
        refresh = self.quota_refresh
        if refresh:
            quiet = self._quiet
            if quiet and 200 <= status < 300 and self._news is None:
                read_at = quiet.get(key)
                # within the interval after that reading (a wall clock stepped back ends it)
                if read_at is not None and 0.0 <= now - read_at < refresh:
                    # still roomy after this client's own sends since (spent from the record in place)?
                    # ``roomy`` inline (issue 19: the path of most replies)
                    rec = self._observed.get(key)
                    if rec is None:
                        return
                    for w in rec:
                        if w is not None and now < w[_RESET] and (w[_LIMIT] is None or not w[_REM] > LOW_QUOTA * w[_LIMIT]):  # type: ignore[operator]
                            break
                    else:
                        return
        quota = read_quota(headers, now)  # the record itself: no Observed/Window to convert
        if quota is None:
            if refresh:
                remember(self._quiet, key, now, self.max_keys)  # bounded by the record LRU's size
            return
        rec, ignored = quota
        if refresh:
            if roomy(rec, now):
                remember(self._quiet, key, now, self.max_keys)  # bounded by the record LRU's size
            else:
                self._quiet.pop(key, None)
        if ignored:  # hook: edges — implausible resets are dropped by core, reported once here
            self._log_ignored(provider, ignored)
            if rec[0] is None and rec[1] is None:
                return
        observed = self._observed
        if key in observed:  # replaced: the size is unchanged, the key becomes the newest
            observed[key] = rec
            observed.move_to_end(key)
        else:  # a new key is inserted newest already; only then can the LRU outgrow its bound
            observed[key] = rec
            if len(observed) > self.max_keys:
                observed.popitem(last=False)
        if self._news is not None:  # callers are waiting for a turn: they decide again on this report
            self._wake()

    def _wake(self) -> None:
        news = self._news
        if news is not None:
            self._news = None
            news[1].set()
