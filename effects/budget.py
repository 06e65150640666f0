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
from interlingua.core.tokens import TokenCount, count_tokens

from .observe import NO_TRACE, CallTrace
from .ratelimit import Limiter

__all__ = ["CountTokens", "Guard", "Ticket"]


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    """One admitted call: what it reserved and which (provider, model) its responses report on."""

    provider: str
    model: str
    info: ModelInfo | None
    reservation: B.Reservation
    prompt: TokenCount


_UNCOUNTED = TokenCount(0, False, None)


class Guard:
    """Per-client budget state and rate limiter; the catalog entry comes with each prepared call."""

    def __init__(
        self,
        limits: B.Limits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or B.Limits()
        self.state = B.BudgetState()
        self.limiter = Limiter(self.limits.rate_limits, adapt_to_headers=self.limits.adapt_to_headers, clock=clock, sleep=sleep)
        lim = self.limits
        self._paced = bool(lim.rate_limits) or lim.adapt_to_headers
        # Whether anything reads a prompt's size: the caps, the context-window check, the limiter.
        # With all of them off the prompt is not counted (a billed reply we could not read is then
        # charged at its output cap alone), and only the real usage of each reply is accounted.
        self._counts = lim.caps_cost() or lim.caps_tokens() or lim.enforce_context_window or self._paced

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
        prompt = count_tokens(f"{provider}:{model}", request.messages, request.tools) if self._counts else _UNCOUNTED
        if self.limits.enforce_context_window:
            err = B.check_context(info, prompt.count, prompt.exact, model)
            if err is not None:
                return msgspec.structs.replace(err, provider=provider)
        plan = B.plan(info, prompt_tokens=prompt.count, exact=prompt.exact, max_tokens=request.max_tokens, model=model)
        reserved = B.reserve(self.state, self.limits, plan)  # no await between check and update: atomic
        if type(reserved) is Failure:
            refusal: LlmError = reserved.failure()
            return msgspec.structs.replace(refusal, provider=provider)
        self.state, reservation = reserved.unwrap()
        ticket = Ticket(provider=provider, model=model, info=info, reservation=reservation, prompt=prompt)
        if not self._paced:
            return ticket
        try:
            tokens = plan.tokens if plan.tokens is not None else plan.prompt_tokens
            refused = await self.limiter.wait_turn(provider, model, tokens, max_wait=max_wait, trace=trace)
        except BaseException:
            self.release(ticket)
            raise
        if refused is not None:
            self.release(ticket)
            return refused
        return ticket

    def settle(self, ticket: Ticket, usage: Usage | None) -> None:
        """Replace the reservation by what ``usage`` cost (``None``: billed but unreadable → worst case)."""
        self.state = B.settle(self.state, ticket.reservation, usage, ticket.info)

    def release(self, ticket: Ticket) -> None:
        self.state = B.release(self.state, ticket.reservation)

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
