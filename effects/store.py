"""Where the client's shared state lives: circuit breakers, rate-limit buckets and budget spend.

One small protocol, :class:`Store`, with two implementations:

* :class:`LocalStore` — the state in this process's memory, as a plain client keeps it. It applies
  the pure state machines of :mod:`interlingua.core.breaker`, :mod:`interlingua.core.ratelimit`
  and :mod:`interlingua.core.budget` directly. The client's default path is the same code, kept
  synchronous (no await on the happy path); ``LocalStore`` is also :class:`RedisStore`'s fallback.
* :class:`~interlingua.effects.redis_store.RedisStore` — the same state in Redis, changed atomically
  by Lua scripts that implement the same rules, so that many workers share one set of limits.

The rules live in ``core`` only; a store holds state and applies transitions, nothing more.
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import ModelInfo, Usage
from interlingua.core import budget as B
from interlingua.core.breaker import BreakerPolicy, BreakerState, Signal, step
from interlingua.core.budget import RateLimit
from interlingua.core.errors import LlmError
from interlingua.core.ratelimit import Decision, LimiterState, Observed, acquire, observe, record

from .breakers import REJECTED, Breakers, OnChange

__all__ = ["BreakerTurn", "FailPolicy", "Lease", "LocalStore", "SharedBreakers", "Store"]


class FailPolicy(enum.StrEnum):
    """What a shared store does when its backend is unreachable or slow."""

    FAIL_OPEN = "fail_open"
    """Go on with this process's own state (warn once, retry the connection later)."""
    FAIL_CLOSED = "fail_closed"
    """Refuse: a budget answers ``budget_exceeded`` rather than allow unbounded spend."""


class BreakerTurn(msgspec.Struct, frozen=True):
    """One breaker signal applied: the state before and after, whether a request was admitted, and
    ``now`` on the store's clock (``reopens_at(policy, new) - now`` is the wait of an open circuit)."""

    old: BreakerState
    new: BreakerState
    admitted: bool
    now: float


class Lease(msgspec.Struct, frozen=True):
    """A budget reservation held in a store; ``id`` names it there (a shared store releases a lease
    whose holder died once its time is up)."""

    reservation: B.Reservation
    id: str = ""
    shared: bool = False


@runtime_checkable
class Store(Protocol):
    """The state a client shares with whoever shares its store. ``timeout`` bounds each operation
    (the call's remaining deadline); ``None`` is the store's own default. ``budget`` is the budget
    as this process last saw it; ``shared`` is False for an in-process store."""

    shared: bool
    budget: B.BudgetState

    async def breaker_step(
        self, key: str, policy: BreakerPolicy, signal: Signal, generation: int | None = None, *, timeout: float | None = None
    ) -> BreakerTurn: ...

    async def rate_acquire(
        self, rules: tuple[RateLimit, ...], provider: str, model: str, tokens: int, *, timeout: float | None = None
    ) -> Decision: ...

    def rate_observe(self, provider: str, model: str, headers: Mapping[str, str]) -> asyncio.Future[Any] | None:
        """Take the quota a reply reported. ``None`` when :meth:`rate_acquire` already answers by it (or
        there was nothing to take); else the write, under way, after which it does (a limiter wakes its
        waiting callers then, not before)."""

    def rate_reported(self) -> asyncio.Future[None] | None:
        """Completes when some worker sharing the store reports a quota (a waiting caller then asks
        :meth:`rate_acquire` again); ``None`` when no other worker can report one. Never cancel it:
        every waiter of this process may be given the same one."""

    async def reserve(self, limits: B.Limits, plan: B.Plan, *, timeout: float | None = None) -> Result[Lease, LlmError]: ...

    async def settle(
        self, lease: Lease, usage: Usage | None, info: ModelInfo | None, *, timeout: float | None = None
    ) -> B.BudgetState: ...

    async def release(self, lease: Lease, *, timeout: float | None = None) -> B.BudgetState: ...

    async def aclose(self) -> None: ...


def settlement(r: B.Reservation, usage: Usage | None, info: ModelInfo | None) -> B.BudgetState:
    """What settling ``r`` adds to a budget (``spent``, ``tokens_used``, ``unpriced_calls``), by the pure
    :func:`interlingua.core.budget.settle` itself, so that a shared store adds exactly the same."""
    return B.settle(B.BudgetState(reserved=r.cost, tokens_reserved=r.tokens), r, usage, info)


class LocalStore:
    """This process's state, behind the :class:`Store` protocol (never suspends)."""

    shared = False

    def __init__(self, *, clock: float | None = None) -> None:
        self.breakers: dict[str, BreakerState] = {}
        self.limiter = LimiterState()
        self.budget = B.BudgetState()
        self._fixed = clock  # tests pin the clock

    def _now(self, wall: bool) -> float:
        if self._fixed is not None:
            return self._fixed
        return time.time() if wall else time.monotonic()

    async def breaker_step(
        self, key: str, policy: BreakerPolicy, signal: Signal, generation: int | None = None, *, timeout: float | None = None
    ) -> BreakerTurn:
        return self.breaker_step_now(key, policy, signal, generation, self._now(False))

    def breaker_step_now(self, key: str, policy: BreakerPolicy, signal: Signal, generation: int | None, now: float) -> BreakerTurn:
        old = self.breakers.get(key) or BreakerState()
        s = step(policy, old, signal, now, generation)
        if s.state is not old:
            self.breakers[key] = s.state
        return BreakerTurn(old, s.state, s.admitted, now)

    async def rate_acquire(
        self, rules: tuple[RateLimit, ...], provider: str, model: str, tokens: int, *, timeout: float | None = None
    ) -> Decision:
        self.limiter, decision = acquire(self.limiter, rules, provider, model, tokens=tokens, now=self._now(True))
        return decision

    def rate_observe(self, provider: str, model: str, headers: Mapping[str, str]) -> None:
        self.limiter = observe(self.limiter, provider, model, headers, self._now(True))
        return None

    def rate_reported(self) -> None:
        return None  # this process is the only one that reports

    def rate_record(self, provider: str, model: str, seen: Observed) -> None:
        """:meth:`rate_observe` for windows a caller has already read off the headers."""
        self.limiter = record(self.limiter, provider, model, seen)

    async def reserve(self, limits: B.Limits, plan: B.Plan, *, timeout: float | None = None) -> Result[Lease, LlmError]:
        got = B.reserve(self.budget, limits, plan)
        if type(got) is Failure:
            return got
        self.budget, r = got.unwrap()
        return Success(Lease(r, uuid.uuid4().hex))

    async def settle(
        self, lease: Lease, usage: Usage | None, info: ModelInfo | None, *, timeout: float | None = None
    ) -> B.BudgetState:
        self.budget = B.settle(self.budget, lease.reservation, usage, info)
        return self.budget

    async def release(self, lease: Lease, *, timeout: float | None = None) -> B.BudgetState:
        self.budget = B.release(self.budget, lease.reservation)
        return self.budget

    async def aclose(self) -> None:
        return None

    @property
    def total_cost(self) -> Decimal:
        return self.budget.spent


class SharedBreakers:
    """:class:`~interlingua.effects.breakers.Breakers`' two methods (``admit``, ``report``) against a
    shared store, awaited. Each answer is mirrored into the client's own ``Breakers`` (its times moved
    onto the client's clock), so that ``Client.breaker(key)``, ``circuit_open``'s ``retry_after`` and
    the breaker events read as they do for a local circuit."""

    __slots__ = ("_tasks", "clock", "local", "store")

    def __init__(self, store: Store, local: Breakers, clock: Callable[[], float]) -> None:
        self.store = store
        self.local = local
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, key: str, on_change: OnChange, timeout: float | None = None) -> int:
        """The generation to report the outcome with, or :data:`~interlingua.effects.breakers.REJECTED`."""
        turn = await self.store.breaker_step(key, self.local.policy, Signal.REQUEST, timeout=timeout)
        self._mirror(key, turn, on_change)
        return turn.new.generation if turn.admitted else REJECTED

    async def report(self, key: str, generation: int, signal: Signal, on_change: OnChange) -> None:
        self._mirror(key, await self.store.breaker_step(key, self.local.policy, signal, generation), on_change)

    def report_soon(self, key: str, generation: int, signal: Signal, on_change: OnChange) -> None:
        """``report`` where nothing can be awaited (a stream's first chunk, a call closed mid-flight);
        :meth:`aclose` waits for it."""
        try:
            task = asyncio.get_running_loop().create_task(self.report(key, generation, signal, on_change))
        except RuntimeError:  # no loop any more: the lease / generation rules make a lost report harmless
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _mirror(self, key: str, turn: BreakerTurn, on_change: OnChange) -> None:
        if turn.new == turn.old and self.local.get(key) == self._shift(turn.new, turn.now):
            return
        old, new = self._shift(turn.old, turn.now), self._shift(turn.new, turn.now)
        self.local._set(key, old, new, on_change)

    def _shift(self, s: BreakerState, now: float) -> BreakerState:
        if s.opened_at == 0.0:
            return s
        return msgspec.structs.replace(s, opened_at=s.opened_at + self.clock() - now)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
