"""Budgets, context-window checks and rate limits, enforced before a request is sent.

The client's attempt loop (:mod:`interlingua.effects.client`) calls four small methods per model
tried — the shared-state seam (a store shared between processes backs these and nothing else)::

    ticket = await guard.acquire(prepared, max_wait, trace)  # count, check window, reserve, wait turn
    guard.observe(provider, model, response)                 # every response head: rate-limit headers
    guard.settle(ticket, usage)                               # the reply's real usage (None: worst case)
    guard.release(ticket)                                     # nothing was billed

``acquire`` counts the prompt (offline, :func:`interlingua.core.tokens.count_tokens`), refuses a
prompt that cannot fit the model's window (``context_length_exceeded``, no network call), reserves
the worst-case cost and tokens (``budget_exceeded`` if a cap could be crossed) and waits for the
rate limiter, never longer than ``max_wait`` (the call's remaining deadline). All arithmetic lives
in :mod:`interlingua.core.budget` and :mod:`interlingua.core.ratelimit`; this module only holds the
state and sleeps.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec
from returns.result import Failure, Result

from interlingua.core import (
    ChatRequest,
    HttpRequest,
    HttpResponse,
    LlmError,
    ModelInfo,
    ProviderConfig,
    Usage,
)
from interlingua.core import budget as B
from interlingua.core.prepare import Prepared
from interlingua.core.ratelimit import Granted
from interlingua.core.tokens import (
    TokenCount,
    count_tokens,
    encoding_for_model,
    get_encoding,
    token_upper_bound,
)

from .observe import NO_TRACE, CallTrace
from .ratelimit import Limiter
from .store import Lease, Store

__all__ = ["CountTokens", "Guard", "Ticket"]


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    """One admitted call: what it reserved and which (provider, model) its responses report on."""

    provider: str
    model: str
    info: ModelInfo | None
    reservation: B.Reservation
    prompt: TokenCount
    lease: Lease | None = None  # hook: redis (the reservation as a shared store holds it)


_UNLIMITED = float("inf")
_UNCOUNTED = TokenCount(0, False, None)
_LOADED: set[str] = set()  # encodings this process has built (off the event loop)
_LOADING: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[object]]] = {}


async def _load(name: str) -> None:
    """Build an encoding once (~0.5 s of reading and hashing rank files), in a worker thread, off the
    loop. The calls that need it meanwhile wait for that one load rather than start their own, so they
    are admitted together once it is there, as calls that needed no load are (a caller cancelled
    while waiting does not cancel the load the others wait for)."""
    loop = asyncio.get_running_loop()
    pending = _LOADING.get(name)
    if pending is None or pending[0] is not loop:
        pending = _LOADING[name] = (loop, asyncio.ensure_future(asyncio.to_thread(get_encoding, name)))
    try:
        await asyncio.shield(pending[1])
    finally:
        if pending[1].done() and _LOADING.get(name) is pending:
            del _LOADING[name]
    _LOADED.add(name)


class Guard:
    """Per-client budget state and rate limiter; the catalog entry comes with each prepared call."""

    def __init__(
        self,
        limits: B.Limits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        store: Store | None = None,
    ) -> None:
        self.limits = limits or B.Limits()
        self.state = B.BudgetState()
        # hook: redis — a shared store holds the budget and the buckets (None: this process, no await)
        self._shared = store
        self._tasks: set[asyncio.Task[None]] = set()
        self.limiter = Limiter(
            self.limits.rate_limits, adapt_to_headers=self.limits.adapt_to_headers, clock=clock, sleep=sleep, store=store,
            quota_refresh=self.limits.quota_refresh,
        )
        lim = self.limits
        self._paced = bool(lim.rate_limits) or lim.adapt_to_headers
        # Whether anything reads a prompt's size: the caps, the context-window check, the limiter.
        # With all of them off the prompt is not counted (a billed reply we could not read is then
        # charged at its output cap alone), and only the real usage of each reply is accounted.
        self._counts = lim.caps_cost() or lim.caps_tokens() or lim.enforce_context_window or self._paced
        self._caps = lim.caps_cost() or lim.caps_tokens()

    @property
    def total_cost(self) -> Decimal:
        """USD spent by settled calls whose price is known (``state.unpriced_calls`` counts the others)."""
        return self.state.spent

    # -- admission --------------------------------------------------------------------------------

    async def acquire(self, p: Prepared, max_wait: float | None = None, trace: CallTrace = NO_TRACE) -> Ticket | LlmError:
        """Admit one call (a :class:`Ticket` to settle or release), or the reason it may not go.
        A rate-limiter turn that cannot come within ``max_wait`` seconds is refused at once."""
        provider = p.ref.provider
        request = p.request
        model = request.model
        info = p.info
        if not self._counts:
            prompt = _UNCOUNTED
        else:
            bounded = self._bound(p)
            if bounded is not None:
                prompt = bounded
            else:
                name = (encoding_for_model(model) if p.spec.tokens == "tiktoken" else None) or "o200k_base"
                if name not in _LOADED:
                    await _load(name)
                prompt = count_tokens(f"{provider}:{model}", request.messages, request.tools)
        if self.limits.enforce_context_window and info is not None:
            window = info.context_window
            # a count within the window passes check_context (an estimate is read no larger): the
            # check and its arithmetic run only for a prompt that could be refused (issue 19)
            if window is not None and prompt.count > window:
                err = B.check_context(info, prompt.count, prompt.exact, model)
                if err is not None:
                    return msgspec.structs.replace(err, provider=provider)
        plan = B.plan(info, prompt_tokens=prompt.count, exact=prompt.exact, max_tokens=request.max_tokens, model=model)
        lease: Lease | None = None
        if self._shared is not None:  # hook: redis
            leased = await self._shared.reserve(self.limits, plan, timeout=max_wait)
            if type(leased) is Failure:
                denied: LlmError = leased.failure()
                return msgspec.structs.replace(denied, provider=provider)
            lease = leased.unwrap()
            self.state, reservation = self._shared.budget, lease.reservation
        else:
            taken = B.take(self.state, self.limits, plan)  # no await between check and update: atomic
            if isinstance(taken, LlmError):
                return msgspec.structs.replace(taken, provider=provider)
            self.state, reservation = taken
        ticket = Ticket(provider=provider, model=model, info=info, reservation=reservation, prompt=prompt, lease=lease)
        if not self._paced:
            return ticket
        try:
            out = plan.max_output_tokens
            tokens = plan.prompt_tokens if out is None else plan.prompt_tokens + out  # Plan.tokens, inline
            limiter = self.limiter
            if self._shared is None and type(limiter.decide(provider, model, tokens)) is Granted:
                refused = None  # granted at once: no coroutine to await (issue 19)
            else:  # a turn to wait for (it is decided again there, then slept for), or a shared store
                refused = await limiter.wait_turn(provider, model, tokens, max_wait=max_wait, trace=trace)
        except BaseException:
            self.detach(self.release(ticket))
            raise
        if refused is not None:
            pending = self.release(ticket)
            if pending is not None:
                await pending
            return refused
        return ticket

    def _bound(self, p: Prepared) -> TokenCount | None:
        """A byte bound on the prompt (a prompt of n UTF-8 bytes has at most n tokens) that stands in
        for the count when counting could not change a decision: no cost or token cap is set, the bound
        fits the context window, and the limiter would grant the bound (with its estimate margin and the
        output cap) from what the provider's token window still holds, as surely as the exact count.
        ``None``: it must be counted. So the tokenizer loads only for a prompt near a limit, not on the
        call after the first reply that carried ``x-ratelimit-remaining-tokens``."""
        if self._caps:
            return None
        request = p.request
        room = self.limiter.token_headroom(p.ref.provider, request.model)
        if room is None:
            return None
        bound = token_upper_bound(request.messages, request.tools)
        if bound is None:
            return None
        info = p.info
        window = info.context_window if info is not None else None
        if window is not None and bound > window:
            return None
        if room != _UNLIMITED:
            # what the limiter will take for this call (B.plan's inflation of an inexact count + the output cap)
            out = request.max_tokens if request.max_tokens is not None else (info.max_output_tokens if info else None)
            if math.ceil(bound * B.ESTIMATE_MARGIN) + (out or 0) > room:
                return None
        return TokenCount(bound, False, None)

    def settle(self, ticket: Ticket, usage: Usage | None) -> Awaitable[None] | None:
        """Replace the reservation by what ``usage`` cost (``None``: billed but unreadable → worst case).
        Done at once in this process; with a shared store, the returned awaitable does it."""
        if ticket.lease is not None and self._shared is not None:  # hook: redis
            return self._remote(self._shared.settle(ticket.lease, usage, ticket.info))
        self.state = B.settle(self.state, ticket.reservation, usage, ticket.info)
        return None

    def release(self, ticket: Ticket) -> Awaitable[None] | None:
        """Give the reservation back (nothing was billed); as :meth:`settle`, an awaitable when shared."""
        if ticket.lease is not None and self._shared is not None:  # hook: redis
            return self._remote(self._shared.release(ticket.lease))
        self.state = B.release(self.state, ticket.reservation)
        return None

    async def _remote(self, change: Awaitable[B.BudgetState]) -> None:
        self.state = await change

    def detach(self, pending: Awaitable[None] | None) -> None:
        """Let a shared settlement finish on its own (the call was closed where nothing can be awaited);
        :meth:`aclose` waits for the stragglers."""
        if pending is None:
            return
        task = asyncio.ensure_future(pending)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def observe(self, provider: str, model: str, resp: HttpResponse) -> None:
        """Hand a response's rate-limit headers (any status, every attempt) to the limiter, which reads
        them unless a recent roomy reading makes that needless (``Limits.quota_refresh``)."""
        self.limiter.observe(provider, model, resp.headers, resp.status)


# -- exact counts from the providers' count-tokens endpoints ----------------------------------------


@runtime_checkable
class CountTokens(Protocol):
    """A dialect that can ask its provider for an exact prompt count (Anthropic ``/v1/messages/count_tokens``,
    Gemini ``:countTokens``): pure encode and decode, as every dialect operation."""

    def encode_count_tokens(self, req: ChatRequest, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]: ...

    def decode_count_tokens(self, resp: HttpResponse) -> Result[int, LlmError]: ...
