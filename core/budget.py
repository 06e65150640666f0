"""Spending caps and token limits, as pure arithmetic over an immutable :class:`BudgetState`.

A request first *reserves* its worst case — prompt tokens at the dearest prompt-side price plus
``max_tokens`` at the output price — and is refused (``budget_exceeded``) when that could cross a
cap. When the answer arrives the reservation *settles* to what the usage really cost; a request
that failed without being billed *releases* it. Because a reservation is taken before any byte is
sent, concurrent requests can never jointly overspend a cap. The effect layer
(:mod:`interlingua.effects.budget`) holds the state and applies these functions atomically.

>>> from decimal import Decimal
>>> from .schema import ModelInfo, Usage
>>> info = ModelInfo(id="m", provider="p", context_window=1000, input_price=Decimal(1), output_price=Decimal(2))
>>> limits = Limits(max_cost=Decimal("0.003"))
>>> state, r = reserve(BudgetState(), limits, plan(info, prompt_tokens=500, exact=True, max_tokens=500)).unwrap()
>>> r.cost, state.reserved
(Decimal('0.001500'), Decimal('0.001500'))
>>> reserve(state, limits, plan(info, prompt_tokens=500, exact=True, max_tokens=1000)).failure().kind.value
'budget_exceeded'
>>> settle(state, r, Usage(prompt_tokens=500, completion_tokens=10), info).spent
Decimal('0.000520')
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec
from returns.result import Failure, Result, Success

from .errors import ErrorKind, LlmError
from .schema import _PRICED, ModelInfo, Usage, priced

__all__ = [
    "ESTIMATE_MARGIN",
    "BudgetState",
    "Limits",
    "Plan",
    "RateLimit",
    "Reservation",
    "check_context",
    "plan",
    "release",
    "reserve",
    "settle",
    "worst_case_cost",
]

ESTIMATE_MARGIN = 1.25
"""Offline estimates (``exact=False``) are inflated by this factor before they are reserved: another
provider's tokenizer may count up to ~25% more than ``o200k_base`` for ordinary text."""


class RateLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A client-side limit for one provider, or one model of it (``model=None``: the whole provider)."""

    provider: str
    model: str | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a client may spend and send. ``None`` means no limit. Costs are USD.

    ``max_cost``/``max_tokens`` cap the client's lifetime total; the ``_per_call`` fields cap each call.
    With a cost cap set, a model whose price is unknown is refused rather than sent unmetered.

    ``adapt_to_headers`` follows the quota a provider reports in its rate-limit headers. Replies that
    arrive within ``quota_refresh`` seconds of the last one read are not read again while every window
    it reported had more than a fifth of its limit left (or it reported none); a reply that is not
    2xx, a nearly used-up window or a caller waiting for a turn makes every reply count. ``0``: read
    every reply; at most one second is honoured.
    """

    max_cost: Decimal | None = None
    max_cost_per_call: Decimal | None = None
    max_tokens: int | None = None
    max_tokens_per_call: int | None = None
    rate_limits: tuple[RateLimit, ...] = ()
    enforce_context_window: bool = True
    adapt_to_headers: bool = True
    quota_refresh: float = 0.05

    def caps_cost(self) -> bool:
        return self.max_cost is not None or self.max_cost_per_call is not None

    def caps_tokens(self) -> bool:
        return self.max_tokens is not None or self.max_tokens_per_call is not None


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """One call's worst case, before sending."""

    model: str
    prompt_tokens: int
    max_output_tokens: int | None
    cost: Decimal | None

    @property
    def tokens(self) -> int | None:
        return None if self.max_output_tokens is None else self.prompt_tokens + self.max_output_tokens


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    cost: Decimal
    tokens: int


class BudgetState(msgspec.Struct, frozen=True, kw_only=True):
    """Settled spend and open reservations; ``spent`` sums only calls whose price was known."""

    spent: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    tokens_used: int = 0
    tokens_reserved: int = 0
    unpriced_calls: int = 0


def worst_case_cost(info: ModelInfo | None, prompt_tokens: int, max_output_tokens: int | None) -> Decimal | None:
    """The most a call can cost, or ``None`` when it cannot be bounded (unknown price or output cap).

    >>> from .schema import ModelInfo
    >>> info = ModelInfo(id="m", provider="p", input_price=Decimal("3"), output_price=Decimal("15"),
    ...                  cache_write_price=Decimal("3.75"))
    >>> worst_case_cost(info, 1000, 100)       # prompt at the cache-write premium: the dearest case
    Decimal('0.00525000')
    """
    if info is None or max_output_tokens is None:
        return None
    key = info.id  # the price memo, inline (issue 19: no calls per call)
    entry = _PRICED[key] if key in _PRICED else None  # noqa: SIM401 (no `get` call per call)
    t = (entry if entry is not None and entry[0] is info else priced(info))[3]
    if t is None:
        return _decimal_worst_case(info, prompt_tokens, max_output_tokens)
    # the two prices as integers over their common exponent: the same Decimal as the Decimal
    # products' sum (value and exponent), in two Decimal operations (issue 19)
    return Decimal(prompt_tokens * t[0] + max_output_tokens * t[1]).scaleb(t[2])


def _decimal_worst_case(info: ModelInfo, prompt_tokens: int, max_output_tokens: int) -> Decimal | None:
    """:func:`worst_case_cost` in Decimal arithmetic: for a price that is unknown (``None``) or not a
    finite number."""
    if info.input_price is None or info.output_price is None:
        return None
    prompt_price = info.input_price  # the dearest of the prompt prices (the first of equal ones, as ``max`` picks)
    for p in (info.cache_write_price, info.cache_write_1h_price, info.cached_input_price):  # hook: cache (1h writes)
        if p is not None and p > prompt_price:
            prompt_price = p
    return Decimal(prompt_tokens * prompt_price + max_output_tokens * info.output_price).scaleb(-6)


def plan(info: ModelInfo | None, *, prompt_tokens: int, exact: bool, max_tokens: int | None, model: str = "") -> Plan:
    """The worst case of one call: an inexact prompt count is inflated by :data:`ESTIMATE_MARGIN`, and
    without ``max_tokens`` the model's own output limit is assumed."""
    prompt = prompt_tokens if exact else math.ceil(prompt_tokens * ESTIMATE_MARGIN)
    out = max_tokens if max_tokens is not None else (info.max_output_tokens if info else None)
    return Plan(model=model or (info.id if info else ""), prompt_tokens=prompt, max_output_tokens=out,
                cost=worst_case_cost(info, prompt, out))


def check_context(info: ModelInfo | None, prompt_tokens: int, exact: bool, model: str = "") -> LlmError | None:
    """``context_length_exceeded`` when the prompt cannot fit the model's window.

    An exact count must fit; an estimate is refused only when even its optimistic reading (divided by
    :data:`ESTIMATE_MARGIN`) does not fit, so estimates never block a prompt the provider would take.

    >>> from .schema import ModelInfo
    >>> check_context(ModelInfo(id="m", provider="p", context_window=10), 11, True).kind.value
    'context_length_exceeded'
    >>> check_context(ModelInfo(id="m", provider="p", context_window=10), 11, False) is None
    True
    """
    if info is None or info.context_window is None:
        return None
    effective = prompt_tokens if exact else math.floor(prompt_tokens / ESTIMATE_MARGIN)
    if effective <= info.context_window:
        return None
    how = "" if exact else "about "
    return LlmError(
        kind=ErrorKind.CONTEXT_LENGTH_EXCEEDED,
        message=f"the prompt is {how}{prompt_tokens} tokens but {model or info.id} has a {info.context_window}-token "
        "context window; nothing was sent",
        provider=info.provider,
        code="context_length_exceeded",
    )


def _refusal(why: str) -> LlmError:
    return LlmError(kind=ErrorKind.BUDGET_EXCEEDED, message=why + "; nothing was sent", code="budget_exceeded")


_ZERO = Decimal(0)


def reserve(state: BudgetState, limits: Limits, p: Plan) -> Result[tuple[BudgetState, Reservation], LlmError]:
    """Take ``p``'s worst case out of the budget, or refuse with ``budget_exceeded``."""
    taken = take(state, limits, p)
    return Failure(taken) if isinstance(taken, LlmError) else Success(taken)


def take(state: BudgetState, limits: Limits, p: Plan) -> tuple[BudgetState, Reservation] | LlmError:
    """:func:`reserve` without the ``Result``, for the client's per-call path (issue 19)."""
    cost = p.cost
    if limits.max_cost is not None or limits.max_cost_per_call is not None:
        if cost is None:
            missing = "a price" if p.max_output_tokens is not None else "max_tokens (and the catalog has no output limit)"
            return _refusal(f"a spending cap is set but {p.model or 'the model'} has no known {missing}, so its cost cannot be bounded")
        if limits.max_cost_per_call is not None and cost > limits.max_cost_per_call:
            return _refusal(f"this call could cost up to ${cost} but the per-call cap is ${limits.max_cost_per_call}")
        if limits.max_cost is not None and state.spent + state.reserved + cost > limits.max_cost:
            left = limits.max_cost - state.spent - state.reserved
            return _refusal(f"this call could cost up to ${cost} but only ${max(left, Decimal(0))} of the ${limits.max_cost} cap is left")
    out = p.max_output_tokens
    tokens = None if out is None else p.prompt_tokens + out
    if limits.max_tokens is not None or limits.max_tokens_per_call is not None:
        if tokens is None:
            return _refusal(f"a token limit is set but {p.model or 'the model'} has no max_tokens or known output limit")
        if limits.max_tokens_per_call is not None and tokens > limits.max_tokens_per_call:
            return _refusal(f"this call could use {tokens} tokens but the per-call limit is {limits.max_tokens_per_call}")
        if limits.max_tokens is not None and state.tokens_used + state.tokens_reserved + tokens > limits.max_tokens:
            return _refusal(f"this call could use {tokens} tokens but only "
                            f"{max(0, limits.max_tokens - state.tokens_used - state.tokens_reserved)} of the {limits.max_tokens}-token limit are left")
    r = Reservation(cost=cost or _ZERO, tokens=tokens or 0)
    return msgspec.structs.replace(state, reserved=state.reserved + r.cost, tokens_reserved=state.tokens_reserved + r.tokens), r


def settle(state: BudgetState, r: Reservation, usage: Usage | None, info: ModelInfo | None) -> BudgetState:
    """Replace the reservation by what ``usage`` cost. Unknown usage (a billed answer we could not read)
    keeps the worst case; unknown prices add nothing to ``spent`` and count an ``unpriced_calls``."""
    # one replace per settlement (issue 19): the reservation comes out and the charge goes in together
    reserved, tokens_reserved = state.reserved - r.cost, state.tokens_reserved - r.tokens
    if usage is None:
        return msgspec.structs.replace(state, reserved=reserved, tokens_reserved=tokens_reserved,
                                       spent=state.spent + r.cost, tokens_used=state.tokens_used + r.tokens)
    cost = usage.calculate_cost(info) if info is not None else None
    used = usage.total_tokens or usage.prompt_tokens + usage.completion_tokens
    if cost is None:
        return msgspec.structs.replace(state, reserved=reserved, tokens_reserved=tokens_reserved,
                                       tokens_used=state.tokens_used + used, unpriced_calls=state.unpriced_calls + 1)
    return msgspec.structs.replace(state, reserved=reserved, tokens_reserved=tokens_reserved,
                                   spent=state.spent + cost, tokens_used=state.tokens_used + used)


def release(state: BudgetState, r: Reservation) -> BudgetState:
    """Give a reservation back: the call failed before the provider billed anything."""
    return msgspec.structs.replace(state, reserved=state.reserved - r.cost, tokens_reserved=state.tokens_reserved - r.tokens)
