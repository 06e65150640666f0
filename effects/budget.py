"""Budgets, context-window checks and rate limits, enforced before a request is sent.

The client calls three things::

    self._guard = Guard.for_config(config)              # once
    await self._guard.guarded(prepared, send_once)      # per call (guarded_stream for streams)
    self._guard.observe(provider, model, response)      # every response head: rate-limit headers

``guarded`` counts the prompt (offline, :func:`interlingua.core.tokens.count_tokens`), refuses a
prompt that cannot fit the model's window (``context_length_exceeded``, no network call), reserves
the worst-case cost and tokens (``budget_exceeded`` if a cap could be crossed), waits for the rate
limiter, sends, then settles the reservation to the real usage. All arithmetic lives in
:mod:`interlingua.core.budget` and :mod:`interlingua.core.ratelimit`; this module only holds the
state and sleeps; the client tells it which call each response head belongs to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ErrorKind,
    HttpRequest,
    HttpResponse,
    LlmError,
    ModelInfo,
    ProviderConfig,
    Usage,
)
from interlingua.core import budget as B
from interlingua.core.catalog import Catalog, default_catalog
from interlingua.core.tokens import TokenCount, count_tokens

from .config import LlmConfig
from .ratelimit import Limiter
from .store import Lease, Store
from .transport import Timeouts, Transport

__all__ = ["CountTokens", "Guard", "Ticket", "count_tokens_remote"]


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    """One admitted call: what it reserved and which (provider, model) its responses report on."""

    provider: str
    model: str
    info: ModelInfo | None
    reservation: B.Reservation
    prompt: TokenCount
    lease: Lease | None = None  # hook: redis (the reservation as a shared store holds it)


_UNCOUNTED = TokenCount(0, False, None)


class Guard:
    """Per-client budget state, rate limiter and catalog."""

    def __init__(
        self,
        limits: B.Limits | None = None,
        *,
        catalog: Catalog | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        store: Store | None = None,
    ) -> None:
        self.limits = limits or B.Limits()
        self._shared = store  # hook: redis (None: this process's state, no await on the way)
        self.catalog = catalog or default_catalog()
        self._info: dict[tuple[str, str], ModelInfo | None] = {}
        self.state = B.BudgetState()
        self.limiter = Limiter(
            self.limits.rate_limits, adapt_to_headers=self.limits.adapt_to_headers, clock=clock, sleep=sleep, store=store
        )
        lim = self.limits
        self._paced = bool(lim.rate_limits) or lim.adapt_to_headers
        # Whether anything reads a prompt's size: the caps, the context-window check, the limiter.
        # With all of them off the prompt is not counted (a billed reply we could not read is then
        # charged at its output cap alone), and only the real usage of each reply is accounted.
        self._counts = lim.caps_cost() or lim.caps_tokens() or lim.enforce_context_window or self._paced

    def _lookup(self, provider: str, model: str) -> ModelInfo | None:
        # The catalog is immutable and the same few models recur on every call (bounded memo).
        key = (provider, model)
        try:
            return self._info[key]
        except KeyError:
            info = self.catalog.lookup(provider, model)
            if len(self._info) < 1024:
                self._info[key] = info
            return info

    @classmethod
    def for_config(cls, config: LlmConfig) -> Guard:
        """The guard for a client's config (its ``limits`` field)."""
        return cls(config.limits)

    @property
    def total_cost(self) -> Decimal:
        """USD spent by settled calls whose price is known (``state.unpriced_calls`` counts the others)."""
        return self.state.spent

    # -- admission --------------------------------------------------------------------------------

    async def acquire(self, provider: str, request: ChatRequest) -> Ticket | LlmError:
        """Admit one call (a :class:`Ticket` to settle or release), or the reason it may not go."""
        model = request.model
        info = self._lookup(provider, model)
        prompt = count_tokens(f"{provider}:{model}", request.messages, request.tools) if self._counts else _UNCOUNTED
        if self.limits.enforce_context_window:
            err = B.check_context(info, prompt.count, prompt.exact, model)
            if err is not None:
                return msgspec.structs.replace(err, provider=provider)
        p = B.plan(info, prompt_tokens=prompt.count, exact=prompt.exact, max_tokens=request.max_tokens, model=model)
        lease: Lease | None = None
        if self._shared is not None:  # hook: redis
            leased = await self._shared.reserve(self.limits, p)
            if type(leased) is Failure:
                denied: LlmError = leased.failure()
                return msgspec.structs.replace(denied, provider=provider)
            lease = leased.unwrap()
            self.state, reservation = self._shared.budget, lease.reservation
        else:
            reserved = B.reserve(self.state, self.limits, p)  # no await between check and update: atomic
            if type(reserved) is Failure:
                refusal: LlmError = reserved.failure()
                return msgspec.structs.replace(refusal, provider=provider)
            self.state, reservation = reserved.unwrap()
        ticket = Ticket(provider=provider, model=model, info=info, reservation=reservation, prompt=prompt, lease=lease)
        if not self._paced:
            return ticket
        try:
            refused = await self.limiter.wait_turn(provider, model, p.tokens if p.tokens is not None else p.prompt_tokens)
        except BaseException:
            await self._finish(ticket, None, billed=False)
            raise
        if refused is not None:
            await self._finish(ticket, None, billed=False)
            return refused
        return ticket

    async def _finish(self, ticket: Ticket, usage: Usage | None, *, billed: bool) -> None:
        """Settle (``billed``) or release a ticket, in whichever store holds it."""
        if ticket.lease is None or self._shared is None:
            if billed:
                self.settle(ticket, usage)
            else:
                self.release(ticket)
        elif billed:  # hook: redis
            self.state = await self._shared.settle(ticket.lease, usage, ticket.info)
        else:
            self.state = await self._shared.release(ticket.lease)

    def settle(self, ticket: Ticket, usage: Usage | None) -> None:
        """Replace the reservation by what ``usage`` cost (``None``: billed but unreadable → worst case)."""
        self.state = B.settle(self.state, ticket.reservation, usage, ticket.info)

    def release(self, ticket: Ticket) -> None:
        self.state = B.release(self.state, ticket.reservation)

    def _settle_result(self, ticket: Ticket, result: Result[ChatResponse, LlmError]) -> None:
        if type(result) is Success:
            self.settle(ticket, result.unwrap().usage)
        elif result.failure().kind is ErrorKind.DECODE:
            self.settle(ticket, None)  # a 2xx we could not read was still billed
        else:
            self.release(ticket)

    # -- wrapping calls ---------------------------------------------------------------------------

    async def guarded(
        self, prepared: Any, send: Callable[[Any, Any], Awaitable[Result[ChatResponse, LlmError]]], context: Any = None
    ) -> Result[ChatResponse, LlmError]:
        """Admit, send with ``send(prepared, context)``, settle."""
        ticket = await self.acquire(prepared.ref.provider, prepared.request)
        if isinstance(ticket, LlmError):
            return Failure(ticket)
        try:
            result = await send(prepared, context)
        except BaseException:
            await self._finish(ticket, None, billed=False)
            raise
        if ticket.lease is None:
            self._settle_result(ticket, result)
        elif type(result) is Success:  # hook: redis
            await self._finish(ticket, result.unwrap().usage, billed=True)
        else:
            await self._finish(ticket, None, billed=result.failure().kind is ErrorKind.DECODE)
        return result

    async def guarded_stream(
        self,
        prepared: Result[Any, LlmError],
        stream: Callable[[Result[Any, LlmError]], AsyncIterator[Result[ChatChunk, LlmError]]],
    ) -> AsyncGenerator[Result[ChatChunk, LlmError], None]:
        """Admit, stream, settle to the last (cumulative) usage a chunk carried."""
        if type(prepared) is Failure:
            yield prepared
            return
        p = prepared.unwrap()
        ticket = await self.acquire(p.ref.provider, p.request)
        if isinstance(ticket, LlmError):
            yield Failure(ticket)
            return
        inner = stream(prepared)
        usage: Usage | None = None
        received = False
        try:
            async for item in inner:
                if type(item) is Success:
                    received = True
                    chunk = item.unwrap()
                    usage = chunk.usage or usage
                yield item
        finally:
            await inner.aclose()  # type: ignore[attr-defined]
            await self._finish(ticket, usage, billed=usage is not None or received)

    def observe(self, provider: str, model: str, resp: HttpResponse) -> None:
        """Fold a response's rate-limit headers (any status, every attempt) into the limiter."""
        self.limiter.observe(provider, model, resp.headers)


# -- exact counts from the providers' count-tokens endpoints ----------------------------------------


@runtime_checkable
class CountTokens(Protocol):
    """A dialect that can ask its provider for an exact prompt count (Anthropic ``/v1/messages/count_tokens``,
    Gemini ``:countTokens``): pure encode and decode, as every dialect operation."""

    def encode_count_tokens(self, req: ChatRequest, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]: ...

    def decode_count_tokens(self, resp: HttpResponse) -> Result[int, LlmError]: ...


async def count_tokens_remote(
    prepared: Result[Any, LlmError], transport: Transport, timeouts: Timeouts, max_bytes: int
) -> Result[TokenCount, LlmError]:
    """The provider's own count when its dialect has a count-tokens operation, else the offline count."""
    if type(prepared) is Failure:
        return prepared
    p = prepared.unwrap()
    dialect = p.dialect
    if not isinstance(dialect, CountTokens):
        return Success(count_tokens(f"{p.ref.provider}:{p.request.model}", p.request.messages, p.request.tools))
    encoded = dialect.encode_count_tokens(p.request, p.config)
    if type(encoded) is Failure:
        return encoded
    sent = await transport.send(encoded.unwrap(), timeouts=timeouts, max_bytes=max_bytes)
    if type(sent) is Failure:
        return sent
    decoded: Result[Any, LlmError] = dialect.decode_count_tokens(sent.unwrap())
    return decoded.map(lambda n: n if isinstance(n, TokenCount) else TokenCount(int(n), True, None))


