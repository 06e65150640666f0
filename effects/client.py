"""The client: encode (pure) → send (aiohttp) → decode (pure), with retries, a circuit breaker and
failover, returning ``Result`` values.

Resilience, in the order a call meets it:

1. **Circuit breaker** (:mod:`interlingua.core.breaker`): one state per provider (or provider+model)
   on this client instance. An open circuit answers at once with ``Failure(circuit_open)`` whose
   ``retry_after`` says when it half-opens.
2. **Retries** (:mod:`interlingua.core.retry`): retryable failures are tried again after a
   full-jitter backoff or the server's Retry-After, within ``max_retries`` and ``retry_deadline``.
   A stream is retried only until its first chunk reached the caller; a failure after that is a
   ``streaming`` error, never repeated output.
3. **Failover**: when a model's retries are exhausted (or its circuit is open), the next of
   ``fallbacks`` (the call's, else ``LlmConfig.fallbacks``) is tried with the same request.

What happened is on the result: ``ChatResponse.provider_metadata["attempts"]`` counts the HTTP
attempts of the call (all models), ``["failed_over_from"]`` lists the models that failed before
the one that answered (``provider``/``model`` say which did); a stream's first chunk carries the
same keys, so the folded response has them too. A ``Failure`` carries ``LlmError.attempts``. Each
attempt, retry, give-up, breaker transition and failover also reaches ``on_event`` as a frozen
record (:mod:`interlingua.effects.events`) and the ``"interlingua"`` logger.

>>> async def main():                                                    # doctest: +SKIP
...     async with Client() as client:
...         match await client.chat("openai:gpt-4o-mini", "Say hi", fallbacks=["openai:gpt-4.1-mini"]):
...             case Success(resp):
...                 print(resp.text, resp.provider_metadata["attempts"])
...             case Failure(err):
...                 print(err.kind, err.message)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Dialect,
    ErrorKind,
    HttpResponse,
    LlmError,
    Message,
    ModelRef,
    ProviderConfig,
    get_dialect,
    parse_model,
)
from interlingua.core.breaker import BreakerPolicy, BreakerState, Phase, Signal, reopens_at, step
from interlingua.core.catalog import default_catalog
from interlingua.core.fold import Accumulator, accumulate, to_response
from interlingua.core.retry import GiveUp, RetryPolicy, decide
from interlingua.core.schema import ToolSpec
from interlingua.core.secret import redact_error  # hook: edges
from interlingua.core.tokens import TokenCount
from interlingua.core.validate import request_problem

from .budget import Guard, count_tokens_remote
from .config import LlmConfig
from .events import LOGGER, AttemptDone, BreakerChanged, FailedOver, GaveUp, Hook, RetryDetails, emit
from .transport import AiohttpTransport, Timeouts, Transport

__all__ = ["Client", "Env", "Prepared"]

Messages = str | Message | Sequence[Message] | ChatRequest
_CLOSED = BreakerState()
_REJECTED = -1


@dataclass(frozen=True, slots=True)
class Env:
    """The client's clock, sleep and randomness; tests pass fakes (stamina's ``set_testing``
    without a global). ``clock`` is monotonic (deadlines, breaker), ``wall`` is Unix time (for
    encoders that sign requests), ``rng`` draws the jitter in [0, 1)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = random.random
    wall: Callable[[], float] = time.time


class Prepared(msgspec.Struct, frozen=True):
    """A request resolved against the config: which dialect, which provider settings."""

    ref: ModelRef
    dialect: Any
    request: ChatRequest
    config: ProviderConfig


class _Run:
    """The bookkeeping of one call across its models (never shared between calls)."""

    __slots__ = ("attempts", "delivered", "error", "failed_over_from", "provider")

    def __init__(self) -> None:
        self.attempts = 0
        self.failed_over_from: list[str] = []
        self.error: LlmError | None = None  # a stream's give-up error, when failover may follow
        self.delivered = False  # a stream chunk reached the caller: no retry, no failover
        self.provider = ""


def _with_provider(err: LlmError, provider: str, cfg: ProviderConfig) -> LlmError:
    err = redact_error(err, *cfg.secrets())  # hook: edges (message, raw and kept headers, any escaping)
    if err.provider == provider:
        return err
    return msgspec.structs.replace(err, provider=err.provider or provider)


def _can_fail_over(err: LlmError) -> bool:
    return err.kind is ErrorKind.CIRCUIT_OPEN or err.is_retryable()


class Client:
    """One pooled aiohttp session for every provider. Use ``async with`` (or ``await close()``).

    ``env`` injects clock, sleep and jitter (tests); ``on_event`` receives every resilience record.
    """

    def __init__(
        self,
        config: LlmConfig | None = None,
        *,
        transport: Transport | None = None,
        env: Env | None = None,
        on_event: Hook | None = None,
    ) -> None:
        self.config = cfg = config if config is not None else LlmConfig.from_env()
        self._transport: Transport = transport or AiohttpTransport(
            limit=cfg.pool_limit,
            limit_per_host=cfg.pool_limit_per_host,
            trust_env=cfg.trust_env,
            ssl_context=cfg.tls_context(),
        )
        self._env = env = env or Env()
        # budgets, context window, rate limits; the limiter waits on the client's own clock
        self._guard = Guard(cfg.limits, clock=env.wall, sleep=env.sleep)
        self._timeouts = Timeouts(
            total=cfg.timeout,
            connect=cfg.connect_timeout,
            first_byte=cfg.first_byte_timeout,
            idle=cfg.idle_timeout,
        )
        self._hook = on_event
        self._retry = RetryPolicy(
            max_attempts=cfg.max_retries + 1 if cfg.retry_enabled else 1,
            base_delay=cfg.retry_delay,
            max_delay=cfg.retry_max_delay,
            multiplier=cfg.retry_multiplier,
            deadline=cfg.retry_deadline,
        )
        self._breaker = BreakerPolicy(
            threshold=cfg.circuit_breaker_threshold,
            cooldown=cfg.circuit_breaker_cooldown,
            probes=cfg.circuit_breaker_probes,
            window=cfg.circuit_breaker_window,
            failure_ratio=cfg.circuit_breaker_failure_ratio,
        )
        # Breaker state lives here, per client instance, keyed "provider" or "provider:model".
        self._breakers: dict[str, BreakerState] = {}

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    def __repr__(self) -> str:
        return f"Client({self.config!r})"

    def breaker(self, key: str) -> BreakerState:
        """The circuit state for ``key`` (``"openai"``, or ``"openai:gpt-4o"`` per model)."""
        return self._breakers.get(key, _CLOSED)

    @property
    def total_cost(self) -> Decimal:
        """USD spent so far by this client's calls whose model has a known price (exact decimal)."""
        return self._guard.total_cost

    async def count_tokens(self, model: str, messages: Messages, tools: Sequence[ToolSpec] = ()) -> Result[TokenCount, LlmError]:
        """Prompt tokens: the provider's exact count where its dialect can ask, else the offline count."""
        prepared = self.prepare(model, messages, **({"tools": tuple(tools)} if tools else {}))
        return await count_tokens_remote(prepared, self._transport, self._timeouts, self.config.max_response_bytes)

    # -- preparing --------------------------------------------------------------------------------

    def prepare(self, model: str | ChatRequest, messages: Messages | None = None, **options: Any) -> Result[Prepared, LlmError]:
        """Resolve model string, dialect and provider config; validate options. Pure apart from ``self.config``."""
        req = _build(model, messages, options)
        if isinstance(req, LlmError):
            return Failure(req)
        resolved = _resolve(req.model)
        if type(resolved) is Failure:
            return resolved
        ref, dialect, info = resolved.unwrap()
        if req.model != ref.model:
            req = msgspec.structs.replace(req, model=ref.model)
        problem = request_problem(req, ref.provider, info)
        if problem is not None:
            return Failure(problem)
        return Success(Prepared(ref, dialect, req, self.config.provider(ref.provider)))

    # -- calls ------------------------------------------------------------------------------------

    async def chat(
        self,
        model: str | ChatRequest,
        messages: Messages | None = None,
        *,
        fallbacks: Sequence[str] | None = None,
        **options: Any,
    ) -> Result[ChatResponse, LlmError]:
        """One completion. ``messages`` is a prompt string, a :class:`Message`, a list of them, or a
        :class:`ChatRequest`; ``options`` are :class:`ChatRequest` fields (``temperature=…``, ``tools=…``);
        ``fallbacks`` are model strings to fail over to (default ``LlmConfig.fallbacks``)."""
        prepared = self.prepare(model, messages, **options)
        if type(prepared) is Failure:
            return prepared
        return await self.send(prepared.unwrap(), fallbacks=fallbacks)

    async def send(self, p: Prepared, *, fallbacks: Sequence[str] | None = None) -> Result[ChatResponse, LlmError]:
        """Send a prepared request with retries, the breaker and failover."""
        run = _Run()
        chain = iter(self.config.fallbacks if fallbacks is None else fallbacks)
        while True:
            # Budget, context window and rate limits admit each model tried (prices differ).
            result = await self._guard.guarded(p, self._send_model, run)
            if type(result) is Success:
                return Success(self._stamp_response(result.unwrap(), run))
            nxt = self._fail_over(p, result.failure(), chain, run)
            if nxt is None:
                return Failure(msgspec.structs.replace(result.failure(), attempts=run.attempts))
            p = nxt

    async def _send_model(self, p: Prepared, run: _Run) -> Result[ChatResponse, LlmError]:
        """Every attempt at one model: encode → admit → send → decode, until success or give-up."""
        d: Dialect[Any] = p.dialect
        name = p.ref.provider
        key = self._breaker_key(p.ref)
        env = self._env
        started = env.clock()
        waited = 0.0
        attempt = 0
        while True:
            encoded = d.encode_request(p.request, p.config, stream=False, now=env.wall())
            if type(encoded) is Failure:
                return Failure(_with_provider(encoded.failure(), name, p.config))
            generation = self._admit(key)
            if generation == _REJECTED:
                return Failure(self._circuit_open(key, name))
            attempt += 1
            run.attempts += 1
            began = env.clock()
            signal = Signal.CANCEL
            try:
                sent = await self._transport.send(encoded.unwrap(), timeouts=self._timeouts, max_bytes=self.config.max_response_bytes)
                result: Result[ChatResponse, LlmError]
                if type(sent) is Success:
                    resp = sent.unwrap()
                    self._guard.observe(name, p.request.model, resp)  # rate-limit headers → limiter
                    result = d.decode_response(resp)
                else:
                    result = cast(Failure[LlmError], sent)
                if type(result) is Success:
                    signal = Signal.SUCCESS
                    self._attempt_done(p, attempt, began, None)
                    return result
                err = _with_provider(result.failure(), name, p.config)
                signal = Signal.FAILURE if err.is_retryable() else Signal.SUCCESS
            finally:
                self._report(key, generation, signal)
            self._attempt_done(p, attempt, began, err)
            delay = self._retry_delay(p, attempt, err, started, waited)
            if delay is None:
                return Failure(err)
            await env.sleep(delay)
            waited += delay

    def stream(
        self,
        model: str | ChatRequest,
        messages: Messages | None = None,
        *,
        fallbacks: Sequence[str] | None = None,
        **options: Any,
    ) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        """Stream a completion: ``Success(ChatChunk)`` items; a ``Failure`` item is the last one."""
        return self._stream(self.prepare(model, messages, **options), fallbacks, _Run())

    async def _stream(
        self, prepared: Result[Prepared, LlmError], fallbacks: Sequence[str] | None, run: _Run
    ) -> AsyncGenerator[Result[ChatChunk, LlmError], None]:
        if type(prepared) is Failure:
            yield prepared
            return
        p = prepared.unwrap()
        chain = iter(self.config.fallbacks if fallbacks is None else fallbacks)
        while True:
            guarded = self._guard.guarded_stream(Success(p), lambda r: self._stream_model(r.unwrap(), run))
            async with contextlib.aclosing(guarded) as chunks:
                async for item in chunks:
                    yield item
            if run.error is None:
                return
            nxt = self._fail_over(p, run.error, chain, run)
            if nxt is None:
                yield Failure(msgspec.structs.replace(run.error, attempts=run.attempts))
                return
            run.error = None
            p = nxt

    async def _stream_model(self, p: Prepared, run: _Run) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        """Every attempt at one model. Before the first chunk reaches the caller a failure is retried
        (or left in ``run.error`` for failover); after it, the failure is yielded as the last item."""
        d: Dialect[Any] = p.dialect
        name = p.ref.provider
        key = self._breaker_key(p.ref)
        env = self._env
        started = env.clock()
        waited = 0.0
        attempt = 0
        while True:
            encoded = d.encode_request(p.request, p.config, stream=True, now=env.wall())
            if type(encoded) is Failure:
                yield Failure(_with_provider(encoded.failure(), name, p.config))
                return
            generation = self._admit(key)
            if generation == _REJECTED:
                run.error = self._circuit_open(key, name)
                return
            attempt += 1
            run.attempts += 1
            began = env.clock()
            signal: Signal | None = Signal.CANCEL  # None once the outcome is reported
            err: LlmError | None = None
            items = self._transport.stream(encoded.unwrap(), timeouts=self._timeouts, max_bytes=self.config.max_response_bytes)
            state = d.stream_start()
            try:
                async for item in items:
                    if isinstance(item, bytes):
                        state, events = d.stream_feed(state, item)
                        for e in events:
                            if isinstance(e, LlmError):
                                err = e
                                break
                            if not run.delivered:
                                self._first_chunk(key, generation, p, attempt, began, run)
                                signal, e = None, self._stamp_chunk(e, run)
                            yield Success(e)
                        if err is not None:
                            break
                    elif isinstance(item, HttpResponse):
                        self._guard.observe(name, p.request.model, item)
                        if not 200 <= item.status < 300:
                            err = d.decode_error(item)
                            break
                    else:
                        err = item
                        break
                else:
                    tail = d.stream_finish(state)
                    if type(tail) is Failure:
                        err = tail.failure()
                    else:
                        for c in tail.unwrap():
                            if not run.delivered:
                                self._first_chunk(key, generation, p, attempt, began, run)
                                signal, c = None, self._stamp_chunk(c, run)
                            yield Success(c)
                        if signal is not None:  # a stream that ended well without a single chunk
                            self._first_chunk(key, generation, p, attempt, began, run)
                            signal = None
            finally:
                await items.aclose()  # type: ignore[attr-defined]
                if signal is not None and err is None:
                    self._report(key, generation, signal)
            if err is None:
                return
            err = _with_provider(err, name, p.config)
            if run.delivered:
                if err.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
                    err = msgspec.structs.replace(
                        err, kind=ErrorKind.STREAMING, message=f"stream interrupted: {err.message}", retryable=False
                    )
                yield Failure(msgspec.structs.replace(err, attempts=run.attempts))
                return
            self._report(key, generation, Signal.FAILURE if err.is_retryable() else Signal.SUCCESS)
            self._attempt_done(p, attempt, began, err)
            delay = self._retry_delay(p, attempt, err, started, waited)
            if delay is None:
                run.error = err
                return
            await env.sleep(delay)
            waited += delay

    async def stream_response(
        self,
        model: str | ChatRequest,
        messages: Messages | None = None,
        *,
        fallbacks: Sequence[str] | None = None,
        **options: Any,
    ) -> Result[ChatResponse, LlmError]:
        """Stream, and fold the chunks into the response a non-stream call would return."""
        acc = Accumulator()
        run = _Run()
        async with contextlib.aclosing(self._stream(self.prepare(model, messages, **options), fallbacks, run)) as items:
            async for item in items:
                if type(item) is Failure:
                    return item
                acc = accumulate(acc, item.unwrap())
        return Success(to_response(acc, run.provider))

    # -- resilience plumbing ----------------------------------------------------------------------

    def _breaker_key(self, ref: ModelRef) -> str:
        return str(ref) if self.config.circuit_breaker_per_model else ref.provider

    def _admit(self, key: str) -> int:
        """Ask the breaker for ``key``; the generation to report the outcome with, or ``_REJECTED``."""
        if not self.config.circuit_breaker_enabled:
            return 0
        old = self._breakers.get(key, _CLOSED)
        s = step(self._breaker, old, Signal.REQUEST, self._env.clock())
        if s.state is not old:
            self._set_breaker(key, old, s.state)
        return s.state.generation if s.admitted else _REJECTED

    def _report(self, key: str, generation: int, signal: Signal) -> None:
        if not self.config.circuit_breaker_enabled:
            return
        old = self._breakers.get(key, _CLOSED)
        s = step(self._breaker, old, signal, self._env.clock(), generation)
        if s.state is not old:
            self._set_breaker(key, old, s.state)

    def _set_breaker(self, key: str, old: BreakerState, new: BreakerState) -> None:
        self._breakers[key] = new
        if new.phase is not old.phase:
            emit(self._hook, BreakerChanged(key=key, old=old.phase, new=new.phase, at=self._env.clock(), failures=new.failures))

    def _circuit_open(self, key: str, provider: str) -> LlmError:
        s = self._breakers.get(key, _CLOSED)
        if s.phase is Phase.OPEN:
            wait = max(0.0, reopens_at(self._breaker, s) - self._env.clock())
            message = f"circuit for {key} is open after {s.failures} failure(s); it half-opens in {wait:.3g}s"
        else:
            wait = None
            message = f"circuit for {key} is half-open and its {self._breaker.probes} probe(s) are in flight"
        return LlmError(kind=ErrorKind.CIRCUIT_OPEN, message=message, provider=provider, retry_after=wait)

    def _first_chunk(self, key: str, generation: int, p: Prepared, attempt: int, began: float, run: _Run) -> None:
        """The first chunk reaches the caller: from now on nothing is retried."""
        run.delivered = True
        run.provider = p.ref.provider
        self._report(key, generation, Signal.SUCCESS)
        self._attempt_done(p, attempt, began, None)

    def _attempt_done(self, p: Prepared, attempt: int, began: float, err: LlmError | None) -> None:
        if self._hook is not None or LOGGER.isEnabledFor(logging.DEBUG):
            emit(self._hook, AttemptDone(model=str(p.ref), attempt=attempt, elapsed=self._env.clock() - began, error=err))

    def _retry_delay(self, p: Prepared, attempt: int, err: LlmError, started: float, waited: float) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` (give up; reported)."""
        decision = decide(self._retry, attempt, err, self._env.clock(), started, self._env.rng())
        if isinstance(decision, GiveUp):
            emit(self._hook, GaveUp(model=str(p.ref), attempts=attempt, reason=decision.reason, error=err))
            return None
        emit(self._hook, RetryDetails(model=str(p.ref), attempt=attempt, wait_for=decision.delay, waited_so_far=waited, error=err))
        return decision.delay

    def _fail_over(self, p: Prepared, err: LlmError, chain: Iterator[str], run: _Run) -> Prepared | None:
        """The next fallback to try after ``err``, or ``None``. A fallback that cannot be prepared
        (unknown model, provider without a dialect) is skipped with a warning."""
        if run.delivered or not _can_fail_over(err):
            return None
        for model in chain:
            nxt = self.prepare(model, p.request)
            if type(nxt) is Failure:
                LOGGER.warning("skipping fallback %s: %s", model, nxt.failure().message)
                continue
            q = nxt.unwrap()
            run.failed_over_from.append(str(p.ref))
            emit(self._hook, FailedOver(from_model=str(p.ref), to_model=str(q.ref), error=err))
            return q
        return None

    def _stamp_response(self, resp: ChatResponse, run: _Run) -> ChatResponse:
        meta = {**resp.provider_metadata, "attempts": run.attempts}
        if run.failed_over_from:
            meta["failed_over_from"] = tuple(run.failed_over_from)
        return msgspec.structs.replace(resp, provider_metadata=meta)

    def _stamp_chunk(self, chunk: ChatChunk, run: _Run) -> ChatChunk:
        meta = {**(chunk.provider_metadata or {}), "attempts": run.attempts}
        if run.failed_over_from:
            meta["failed_over_from"] = tuple(run.failed_over_from)
        return msgspec.structs.replace(chunk, provider_metadata=meta)


# Model string -> (ref, dialect, catalog entry): pure, and the same few strings recur on every call,
# so they are resolved once (bounded: strings past the bound are resolved afresh each time).
_RESOLVED: dict[str, Success[tuple[ModelRef, Any, Any]]] = {}
_RESOLVED_MAX = 1024


def _resolve(model: str) -> Result[tuple[ModelRef, Any, Any], LlmError]:
    hit = _RESOLVED.get(model)
    if hit is not None:
        return hit
    parsed = parse_model(model)
    if type(parsed) is Failure:
        return parsed
    ref = parsed.unwrap()
    dialect = get_dialect(ref.provider)
    if type(dialect) is Failure:
        return dialect
    found = Success((ref, dialect.unwrap(), default_catalog().lookup(ref.provider, ref.model)))
    if len(_RESOLVED) < _RESOLVED_MAX:
        _RESOLVED[model] = found
    return found


def _build(model: str | ChatRequest, messages: Messages | None, options: dict[str, Any]) -> ChatRequest | LlmError:
    """A :class:`ChatRequest` from the flexible call forms; unknown or ill-typed options are an error."""
    if isinstance(model, ChatRequest):
        req = model
    elif isinstance(messages, ChatRequest):
        req = msgspec.structs.replace(messages, model=model)
    elif messages is None:
        return LlmError(kind=ErrorKind.INVALID_REQUEST, message="no messages given")
    else:
        if isinstance(messages, str):
            msgs: tuple[Message, ...] = (Message.user(messages),)
        elif isinstance(messages, Message):
            msgs = (messages,)
        else:
            msgs = tuple(messages)
        req = ChatRequest(model=model, messages=msgs)
    if not options:
        return req
    try:
        merged = msgspec.to_builtins(req)
        merged.update(msgspec.to_builtins(options))
        return msgspec.convert(merged, ChatRequest)
    except (msgspec.ValidationError, TypeError) as e:
        return LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"invalid request option: {e}")
