"""The observer seam: everything a call does is reported to one :class:`CallTrace` per call.

The client creates the trace when the call starts (``observer.call_started(info)``) and reports on
it, in order::

    trace.attempt_started(ref, attempt)
    trace.attempt_ended(ref, attempt, elapsed, error | None, response_head | None)
    trace.waiting("retry" | "rate_limit" | "breaker", seconds, error | None)
    trace.gave_up(ref, attempts, reason, error)          # no more attempts at this model
    trace.breaker_changed(key, old_phase, new_phase)
    trace.failed_over(from_ref, to_ref, error)
    trace.first_chunk()                                  # streams: the first chunk reached the caller
    trace.chunk(chunk)                                   # streams: every chunk that reached the caller
    trace.ended(result, cost | None)                     # once, with what the caller gets

:class:`CallTrace` is also the no-op base: an implementation overrides what it needs. Two are
shipped: :class:`EventObserver` (the ``on_event`` records of :mod:`.events` and the
``"interlingua"`` logger — the default) and :class:`Observers` (several at once). Errors handed to
a trace are already redacted; a trace never sees a key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Literal, Protocol

import msgspec
from returns.result import Result

from interlingua.core import ChatChunk, ChatRequest, HttpRequest, HttpResponse, LlmError, ModelRef
from interlingua.core.breaker import BreakerState, Phase
from interlingua.core.prepare import Prepared
from interlingua.core.retry import GiveUpReason

from .events import LOGGER, AttemptDone, BreakerChanged, FailedOver, GaveUp, Hook, RetryDetails, emit

__all__ = ["NO_TRACE", "CallInfo", "CallTrace", "EventObserver", "Observer", "Observers", "Operation", "WaitReason"]

WaitReason = Literal["retry", "rate_limit", "breaker"]
Operation = Literal["chat", "stream", "count_tokens"]


class CallInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a call is, as it starts: the operation, the first model, its request, and its total
    deadline (seconds). A fallback's row is ``interlingua.core.get_spec(to_ref.provider)``."""

    operation: Operation
    ref: ModelRef
    provider_name: str
    """The row's OpenTelemetry ``gen_ai.provider.name``."""
    stream: bool
    deadline: float | None
    fallbacks: tuple[str, ...] = ()
    request: ChatRequest | None = None
    """The prepared request (``gen_ai.request.*``: model, temperature, top_p, max_tokens, …)."""
    base_url: str | None = None
    """Where the first model's requests go (``server.address``); never carries credentials."""
    prepared: Prepared | None = None  # hook: otel (the request and its provider settings, for the span)


class CallTrace:
    """One call's reports. Every method is a no-op here; implementations override what they need."""

    __slots__ = ()

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        pass

    def attempt_ended(
        self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None
    ) -> None:
        pass

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None:
        pass

    def gave_up(self, ref: ModelRef, attempts: int, reason: GiveUpReason, error: LlmError) -> None:
        pass

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        pass

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        pass

    def first_chunk(self) -> None:
        pass

    def chunk(self, chunk: ChatChunk) -> None:
        pass

    def outgoing(self, request: HttpRequest) -> HttpRequest:
        """The request an attempt sends, with any headers the trace adds (telemetry: the W3C
        ``traceparent``). Only consulted when a trace's class overrides it."""
        return request

    def sending(self) -> Callable[[], None] | None:
        """A stream's exchange is about to start. The trace may make its own context current until the
        reply's head has arrived (an HTTP client instrumentation then starts its span, and injects its
        ``traceparent``, inside the call's), and returns what restores the caller's context; it is
        called before anything reaches the caller. ``None``: nothing was changed."""
        return None

    def ended(self, result: Result[object, LlmError], cost: Decimal | None) -> None:
        pass


NO_TRACE = CallTrace()


class Observer(Protocol):
    def call_started(self, info: CallInfo) -> CallTrace: ...


class _EventTrace(CallTrace):
    """Today's records and log lines, from the trace calls."""

    __slots__ = ("_attempt", "_hook", "_observer", "_ref", "_waited")

    def __init__(self, observer: EventObserver) -> None:
        self._observer = observer
        self._hook = observer.hook
        self._ref: ModelRef | None = None
        self._attempt = 0
        self._waited = 0.0

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        if ref is not self._ref:
            self._ref, self._waited = ref, 0.0
        self._attempt = attempt

    def attempt_ended(
        self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None
    ) -> None:
        if self._hook is not None or LOGGER.isEnabledFor(logging.DEBUG):
            emit(self._hook, AttemptDone(model=str(ref), attempt=attempt, elapsed=elapsed, error=error))

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None:
        if reason == "retry" and error is not None and self._ref is not None:
            emit(self._hook, RetryDetails(model=str(self._ref), attempt=self._attempt, wait_for=seconds,
                                          waited_so_far=self._waited, error=error))
        self._waited += seconds

    def gave_up(self, ref: ModelRef, attempts: int, reason: GiveUpReason, error: LlmError) -> None:
        emit(self._hook, GaveUp(model=str(ref), attempts=attempts, reason=reason, error=error))

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        o = self._observer
        failures = o.breaker(key).failures if o.breaker is not None else 0
        emit(self._hook, BreakerChanged(key=key, old=old, new=new, at=o.clock(), failures=failures))

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        emit(self._hook, FailedOver(from_model=str(from_ref), to_model=str(to_ref), error=error))


class _WarningsTrace(CallTrace):
    """With no hook and the logger below INFO (the usual production setting), only the WARNING records
    (breaker changes, failovers) can be seen: one shared, stateless trace serves every call."""

    __slots__ = ("_observer",)

    def __init__(self, observer: EventObserver) -> None:
        self._observer = observer

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        o = self._observer
        failures = o.breaker(key).failures if o.breaker is not None else 0
        emit(None, BreakerChanged(key=key, old=old, new=new, at=o.clock(), failures=failures))

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        emit(None, FailedOver(from_model=str(from_ref), to_model=str(to_ref), error=error))


class EventObserver:
    """The default observer: :mod:`.events` records to ``on_event`` and the ``"interlingua"`` logger."""

    __slots__ = ("_quiet", "breaker", "clock", "hook")

    def __init__(
        self,
        hook: Hook | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        breaker: Callable[[str], BreakerState] | None = None,
    ) -> None:
        self.hook = hook
        self.clock = clock
        self.breaker = breaker
        """The client's breaker state by key (the records carry its failure count)."""
        self._quiet = _WarningsTrace(self)

    def call_started(self, info: CallInfo) -> CallTrace:
        if self.hook is None and not LOGGER.isEnabledFor(logging.INFO):
            return self._quiet
        return _EventTrace(self)


class _Tee(CallTrace):
    __slots__ = ("_traces",)

    def __init__(self, traces: Sequence[CallTrace]) -> None:
        self._traces = tuple(traces)

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        for t in self._traces:
            t.attempt_started(ref, attempt)

    def attempt_ended(
        self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None
    ) -> None:
        for t in self._traces:
            t.attempt_ended(ref, attempt, elapsed, error, head)

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None:
        for t in self._traces:
            t.waiting(reason, seconds, error)

    def gave_up(self, ref: ModelRef, attempts: int, reason: GiveUpReason, error: LlmError) -> None:
        for t in self._traces:
            t.gave_up(ref, attempts, reason, error)

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        for t in self._traces:
            t.breaker_changed(key, old, new)

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        for t in self._traces:
            t.failed_over(from_ref, to_ref, error)

    def first_chunk(self) -> None:
        for t in self._traces:
            t.first_chunk()

    def chunk(self, chunk: ChatChunk) -> None:
        for t in self._traces:
            t.chunk(chunk)

    def outgoing(self, request: HttpRequest) -> HttpRequest:
        for t in self._traces:
            request = t.outgoing(request)
        return request

    def sending(self) -> Callable[[], None] | None:
        undo = [u for u in (t.sending() for t in self._traces) if u is not None]
        if not undo:
            return None

        def restore() -> None:
            for u in reversed(undo):  # the last context made current is the first given back
                u()

        return undo[0] if len(undo) == 1 else restore

    def ended(self, result: Result[object, LlmError], cost: Decimal | None) -> None:
        for t in self._traces:
            t.ended(result, cost)


class Observers:
    """Several observers as one: each call gets a trace from every one, in order."""

    __slots__ = ("observers",)

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def call_started(self, info: CallInfo) -> CallTrace:
        traces = [o.call_started(info) for o in self.observers]
        traces = [t for t in traces if t is not NO_TRACE]
        if not traces:
            return NO_TRACE
        return traces[0] if len(traces) == 1 else _Tee(traces)
