"""Breakers, rate limits and budgets shared by many workers through one Redis.

>>> store = RedisStore.from_url("rediss://:hunter2@redis.internal:6380/0")   # doctest: +SKIP
>>> client = Client(config, store=store)                                     # doctest: +SKIP

State lives under one key prefix (default ``interlingua:``) and changes only by the Lua scripts of
:mod:`interlingua.effects.redis_lua` (EVALSHA; redis-py loads a script once and again only after a
``NOSCRIPT``, e.g. a restarted server), each the same transition as a pure state machine in
``core``. Breaker and budget scripts read Redis's ``TIME``, so worker clocks do not matter.

When Redis is unreachable or slower than the call allows, each kind of state follows its
:class:`~interlingua.effects.store.FailPolicy`: breakers and rate limits default to ``fail_open``
(this process's own state, a warning once per outage, the connection retried every
``retry_interval`` seconds); budgets default to ``fail_closed`` (``budget_exceeded``, nothing sent).
Settlements that could not be written are kept and written when Redis answers again.

The URL's password is never shown: ``repr``, log lines and errors carry the URL with ``***``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from returns.result import Failure, Result, Success

from interlingua.core import ErrorKind, LlmError, ModelInfo, Usage, redact
from interlingua.core import budget as B
from interlingua.core.breaker import BreakerPolicy, BreakerState, Phase, Signal
from interlingua.core.budget import RateLimit
from interlingua.core.ratelimit import (
    LOW_QUOTA,  # a provider-reported quota is shared with other workers once at most this fraction of it is left
    Decision,
    Granted,
    LimiterState,
    Never,
    Observed,
    Wait,
    acquire,
    parse_rate_headers,
)

from . import redis_lua
from .store import BreakerTurn, FailPolicy, Lease, LocalStore, settlement

__all__ = ["RedisStore", "mask_url"]

LOGGER = logging.getLogger("interlingua")

TICK = 10
"""Money is stored in integer units of 10**-TICK USD."""

MAX_WINDOW = 52
"""The largest breaker ``window`` the Lua script holds exactly (its bit-window is a double)."""

_UNAVAILABLE = (RedisError, OSError, TimeoutError)


def _ticks(amount: Decimal, rounding: str = ROUND_CEILING) -> int:
    return int(amount.scaleb(TICK).to_integral_value(rounding))


def _usd(ticks: str) -> Decimal:
    d = Decimal(int(float(ticks))).scaleb(-TICK).normalize()
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``.

    >>> mask_url("rediss://user:s3cret@h:6380/1"), mask_url("redis://:pw@h"), mask_url("redis://h:6379")
    ('rediss://user:***@h:6380/1', 'redis://:***@h', 'redis://h:6379')
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class RedisStore:
    """The :class:`~interlingua.effects.store.Store` of many workers. ``redis`` is a
    ``redis.asyncio.Redis`` (share it, e.g. with a response cache: :attr:`redis`); ``from_url``
    builds one with its own connection pool.

    ``timeout`` bounds every Redis operation (and a call's own deadline bounds it further);
    ``lease`` is how long a budget reservation outlives a worker that died holding it (a live worker
    renews its leases every ``lease / 3`` seconds, however long its calls run); ``clock_scale`` speeds up the rate limiter's clock (tests only).
    """

    shared = True

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "interlingua:",
        breaker_policy: FailPolicy = FailPolicy.FAIL_OPEN,
        rate_policy: FailPolicy = FailPolicy.FAIL_OPEN,
        budget_policy: FailPolicy = FailPolicy.FAIL_CLOSED,
        timeout: float = 1.0,
        lease: float = 60.0,
        retry_interval: float = 1.0,
        clock_scale: float = 1.0,
        url: str | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.breaker_policy = FailPolicy(breaker_policy)
        self.rate_policy = FailPolicy(rate_policy)
        self.budget_policy = FailPolicy(budget_policy)
        self.timeout = timeout
        self.lease = lease
        self.retry_interval = retry_interval
        self.clock_scale = clock_scale
        self._url = url
        self._password = urlsplit(url).password if url else None
        self._breaker = redis.register_script(redis_lua.BREAKER)
        self._rate = redis.register_script(redis_lua.RATE)
        self._reserve = redis.register_script(redis_lua.RESERVE)
        self._settle = redis.register_script(redis_lua.SETTLE)
        self._renew = redis.register_script(redis_lua.RENEW)
        self._held: set[str] = set()  # ids of the leases this process holds
        self._heartbeat: asyncio.Task[None] | None = None
        self.local = LocalStore()
        """This process's own state: the fallback of ``fail_open``."""
        self.budget = B.BudgetState()
        """The shared budget as last seen by this process."""
        self._down_until = 0.0
        self._pending: list[tuple[Lease, B.BudgetState]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._breakers: dict[str, tuple[BreakerState, float]] = {}  # the last state seen per key, and when
        # rate-seen keys this process last shared as nearly exhausted, or was told to wait on
        self._low: set[str] = set()
        # Quota reports other workers share, heard on a channel while anyone here waits for a turn
        # (the subscription starts with the first wait and lasts until aclose).
        self._news: asyncio.Future[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._news_warned = False
        self.clock: Callable[[], float] | None = None
        """``None``: the scripts read Redis's ``TIME``. Tests pin ``now`` with it."""

    def _now(self) -> str:
        return "" if self.clock is None else repr(self.clock())

    @classmethod
    def from_url(cls, url: str, *, max_connections: int = 50, connect_timeout: float = 1.0, **options: Any) -> RedisStore:
        """A store with its own pool: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for
        TLS (certificates verified), ``unix://``. ``options`` are :class:`RedisStore`'s keywords."""
        client = aioredis.from_url(
            url,
            max_connections=max_connections,
            socket_connect_timeout=connect_timeout,
            socket_timeout=options.get("timeout", 1.0) * 4,
            health_check_interval=30,
        )
        return cls(client, url=url, **options)

    def __repr__(self) -> str:
        where = mask_url(self._url) if self._url else "<client>"
        return f"RedisStore({where}, prefix={self.prefix!r})"

    def serves(self, url: str) -> bool:
        """Whether ``url`` names this store's Redis (a response cache configured with it shares the pool)."""
        return self._url is not None and url == self._url

    @property
    def pool(self) -> aioredis.ConnectionPool:
        return self.redis.connection_pool

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- talking to Redis -------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """False while an outage is known and the next reconnection attempt is not due yet."""
        return time.monotonic() >= self._down_until

    async def _call(self, script: Any, keys: Sequence[str], args: Sequence[object], timeout: float | None) -> list[str] | None:
        """Run one script; ``None`` when Redis is unreachable, failing or slower than allowed."""
        if not self.available:
            return None
        bound = self.timeout if timeout is None else min(self.timeout, timeout)
        if bound <= 0:
            return None
        try:
            async with asyncio.timeout(bound):
                reply = await script(keys=keys, args=args)
        except _UNAVAILABLE as e:
            self._went_down(e)
            return None
        if self._down_until:
            self._down_until = 0.0
            LOGGER.warning("redis store %r is answering again; shared state is back in use", self)
        return [_s(v) for v in reply]

    def _went_down(self, e: BaseException) -> None:
        first = self._down_until == 0.0
        self._down_until = time.monotonic() + self.retry_interval
        if first:
            why = str(e) or type(e).__name__
            if self._password:
                why = redact(why, self._password)
            LOGGER.warning(
                "redis store %r is unavailable (%s): breakers %s, rate limits %s, budgets %s until it answers",
                self, why, self.breaker_policy.value, self.rate_policy.value, self.budget_policy.value,
            )

    # -- breaker ----------------------------------------------------------------------------------

    async def breaker_step(
        self, key: str, policy: BreakerPolicy, signal: Signal, generation: int | None = None, *, timeout: float | None = None
    ) -> BreakerTurn:
        if policy.window > MAX_WINDOW:
            raise ValueError(f"a shared breaker holds a window of at most {MAX_WINDOW} outcomes (got {policy.window})")
        seen = self._breakers.get(key)
        if (
            signal is Signal.SUCCESS and policy.window <= 0 and seen is not None and seen[0].generation == generation
            and seen[0].phase is Phase.CLOSED and seen[0].failures == 0
        ):
            # A success on a circuit last seen healthy changes nothing by the pure rule: no round trip.
            # (Failures other workers added since are then not reset by it: the circuit may open a
            # little sooner, never later.)
            return BreakerTurn(seen[0], seen[0], True, seen[1])
        ttl = math.ceil(max(3600.0, 2 * policy.cooldown))
        args = (signal.value, "" if generation is None else generation, self._now(), policy.threshold, repr(policy.cooldown),
                policy.probes, policy.window, repr(policy.failure_ratio), ttl)
        reply = await self._call(self._breaker, (self.key("breaker", key),), args, timeout)
        if reply is None:
            if self.breaker_policy is FailPolicy.FAIL_OPEN or signal is not Signal.REQUEST:
                return await self.local.breaker_step(key, policy, signal, generation)
            now = time.monotonic()
            shut = BreakerState(phase=Phase.OPEN, opened_at=now - policy.cooldown + self.retry_interval)
            return BreakerTurn(shut, shut, False, now)
        turn = BreakerTurn(_breaker_state(reply[0:7]), _breaker_state(reply[7:14]), reply[14] == "1", float(reply[15]))
        self._breakers[key] = (turn.new, turn.now)
        return turn

    async def breaker_state(self, key: str) -> BreakerState:
        """The shared state of ``key`` (the default state when Redis has none or is unreachable)."""
        try:
            async with asyncio.timeout(self.timeout):
                h = await self.redis.hgetall(self.key("breaker", key))
        except _UNAVAILABLE:
            return BreakerState()
        if not h:
            return BreakerState()
        d = {_s(k): _s(v) for k, v in h.items()}
        names = ("phase", "generation", "failures", "outcomes", "seen", "opened_at", "probes")
        return _breaker_state([d.get(n, "0") for n in names])

    # -- rate limits ------------------------------------------------------------------------------

    async def rate_acquire(
        self, rules: tuple[RateLimit, ...], provider: str, model: str, tokens: int, *, timeout: float | None = None
    ) -> Decision:
        # Whether a request can ever fit does not depend on the state: decided here, by the pure rule.
        _, first = acquire(LimiterState(), rules, provider, model, tokens=tokens, now=0.0)
        if isinstance(first, Never):
            return first
        keys: list[str] = []
        args: list[object] = []
        for r in rules:
            if r.provider != provider or (r.model is not None and r.model != model):
                continue
            for unit, capacity, amount in (("requests", r.requests_per_minute, 1), ("tokens", r.tokens_per_minute, tokens)):
                if capacity is not None:
                    keys.append(self.key("rate", provider, r.model or "*", unit))
                    args += (capacity, amount)
        n = len(keys)
        keys.append(self.key("rate-seen", provider, model))
        # a full bucket is the same as none: an idle bucket refills in 60 s of the scaled clock
        ttl = math.ceil(61 / min(1.0, self.clock_scale))
        reply = await self._call(self._rate, keys, [self._now(), repr(self.clock_scale), n, tokens, ttl, *args], timeout)
        if reply is None:
            if self.rate_policy is FailPolicy.FAIL_OPEN:
                return await self.local.rate_acquire(rules, provider, model, tokens)
            return Never(f"the shared rate limiter {self!r} is unreachable")
        match reply[0]:
            case "granted":
                return Granted()
            case "wait":
                # The shared figure may be a low one another worker wrote: this worker's next report
                # of the quota is then shared too (replacing it), not kept to itself as "plenty left".
                self._low.add(keys[-1])
                return Wait(float(reply[1]) / self.clock_scale)
        return Never(f"a request of {tokens} tokens exceeds a per-minute limit for {provider}")  # pragma: no cover

    def rate_observe(self, provider: str, model: str, headers: Mapping[str, str]) -> asyncio.Task[None] | None:
        """Share the quota a response reported (written in the background: these limits are
        eventually consistent; this process applies them at once through its own state). Returns
        the write when there is one, so that this process's waiting callers ask again once it landed."""
        now = time.time()
        seen = parse_rate_headers(headers, now)
        if seen is None:
            return None
        self.local.rate_record(provider, model, seen)  # read once, above (the local clock is this same wall clock)
        # Only a nearly exhausted quota can make anyone wait: others are not shared (saving a round
        # trip per response), except to replace a low figure this process shared before or was told to wait on.
        key = self.key("rate-seen", provider, model)
        low = any(w is not None and (w.limit is None or w.remaining <= LOW_QUOTA * w.limit) for w in (seen.requests, seen.tokens))
        if not low and key not in self._low:
            return None
        if low:
            self._low.add(key)
        else:
            self._low.discard(key)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        task = loop.create_task(self.share_observed(provider, model, seen, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def share_observed(self, provider: str, model: str, seen: Observed, now: float) -> None:
        """Replace the provider-reported windows of (provider, model), as the pure ``observe`` does;
        the key expires when the last window resets (a window past its reset says nothing)."""
        fields: dict[str, str] = {}
        scale = self.clock_scale
        for prefix, win in (("r_", seen.requests), ("t_", seen.tokens)):
            if win is None:
                continue
            fields[prefix + "rem"] = repr(win.remaining)
            fields[prefix + "reset"] = repr(win.reset_at * scale)
            if win.limit is not None:
                fields[prefix + "limit"] = repr(win.limit)
            fields[prefix + "obs"] = repr((win.observed_at if win.observed_at is not None else now) * scale)
        resets = [w.reset_at for w in (seen.requests, seen.tokens) if w is not None]
        if not resets:
            return
        ttl = max(1, math.ceil((max(resets) - now) / scale) + 1)
        key = self.key("rate-seen", provider, model)
        if not self.available:
            return
        try:
            async with asyncio.timeout(self.timeout):
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.delete(key)
                    pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                    pipe.expire(key, ttl)
                    await pipe.execute()
        except _UNAVAILABLE as e:
            self._went_down(e)
            return
        # Announced apart from the write, best effort: a Redis user without pub/sub rights (an ACL
        # user of Redis >= 7 has no channels unless granted) must not lose the write itself.
        try:
            async with asyncio.timeout(self.timeout):
                await self.redis.publish(self.key("rate-news"), f"{provider}:{model}")  # wakes every worker's waiters
        except _UNAVAILABLE as e:
            self._news_failed(e)

    def rate_reported(self) -> asyncio.Future[None]:
        """Completes when any worker shares a quota report (written and announced together by
        :meth:`share_observed`); the first call starts this process's subscription. A report shared
        while no subscription is up is not heard: the waiter's own wait, which the shared script
        computed, still bounds it."""
        loop = asyncio.get_running_loop()
        if self._listener is None or self._listener.done():
            self._listener = loop.create_task(self._listen())
        news = self._news
        if news is None or news.done() or news.get_loop() is not loop:
            news = self._news = loop.create_future()
        return news

    async def _listen(self) -> None:
        """Hold a subscription to the reports channel; each message completes the waiters' future.
        When it fails, try again after ``retry_interval`` seconds, doubling up to a minute while it
        keeps failing. Only the wake depends on it: the store is not marked unavailable by it."""
        channel = self.key("rate-news")
        pause = self.retry_interval
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    self._news_warned = False  # subscribed (its confirmation reads as None): a later failure is news again
                    pause = self.retry_interval
                    if message is not None:
                        news, self._news = self._news, None
                        if news is not None and not news.done():
                            news.set_result(None)
            except _UNAVAILABLE as e:
                self._news_failed(e)
            finally:
                with contextlib.suppress(*_UNAVAILABLE):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8.2
            await asyncio.sleep(pause)
            pause = min(2 * pause, 60.0)

    def _news_failed(self, e: BaseException) -> None:
        """One warning per failure spell of the reports channel (its password redacted)."""
        if self._news_warned:
            return
        self._news_warned = True
        why = str(e) or type(e).__name__
        if self._password:
            why = redact(why, self._password)
        LOGGER.warning("redis store %r: the rate-news channel failed (%s); a caller waiting for a rate-limit turn "
                       "is woken only by this worker's own reports until it answers", self, why)

    # -- budgets ----------------------------------------------------------------------------------

    def _budget_keys(self) -> tuple[str, str, str]:
        return self.key("budget"), self.key("budget", "leases"), self.key("budget", "lease-data")

    async def reserve(self, limits: B.Limits, plan: B.Plan, *, timeout: float | None = None) -> Result[Lease, LlmError]:
        # What does not depend on the state (unknown price, per-call caps) is the pure rule's answer;
        # the lifetime caps are the script's (here: kept, but never reached).
        unbounded = msgspec.structs.replace(
            limits,
            max_cost=None if limits.max_cost is None else Decimal("Infinity"),
            max_tokens=None if limits.max_tokens is None else sys.maxsize,
        )
        first = B.reserve(B.BudgetState(), unbounded, plan)
        if type(first) is Failure:
            return first
        r = first.unwrap()[1]
        if not (limits.caps_cost() or limits.caps_tokens()):
            return await self.local.reserve(limits, plan)  # nothing to hold across workers
        if self._pending:
            await self._flush(timeout)
        lease_id = uuid.uuid4().hex
        caps_cost = limits.caps_cost()
        caps_tokens = limits.caps_tokens()
        args = (
            self._now(), _ticks(r.cost), r.tokens,
            int(caps_cost), "" if limits.max_cost is None else _ticks(limits.max_cost, ROUND_FLOOR),
            int(caps_tokens), "" if limits.max_tokens is None else limits.max_tokens,
            repr(self.lease), lease_id,
        )
        reply = await self._call(self._reserve, self._budget_keys(), args, timeout)
        if reply is None:
            if self.budget_policy is FailPolicy.FAIL_OPEN:
                return await self.local.reserve(limits, plan)
            return Failure(LlmError(
                kind=ErrorKind.BUDGET_EXCEEDED,
                message=f"the shared budget in {self!r} is unreachable, and spending without it could cross the cap "
                "(budget policy fail_closed); nothing was sent",
                code="budget_exceeded",
            ))
        self.budget = state = _budget_state(reply[1:6])
        if reply[0]:
            refused = B.reserve(state, limits, plan)  # the same refusal, worded by the pure rule
            if type(refused) is Failure:
                return refused
            return Failure(LlmError(kind=ErrorKind.BUDGET_EXCEEDED, message=f"the shared {reply[0]} cap is reached; nothing was sent",
                                    code="budget_exceeded"))
        self._held.add(lease_id)
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._renew_leases())
        return Success(Lease(r, lease_id, shared=True))

    async def _renew_leases(self) -> None:
        """While this process lives, its reservations do: each lease is renewed every ``lease / 3`` s."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if self._held:
                await self._call(self._renew, (self._budget_keys()[1],), (self._now(), repr(self.lease), *self._held), None)

    async def settle(self, lease: Lease, usage: Usage | None, info: ModelInfo | None, *, timeout: float | None = None) -> B.BudgetState:
        if not lease.shared:
            return await self.local.settle(lease, usage, info)
        return await self._finish(lease, settlement(lease.reservation, usage, info), timeout)

    async def release(self, lease: Lease, *, timeout: float | None = None) -> B.BudgetState:
        if not lease.shared:
            return await self.local.release(lease)
        return await self._finish(lease, B.BudgetState(), timeout)

    async def _finish(self, lease: Lease, add: B.BudgetState, timeout: float | None) -> B.BudgetState:
        r = lease.reservation
        self._held.discard(lease.id)
        args = (lease.id, _ticks(r.cost), r.tokens, _ticks(add.spent), add.tokens_used, add.unpriced_calls)
        reply = await self._call(self._settle, self._budget_keys(), args, timeout)
        if reply is None:
            # Spend is never forgotten: written when Redis answers again (the lease returns the
            # reservation meanwhile).
            self._pending.append((lease, add))
            return self.budget
        self.budget = _budget_state(reply[1:6])
        return self.budget

    async def _flush(self, timeout: float | None) -> None:
        pending, self._pending = self._pending, []
        for lease, add in pending:
            await self._finish(lease, add, timeout)

    async def budget_state(self, *, timeout: float | None = None) -> B.BudgetState:
        """The shared budget now (expired leases given back first); the last seen one if unreachable."""
        reply = await self._call(self._reserve, self._budget_keys(), (self._now(), 0, 0, 0, "", 0, "", "0", ""), timeout)
        if reply is not None:
            self.budget = _budget_state(reply[1:6])
        return self.budget


def _breaker_state(v: Sequence[str]) -> BreakerState:
    return BreakerState(
        phase=Phase(v[0]), generation=int(float(v[1])), failures=int(float(v[2])), outcomes=int(float(v[3])),
        seen=int(float(v[4])), opened_at=float(v[5]), probes=int(float(v[6])),
    )


def _budget_state(v: Sequence[str]) -> B.BudgetState:
    return B.BudgetState(spent=_usd(v[0]), reserved=_usd(v[1]), tokens_used=int(float(v[2])),
                         tokens_reserved=int(float(v[3])), unpriced_calls=int(float(v[4])))
