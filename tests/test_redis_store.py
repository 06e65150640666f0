"""RedisStore against a real redis-server: its Lua scripts apply the same rules as the pure state
machines of core (same hypothesis-generated event sequences, same states), leases expire, the
fail policies hold while Redis is down, and the URL's password never shows."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import ErrorKind, ModelInfo, Usage
from interlingua.core import budget as B
from interlingua.core.breaker import BreakerPolicy, BreakerState, Signal, step
from interlingua.core.budget import RateLimit
from interlingua.core.ratelimit import Granted, LimiterState, Never, Observed, Wait, Window, acquire
from interlingua.effects import FailPolicy, LlmConfig, LocalStore, RedisStore, Store
from interlingua.effects.ratelimit import Limiter

from .redis_server import RedisServer

T = TypeVar("T")
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_with_store(url: str, body: Callable[[RedisStore], Awaitable[T]], **options: Any) -> T:
    """Run ``body`` with a fresh store under its own key prefix (examples never see each other)."""

    async def main() -> T:
        # a generous timeout: the machine is shared and slow; these tests are about the rules
        store = RedisStore.from_url(url, prefix=f"t-{uuid.uuid4().hex[:8]}:", timeout=10.0, **options)
        try:
            return await body(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


# -- the breaker script == core.breaker.step -------------------------------------------------------

policies = st.builds(
    BreakerPolicy,
    threshold=st.integers(1, 4),
    cooldown=st.sampled_from([1.0, 2.5, 5.0]),
    probes=st.integers(1, 3),
    window=st.sampled_from([0, 3, 5]),
    failure_ratio=st.sampled_from([0.3, 0.5, 1.0]),
)
breaker_events = st.lists(
    st.tuples(st.sampled_from(list(Signal)), st.floats(0, 3, allow_nan=False), st.booleans()), max_size=40
)


@PROPS
@given(policy=policies, events=breaker_events)
def test_breaker_script_is_the_pure_machine(redis_url: str, policy: BreakerPolicy, events: list[tuple[Signal, float, bool]]) -> None:
    """Every signal (current or stale generation, any timing) leaves Redis in the state step() computes."""

    async def body(store: RedisStore) -> None:
        now = 100.0
        store.clock = lambda: now
        pure = BreakerState()
        for signal, dt, stale in events:
            now += dt
            gen = None if signal is Signal.REQUEST else pure.generation - (1 if stale else 0)
            want = step(policy, pure, signal, now, gen)
            got = await store.breaker_step("openai", policy, signal, gen)
            assert (got.old, got.new, got.admitted) == (pure, want.state, want.admitted)
            pure = want.state
        assert await store.breaker_state("openai") == pure

    run_with_store(redis_url, body)


# -- the rate script == core.ratelimit.acquire -----------------------------------------------------

rules_st = st.lists(
    st.builds(
        RateLimit,
        provider=st.just("openai"),
        model=st.sampled_from([None, "gpt-4o"]),
        requests_per_minute=st.one_of(st.none(), st.integers(1, 10)),
        tokens_per_minute=st.one_of(st.none(), st.integers(50, 500)),
    ),
    max_size=2,
).map(tuple)
windows = st.one_of(
    st.none(),
    st.builds(
        Window,
        remaining=st.integers(0, 20).map(float),
        reset_at=st.floats(101, 160),
        limit=st.one_of(st.none(), st.integers(20, 100).map(float)),
        observed_at=st.just(100.0),
    ),
)


@PROPS
@given(rules=rules_st, requests=windows, tokens_window=windows,
       events=st.lists(st.tuples(st.integers(0, 600), st.floats(0, 20, allow_nan=False)), max_size=25))
def test_rate_script_is_the_pure_limiter(
    redis_url: str, rules: tuple[RateLimit, ...], requests: Window | None, tokens_window: Window | None, events: list[tuple[int, float]]
) -> None:
    """Buckets and provider-reported windows: same decisions, same waits, same levels as acquire()."""

    async def body(store: RedisStore) -> None:
        now = 100.0
        store.clock = lambda: now
        seen = Observed(requests, tokens_window)
        pure = LimiterState()
        if requests is not None or tokens_window is not None:
            pure = LimiterState(observed={("openai", "gpt-4o"): seen})
            await store.share_observed("openai", "gpt-4o", seen, now)
        for tokens, dt in events:
            now += dt
            pure, want = acquire(pure, rules, "openai", "gpt-4o", tokens=tokens, now=now)
            got = await store.rate_acquire(rules, "openai", "gpt-4o", tokens)
            assert type(got) is type(want)
            if isinstance(want, Wait):
                assert isinstance(got, Wait) and got.seconds == pytest.approx(want.seconds, rel=1e-9, abs=1e-9)
            for (provider, model, unit), bucket in pure.buckets.items():
                h = await store.redis.hgetall(store.key("rate", provider, model or "*", unit))
                assert float(h[b"level"]) == pytest.approx(bucket.level, rel=1e-9, abs=1e-9)
                assert float(h[b"at"]) == bucket.at
        o = pure.observed.get(("openai", "gpt-4o"))
        h = await store.redis.hgetall(store.key("rate-seen", "openai", "gpt-4o"))
        for prefix, win in (("r_", o and o.requests), ("t_", o and o.tokens)):
            if win is None:
                assert (prefix + "rem").encode() not in h
            else:
                assert float(h[(prefix + "rem").encode()]) == win.remaining

    run_with_store(redis_url, body)


async def test_a_request_larger_than_a_limit_is_never_sent(redis_url: str) -> None:
    """The 'never fits' answer is the pure one, word for word, and touches no bucket."""
    rules = (RateLimit(provider="openai", tokens_per_minute=100),)
    store = RedisStore.from_url(redis_url)
    try:
        got = await store.rate_acquire(rules, "openai", "gpt-4o", 101)
        assert got == acquire(LimiterState(), rules, "openai", "gpt-4o", tokens=101, now=0.0)[1]
        assert isinstance(got, Never) and await store.redis.keys("interlingua:rate:*") == []
    finally:
        await store.aclose()


# -- the budget scripts == core.budget.reserve/settle/release --------------------------------------

INFO = ModelInfo(id="m", provider="p", input_price=Decimal("1.5"), output_price=Decimal("6"), max_output_tokens=400)
limits_st = st.builds(
    B.Limits,
    max_cost=st.one_of(st.none(), st.sampled_from([Decimal("0.002"), Decimal("0.01"), Decimal("0.05")])),
    max_tokens=st.one_of(st.none(), st.integers(200, 4000)),
    max_cost_per_call=st.one_of(st.none(), st.just(Decimal("0.004"))),
)
budget_ops = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(1, 800), st.one_of(st.none(), st.integers(1, 400))),
        st.tuples(st.just("settle"), st.integers(0, 30), st.one_of(st.none(), st.tuples(st.integers(0, 800), st.integers(0, 400)))),
        st.tuples(st.just("release"), st.integers(0, 30), st.none()),
    ),
    max_size=30,
)


def amounts(message: str) -> str:
    """A message with every amount in its normal form ($0.0019910 and $0.001991 are one amount)."""
    return re.sub(r"\d+\.\d+", lambda m: str(Decimal(m.group()).normalize()), message)


def same_budget(a: B.BudgetState, b: B.BudgetState) -> bool:
    return (a.spent, a.reserved, a.tokens_used, a.tokens_reserved, a.unpriced_calls) == (
        b.spent, b.reserved, b.tokens_used, b.tokens_reserved, b.unpriced_calls)


@PROPS
@given(limits=limits_st, ops=budget_ops)
def test_budget_scripts_are_the_pure_budget(redis_url: str, limits: B.Limits, ops: list[tuple[Any, ...]]) -> None:
    """Reservations, refusals (same words), settlements and releases: the same state as core.budget."""

    async def body(store: RedisStore) -> None:
        pure = B.BudgetState()
        open_: list[tuple[B.Reservation, Any]] = []
        for op, a, b in ops:
            if op == "reserve":
                plan = B.plan(INFO, prompt_tokens=a, exact=True, max_tokens=b)
                want = B.reserve(pure, limits, plan)
                got = await store.reserve(limits, plan)
                assert type(got) is type(want)
                if isinstance(want, Success):
                    pure, r = want.unwrap()
                    lease = got.unwrap()
                    assert lease.reservation == r
                    open_.append((r, lease))
                else:
                    assert amounts(got.failure().message) == amounts(want.failure().message)
            elif open_:
                r, lease = open_.pop(a % len(open_))
                if op == "settle":
                    usage = None if b is None else Usage(prompt_tokens=b[0], completion_tokens=b[1])
                    pure = B.settle(pure, r, usage, INFO)
                    await store.settle(lease, usage, INFO)
                else:
                    pure = B.release(pure, r)
                    await store.release(lease)
            if limits.caps_cost() or limits.caps_tokens():
                assert same_budget(await store.budget_state(), pure)

    run_with_store(redis_url, body)


async def test_a_live_worker_keeps_its_reservation_a_dead_one_gives_it_back(redis_url: str) -> None:
    """Leases are renewed while their holder lives (a call may outlast the lease); once it stops, they expire."""
    limits = B.Limits(max_cost=Decimal("0.01"))
    plan = B.plan(INFO, prompt_tokens=100, exact=True, max_tokens=100)
    holder = RedisStore.from_url(redis_url, lease=0.6)
    observer = RedisStore.from_url(redis_url)
    try:
        lease = (await holder.reserve(limits, plan)).unwrap()
        await asyncio.sleep(1.5)  # 2.5 leases: renewed meanwhile
        assert (await observer.budget_state()).reserved == plan.cost
        await holder.settle(lease, Usage(prompt_tokens=100, completion_tokens=10), INFO)
        assert (await observer.budget_state()).reserved == 0
        assert isinstance(await holder.reserve(limits, plan), Success)
        assert holder._heartbeat is not None
        holder._heartbeat.cancel()  # the holder "dies": nothing renews its lease any more
        await asyncio.sleep(0.8)
        assert (await observer.budget_state()).reserved == 0
    finally:
        await holder.aclose()
        await observer.aclose()


# -- Redis down --------------------------------------------------------------------------------------

async def test_outage_follows_the_policies_and_resyncs(caplog: pytest.LogCaptureFixture) -> None:
    """Down: breaker and limits go on locally (one warning), budgets refuse; back: shared again, spend written."""
    secret = "pw-" + uuid.uuid4().hex
    limits = B.Limits(max_cost=Decimal("0.01"))
    plan = B.plan(INFO, prompt_tokens=100, exact=True, max_tokens=100)
    with RedisServer(password=secret) as server:
        store = RedisStore.from_url(server.url, timeout=0.3, retry_interval=0.2)
        try:
            lease = (await store.reserve(limits, plan)).unwrap()
            server.stop()
            caplog.set_level(logging.WARNING, logger="interlingua")
            policy = BreakerPolicy(threshold=1)
            assert (await store.breaker_step("openai", policy, Signal.REQUEST)).admitted
            await store.breaker_step("openai", policy, Signal.FAILURE, 0)
            assert not (await store.breaker_step("openai", policy, Signal.REQUEST)).admitted  # the local breaker
            rules = (RateLimit(provider="openai", requests_per_minute=1),)
            assert isinstance(await store.rate_acquire(rules, "openai", "m", 1), Granted)
            assert isinstance(await store.rate_acquire(rules, "openai", "m", 1), Wait)  # the local bucket
            refused = await store.reserve(limits, plan)
            assert isinstance(refused, Failure) and refused.failure().kind is ErrorKind.BUDGET_EXCEEDED
            assert "unreachable" in refused.failure().message and "fail_closed" in refused.failure().message
            await store.settle(lease, Usage(prompt_tokens=100, completion_tokens=50), INFO)  # kept for later
            warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
            assert len(warnings) == 1
            assert all(secret not in r.getMessage() for r in caplog.records)
            assert secret not in repr(store) and secret not in refused.failure().message

            server.start()
            await asyncio.sleep(0.25)  # past retry_interval: the next call tries Redis again
            assert isinstance(await store.reserve(limits, plan), Success)
            state = await store.budget_state()
            assert state.spent == B.settle(B.BudgetState(reserved=plan.cost or 0), lease.reservation,
                                           Usage(prompt_tokens=100, completion_tokens=50), INFO).spent
            assert state.reserved == plan.cost  # only the new reservation: the old lease was settled
            assert (await store.breaker_state("openai")).phase.value == "closed"  # the restarted Redis is authoritative
        finally:
            await store.aclose()


async def test_fail_open_budget_goes_on_locally() -> None:
    """With budget_policy=fail_open, a dead Redis leaves this process's own cap in force."""
    with RedisServer() as server:
        store = RedisStore.from_url(server.url, timeout=0.3, budget_policy=FailPolicy.FAIL_OPEN)
        server.stop()
        try:
            limits = B.Limits(max_cost=Decimal("0.002"))
            plan = B.plan(INFO, prompt_tokens=100, exact=True, max_tokens=100)
            assert isinstance(await store.reserve(limits, plan), Success)
            assert isinstance(await store.reserve(limits, plan), Success)
            assert isinstance(await store.reserve(limits, plan), Failure)
        finally:
            await store.aclose()


# -- wiring and secrecy ------------------------------------------------------------------------------

def test_stores_follow_the_protocol_and_hide_the_password() -> None:
    """Both stores are Stores; the URL's password appears in no repr, nor in the config's."""
    store = RedisStore.from_url("rediss://user:hunter2@redis.example:6380/2")
    assert isinstance(store, Store) and isinstance(LocalStore(), Store)
    assert "hunter2" not in repr(store) and "rediss://user:***@redis.example:6380/2" in repr(store)
    cfg = LlmConfig.from_env({"INTERLINGUA_REDIS_URL": "redis://:hunter2@h:6379/0"})
    assert cfg.redis_url is not None and cfg.redis_url.reveal() == "redis://:hunter2@h:6379/0"
    assert "hunter2" not in repr(cfg) and "hunter2" not in repr(cfg.redis_url)
    asyncio.run(store.aclose())


def test_a_breaker_window_the_script_cannot_hold_is_refused(redis_url: str) -> None:
    """A bit-window wider than a Lua double holds exactly is a configuration error, said at once."""

    async def body(store: RedisStore) -> None:
        with pytest.raises(ValueError, match="at most 52"):
            await store.breaker_step("openai", BreakerPolicy(window=60), Signal.REQUEST)

    run_with_store(redis_url, body)


async def test_only_a_nearly_exhausted_quota_is_shared(redis_url: str) -> None:
    """Plenty left: nothing written. Nearly none left: shared with every worker. Plenty again: replaced."""
    store = RedisStore.from_url(redis_url)
    key = store.key("rate-seen", "openai", "gpt-4o")

    def headers(remaining: int) -> dict[str, str]:
        return {"x-ratelimit-remaining-requests": str(remaining), "x-ratelimit-limit-requests": "100",
                "x-ratelimit-reset-requests": "30s"}

    async def settled() -> dict[bytes, bytes]:
        await asyncio.gather(*store._tasks)
        return await store.redis.hgetall(key)

    try:
        store.rate_observe("openai", "gpt-4o", headers(90))
        assert await settled() == {}
        store.rate_observe("openai", "gpt-4o", headers(3))
        assert float((await settled())[b"r_rem"]) == 3.0
        ttl = await store.redis.ttl(key)
        assert 0 < ttl <= 31
        store.rate_observe("openai", "gpt-4o", headers(95))
        assert float((await settled())[b"r_rem"]) == 95.0
    finally:
        await store.aclose()


@pytest.mark.parametrize("reporter", ["this worker", "another worker"])
async def test_a_waiting_caller_asks_the_shared_limiter_again_once_a_fresh_report_is_written(
    redis_url: str, reporter: str
) -> None:
    """Workers share a quota through Redis. A reply leaves one request a minute; this worker's caller
    waits for its turn. The next reply shows room, seen by this worker or by another one: the caller
    goes as soon as that report has landed in Redis, not a minute later. This worker's own report wakes
    it through its write; another worker's through the rate-news channel (without either wake the test
    times out)."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    a, b = RedisStore.from_url(redis_url, prefix=prefix), RedisStore.from_url(redis_url, prefix=prefix)
    waiting = Limiter(store=a)
    seeing = waiting if reporter == "this worker" else Limiter(store=b)

    def headers(remaining: int, limit: int) -> dict[str, str]:
        return {"x-ratelimit-remaining-requests": str(remaining), "x-ratelimit-limit-requests": str(limit),
                "x-ratelimit-reset-requests": "60s"}

    try:
        seeing.observe("openai", "gpt-4o", headers(0, 1))
        await asyncio.gather(*a._tasks, *b._tasks)
        waiter = asyncio.ensure_future(waiting.wait_turn("openai", "gpt-4o", 1))
        await asyncio.sleep(0.3)  # asked Redis (wait a minute) and subscribed
        assert not waiter.done()  # the shared figure says: nothing left for a minute
        seeing.observe("openai", "gpt-4o", headers(900, 1000))
        assert await asyncio.wait_for(waiter, 10) is None
        assert 0.2 <= waiting.waited < 10
    finally:
        await a.aclose()
        await b.aclose()
    assert a._listener is None and b._listener is None  # a subscription ends with its store


async def test_room_seen_by_a_worker_that_was_told_to_wait_replaces_anothers_low_figure(redis_url: str) -> None:
    """Worker A shares a low figure (one request a minute). Worker B never shared one, but the store
    told it to wait on that figure: B's next report of room is shared, replacing A's, and A's
    waiting caller goes. (Shared only when B itself had written a low figure, B's report of room
    stayed B's own and every worker waited out the minute.)"""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    a, b = RedisStore.from_url(redis_url, prefix=prefix), RedisStore.from_url(redis_url, prefix=prefix)
    waiting = Limiter(store=a)
    quota = {"x-ratelimit-limit-requests": "1000", "x-ratelimit-reset-requests": "60s"}
    try:
        waiting.observe("openai", "gpt-4o", quota | {"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "1"})
        await asyncio.gather(*a._tasks)
        assert isinstance(await b.rate_acquire((), "openai", "gpt-4o", 1), Wait)
        waiter = asyncio.ensure_future(waiting.wait_turn("openai", "gpt-4o", 1))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        assert b.rate_observe("openai", "gpt-4o", quota | {"x-ratelimit-remaining-requests": "900"}) is not None
        assert await asyncio.wait_for(waiter, 10) is None
        assert isinstance(await b.rate_acquire((), "openai", "gpt-4o", 1), Granted)
    finally:
        await a.aclose()
        await b.aclose()


async def test_the_reports_subscription_outlives_an_outage() -> None:
    """Redis goes away under a subscribed worker and comes back: the subscription is made again (after
    ``retry_interval``), so a report shared afterwards still reaches the waiters. Nothing raises meanwhile."""
    with RedisServer() as server:
        prefix = f"t-{uuid.uuid4().hex[:8]}:"
        a = RedisStore.from_url(server.url, prefix=prefix, timeout=0.3, retry_interval=0.2)
        b = RedisStore.from_url(server.url, prefix=prefix, timeout=0.3, retry_interval=0.2)
        seen = Observed(requests=Window(remaining=0.0, reset_at=time.time() + 60, limit=1.0, observed_at=time.time()),
                        tokens=None)
        try:
            a.rate_reported()
            await asyncio.sleep(0.2)
            server.stop()
            await asyncio.sleep(0.3)
            assert a._listener is not None and not a._listener.done()  # retrying, not dead
            server.start()
            deadline = time.monotonic() + 10
            news = a.rate_reported()
            while not news.done() and time.monotonic() < deadline:  # once it has subscribed again, it hears b
                await b.share_observed("openai", "m", seen, time.time())
                await asyncio.sleep(0.1)
            assert news.done()
        finally:
            await a.aclose()
            await b.aclose()


async def test_a_user_without_pubsub_rights_still_shares_quota_and_budgets(caplog: pytest.LogCaptureFixture) -> None:
    """An ACL user with no channels (Redis >= 7's default for a new user): the reports channel fails,
    once and quietly, and nothing else does. The quota report is still written, the store is not taken
    for unreachable (a budget still reserves), and the warning never shows the password."""
    import redis.asyncio as aioredis

    with RedisServer() as server:
        admin = aioredis.from_url(server.url)
        secret = "pw-" + uuid.uuid4().hex
        await admin.execute_command("ACL", "SETUSER", "app", "on", f">{secret}", "~*", "+@all", "resetchannels")
        await admin.aclose()
        url = server.url.replace("redis://", f"redis://app:{secret}@", 1)
        store = RedisStore.from_url(url, prefix=f"t-{uuid.uuid4().hex[:8]}:", retry_interval=0.05)
        caplog.set_level(logging.WARNING, logger="interlingua")
        seen = Observed(requests=Window(remaining=0.0, reset_at=time.time() + 60, limit=1.0, observed_at=time.time()),
                        tokens=None)
        try:
            store.rate_reported()
            await store.share_observed("openai", "m", seen, time.time())
            await asyncio.sleep(0.3)  # the listener has failed and retried a few times
            assert float((await store.redis.hgetall(store.key("rate-seen", "openai", "m")))[b"r_rem"]) == 0.0
            assert store.available
            plan = B.plan(INFO, prompt_tokens=10, exact=True, max_tokens=10)
            assert isinstance(await store.reserve(B.Limits(max_cost=Decimal("1")), plan), Success)
        finally:
            await store.aclose()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "rate-news" in warnings[0] and secret not in warnings[0]


async def test_a_waiting_caller_asks_the_store_only_once_the_report_is_written() -> None:
    """The wake waits for the store's write: asked before it lands, the store would still say wait."""

    class SlowStore(LocalStore):
        def __init__(self) -> None:
            super().__init__()
            self.room = False
            self.write: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.asked = 0

        async def rate_acquire(self, rules: tuple[RateLimit, ...], provider: str, model: str, tokens: int, *,
                               timeout: float | None = None) -> Granted | Wait:
            self.asked += 1
            return Granted() if self.room else Wait(60.0)

        def rate_observe(self, provider: str, model: str, headers: Any) -> asyncio.Future[None]:  # type: ignore[override]
            return self.write

    store = SlowStore()
    limiter = Limiter(store=store)
    waiter = asyncio.ensure_future(limiter.wait_turn("openai", "m", 1))
    await asyncio.sleep(0.05)
    limiter.observe("openai", "m", {"x-ratelimit-remaining-requests": "9", "x-ratelimit-reset-requests": "1s"})
    await asyncio.sleep(0.05)
    assert not waiter.done() and store.asked == 1  # not woken while the write is under way
    store.room = True
    store.write.set_result(None)
    assert await asyncio.wait_for(waiter, 5) is None
    assert store.asked == 2


async def test_fail_closed_breaker_and_limits_refuse_while_redis_is_down() -> None:
    """The non-default policies: no admission from the breaker, no turn from the limiter, until Redis answers."""
    with RedisServer() as server:
        store = RedisStore.from_url(server.url, timeout=0.3, breaker_policy=FailPolicy.FAIL_CLOSED,
                                    rate_policy=FailPolicy.FAIL_CLOSED, retry_interval=0.1)
        try:
            policy = BreakerPolicy(threshold=1)
            assert (await store.breaker_step("openai", policy, Signal.REQUEST)).admitted
            server.stop()
            turn = await store.breaker_step("openai", policy, Signal.REQUEST)
            assert not turn.admitted and turn.new.phase.value == "open"
            rules = (RateLimit(provider="openai", requests_per_minute=100),)
            refused = await store.rate_acquire(rules, "openai", "m", 1)
            assert isinstance(refused, Never) and "unreachable" in refused.reason
            server.start()
            await asyncio.sleep(0.15)
            assert (await store.breaker_step("openai", policy, Signal.REQUEST)).admitted
            assert isinstance(await store.rate_acquire(rules, "openai", "m", 1), Granted)
        finally:
            await store.aclose()
