"""The client: prepare (pure) → encode (pure) → send (aiohttp) → decode (pure), with retries, a circuit
breaker, failover and one deadline per call, returning ``Result`` values.

Resilience, in the order a call meets it:

1. **Circuit breaker** (:mod:`interlingua.core.breaker`): one state per provider (or provider+model)
   on this client instance. An open circuit answers at once with ``Failure(circuit_open)`` whose
   ``retry_after`` says when it half-opens.
2. **Retries** (:mod:`interlingua.core.retry`): retryable failures are tried again after a
   full-jitter backoff or the server's Retry-After, within ``max_retries``.
   A stream is retried only until its first chunk reached the caller; a failure after that is a
   ``streaming`` error, never repeated output.
3. **Failover**: when a model's retries are exhausted (or its circuit is open), the next of
   ``fallbacks`` (the call's, else ``LlmConfig.fallbacks``) is tried with the same request.
4. **Deadline**: ``deadline=`` (the call's, else ``LlmConfig.deadline``) bounds all of it — every
   attempt, every sleep, every fallback, and a stream up to its first chunk. A wait that cannot
   fit in what remains is not started: the call returns at once with the error that caused it.

What happened is on the result: ``ChatResponse.provider_metadata["attempts"]`` counts the HTTP
attempts of the call (all models), ``["failed_over_from"]`` lists the models that failed before
the one that answered (``provider``/``model`` say which did); a stream's first chunk carries the
same keys, so the folded response has them too. A ``Failure`` carries ``LlmError.attempts``. Each
attempt, retry, give-up, breaker transition and failover reaches the call's observer trace
(:mod:`interlingua.effects.observe`); the default observer turns them into ``on_event`` records
(:mod:`interlingua.effects.events`) and ``"interlingua"`` log lines.

How the code is laid out (httpx's ``auth_flow`` shape): :meth:`Client._flow` is the one attempt
loop — a plain generator that decides everything (admit → encode → send → decode → report →
retry or fail over) and *yields* what must be awaited: a :class:`_Send` (an HTTP exchange) or an
awaitable (a sleep, the rate limiter). Two small drivers run it: :meth:`Client._run` for the
operations that read one body (``chat``, ``count_tokens``) and :meth:`Client._stream_call` for
streams (``stream``, ``stream_response``). Each hook has one place in the flow: the deadline
(``_Call.remaining``), the observer (``call.trace``), the cache (``ResponseCache.lookup/store``),
and the shared state (``Breakers.admit/report``, ``Guard.acquire/settle/release/observe``).

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
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, Unpack, cast
from urllib.parse import urlsplit

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Dialect,
    ErrorKind,
    HttpRequest,
    HttpResponse,
    LlmError,
    ModelInfo,
    ModelRef,
    ProviderConfig,
    Usage,
)
from interlingua.core._result import _new, _set_inner, ok
from interlingua.core.breaker import BreakerState, Phase, Signal, reopens_at
from interlingua.core.cache import replay_chunks
from interlingua.core.fold import StreamFold
from interlingua.core.prepare import ChatOptions, Messages, Prepared, prepare_call
from interlingua.core.prompt_cache import BREAKPOINT_PROVIDERS, has_breakpoints
from interlingua.core.registry import get_dialect
from interlingua.core.retry import GiveUp, GiveUpReason, decide
from interlingua.core.schema import ToolSpec
from interlingua.core.secret import redact_error  # hook: edges
from interlingua.core.sse import DEFAULT_MAX_EVENT_BYTES
from interlingua.core.tokens import TokenCount, count_tokens

from .breakers import CLOSED, REJECTED, Breakers
from .budget import CountTokens, Guard, Ticket
from .cache import Cache, CacheLayer, cache_layer, key_of
from .config import LlmConfig
from .events import LOGGER, Hook
from .observe import CallInfo, CallTrace, EventObserver, Observer, Observers, Operation
from .store import SharedBreakers, Store
from .telemetry import telemetry_for
from .transport import AiohttpTransport, Timeouts, Transport, never_sent

# Enum members the per-request code compares with, read once: on Python 3.11 ``Role.TOOL`` is an
# unspecialised lookup through EnumType's ``__getattr__`` hook (~1k instructions; issue 19).
_SIGNAL_CANCEL, _SIGNAL_FAILURE, _SIGNAL_SUCCESS = Signal.CANCEL, Signal.FAILURE, Signal.SUCCESS
_CLOSED_GENERATION = CLOSED.generation  # what ``Breakers.admit`` answers for a circuit with no state

if TYPE_CHECKING:  # hook: batch
    from collections.abc import AsyncIterable, Iterable, Mapping

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from interlingua.core.batch import BatchJob

__all__ = ["Client", "Env", "Prepared", "ResponseCache"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Env:
    """The client's clock, sleep and randomness; tests pass fakes (stamina's ``set_testing``
    without a global). ``clock`` is monotonic (deadlines, breaker), ``wall`` is Unix time (for
    encoders that sign requests), ``rng`` draws the jitter in [0, 1)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: Callable[[], float] = random.random
    wall: Callable[[], float] = time.time


class ResponseCache(Protocol):
    """The cache step of the loop (``Client(cache=…)``): asked before a chat call's model is admitted,
    told each answer that model gives. Both are awaited, so a shared store (Redis) fits."""

    def lookup(self, p: Prepared) -> Awaitable[ChatResponse | None]: ...

    def store(self, p: Prepared, response: ChatResponse) -> Awaitable[None]: ...


class _Call:
    """The bookkeeping of one call across its models (never shared between calls)."""

    __slots__ = (
        "attempts", "cache", "deadline", "deadline_at", "delivered", "failed_over_from", "in_flight", "info",
        "maybe_billed", "provider", "trace", "usage",
    )

    def __init__(self, trace: CallTrace, deadline: float | None, now: float) -> None:
        self.trace = trace
        self.attempts = 0
        self.failed_over_from: list[str] = []
        self.delivered = False  # a stream chunk reached the caller: no retry, no failover
        self.provider = ""  # the provider that answered
        self.info: ModelInfo | None = None  # its catalog entry
        self.usage: Usage | None = None  # a stream's latest (cumulative) usage
        self.in_flight = False  # an exchange is under way (the request may have reached the server)
        self.maybe_billed = False  # the last attempt was cut after its request may have been sent
        self.deadline = deadline
        self.deadline_at = None if deadline is None else now + deadline
        self.cache: ResponseCache | None = None  # hook: cache — this call's cache step (None: bypassed)

    def remaining(self, now: float) -> float | None:
        """Seconds left before the call's deadline (``None``: no deadline)."""
        at = self.deadline_at
        return None if at is None else at - now

    def past_deadline(self, provider: str) -> LlmError:
        return LlmError(
            kind=ErrorKind.TIMEOUT,
            message=f"the call's deadline of {self.deadline:g}s passed",
            provider=provider,
            retryable=False,
        )


class _Send(msgspec.Struct, frozen=True):
    """What the flow asks its driver to do: one HTTP exchange."""

    request: HttpRequest
    timeouts: Timeouts
    dialect: Dialect[Any]
    first_chunk_within: float | None = None
    """Streams: seconds the first chunk may take (the call's remaining deadline)."""


class _Streamed(msgspec.Struct, frozen=True):
    """What a stream driver reports back when an exchange ended: its error, if any, and its head."""

    error: LlmError | None
    head: HttpResponse | None


_FIRST_CHUNK = object()  # a stream driver tells the flow the first chunk is about to reach the caller
_Action = _Send | Awaitable[object] | None
_Flow = Generator[_Action, object, Result[T, LlmError]]


class _Op(Generic[T]):
    """What differs between the operations the one loop serves: how to encode and decode."""

    __slots__ = ("chat", "guarded", "name", "stream")

    def __init__(self, name: Operation, *, stream: bool, guarded: bool, chat: bool = True) -> None:
        self.name = name
        self.stream = stream
        self.guarded = guarded  # budget, context window and rate limits apply
        self.chat = chat  # the dialect's chat encode/decode (inlined on the hot path), else this op's

    def encode(self, d: Dialect[Any], p: Prepared, now: float) -> Result[HttpRequest, LlmError]:
        return d.encode_request(p.request, p.config, stream=self.stream, now=now)

    def decode(self, d: Dialect[Any], resp: HttpResponse) -> Result[T, LlmError]:
        return cast("Result[T, LlmError]", d.decode_response(resp))


class _CountOp(_Op[TokenCount]):
    __slots__ = ()

    def encode(self, d: Dialect[Any], p: Prepared, now: float) -> Result[HttpRequest, LlmError]:
        return cast(CountTokens, d).encode_count_tokens(p.request, p.config)

    def decode(self, d: Dialect[Any], resp: HttpResponse) -> Result[TokenCount, LlmError]:
        decoded: Result[Any, LlmError] = cast(CountTokens, d).decode_count_tokens(resp)
        return decoded.map(lambda n: n if isinstance(n, TokenCount) else TokenCount(int(n), True, None))


_CHAT: _Op[ChatResponse] = _Op("chat", stream=False, guarded=True)
_STREAM: _Op[_Streamed] = _Op("stream", stream=True, guarded=True)
_COUNT = _CountOp("count_tokens", stream=False, guarded=False, chat=False)


def _with_provider(err: LlmError, provider: str, cfg: ProviderConfig) -> LlmError:
    err = redact_error(err, *cfg.secrets())  # hook: edges (message, raw and kept headers, any escaping)
    if err.provider == provider:
        return err
    return msgspec.structs.replace(err, provider=err.provider or provider)


def _can_fail_over(err: LlmError) -> bool:
    return err.kind is ErrorKind.CIRCUIT_OPEN or err.is_retryable()


_CUT_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.STREAMING})
_NO_INFO = CallInfo(operation="chat", ref=ModelRef("", ""), provider_name="", stream=False, deadline=None)
_CLOSED_ERROR = LlmError(kind=ErrorKind.INVALID_REQUEST, message="client is closed")
_CALLER_CLOSED = LlmError(kind=ErrorKind.STREAMING, message="the caller closed the stream")
CALLER_CLOSED = _CALLER_CLOSED  # hook: otel: what a trace hears when the caller abandons a call


class Client:
    """One pooled aiohttp session for every provider. Use ``async with`` (or ``await close()``).

    ``env`` injects clock, sleep and jitter (tests); ``on_event`` receives every resilience record;
    ``observer`` receives every call's trace (:mod:`interlingua.effects.observe`), beside ``on_event``.
    ``store`` (e.g. :class:`~interlingua.effects.redis_store.RedisStore`; default: one built from
    ``config.redis_url``, else none) shares breakers, rate limits and budgets with other clients and
    processes (:mod:`interlingua.effects.store`); a store passed in is the caller's to close.
    """

    def __init__(
        self,
        config: LlmConfig | None = None,
        *,
        transport: Transport | None = None,
        env: Env | None = None,
        on_event: Hook | None = None,
        observer: Observer | None = None,
        tracer_provider: TracerProvider | None = None,  # hook: otel
        meter_provider: MeterProvider | None = None,  # hook: otel
        cache: Cache | ResponseCache | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = cfg = config if config is not None else LlmConfig.from_env()
        # hook: redis — breakers, rate limits and budgets in a shared store (None: this process's own
        # state, on the synchronous path). A store built from the config is closed with the client.
        self._owned_store = store is None and cfg.redis_url is not None
        if store is None and cfg.redis_url is not None:
            from .redis_store import RedisStore

            store = RedisStore.from_url(cfg.redis_url.reveal())
        self._shared: Store | None = store if store is not None and store.shared else None
        self._transport: Transport = transport or AiohttpTransport(
            limit=cfg.pool_limit,
            limit_per_host=cfg.pool_limit_per_host,
            trust_env=cfg.trust_env,
            ssl_context=cfg.tls_context(),
        )
        self._env = env = env or Env()
        self._closed = False
        # hook: cache — a store (MemoryCache, SqliteCache, RedisCache) becomes this client's cache
        # step with single-flight; else the config's (owned: closed with the client)
        self._cache: ResponseCache | None = cache if cache is not None and not isinstance(cache, Cache) else cache_layer(cache, cfg.cache, store)
        # budgets, context window, rate limits; the limiter waits on the client's own clock
        self._guard = Guard(cfg.limits, clock=env.wall, sleep=env.sleep, store=self._shared)
        self._timeouts = cfg.timeouts
        self._max_bytes = cfg.max_response_bytes
        self._deadline = cfg.call_deadline
        self._retry = cfg.retry_policy
        # Breaker state lives here, per client instance, keyed "provider" or "provider:model".
        self._breakers = Breakers(cfg.breaker_policy)
        self._shared_breakers = (  # hook: redis
            SharedBreakers(self._shared, self._breakers, env.clock)
            if self._shared is not None and cfg.circuit_breaker_enabled else None
        )
        self._hook = on_event
        self._events = events = EventObserver(on_event, clock=env.clock, breaker=self._breakers.get)
        # hook: otel: OpenTelemetry spans and metrics (None without the API or with telemetry off)
        telemetry = telemetry_for(cfg.telemetry, tracer_provider=tracer_provider, meter_provider=meter_provider, clock=env.clock)
        extra = [o for o in (observer, telemetry) if o is not None]
        self._observer: Observer = Observers(events, *extra) if extra else events
        # Telemetry alone beside the default observer: while its providers are the API's no-ops it
        # gives no trace, so the call's info is not built at all (issue 19; asked afresh every call,
        # since a provider may be installed later)
        self._telemetry_only = telemetry if observer is None and telemetry is not None else None
        # The dialects of the providers this config names load now rather than inside the first call:
        # a dialect module builds its wire types once (msgspec resolves their annotations, ~4-8 ms),
        # which the first request would otherwise pay on top of its round trip (issue 19: first call
        # <= 2x the second). A provider reached only through a model string still loads on first use.
        for name in cfg.providers:
            get_dialect(name)

    async def __aenter__(self) -> Client:
        # The connection pool opens here, in the running loop, rather than inside the first call (issue
        # 19: the first call's latency); a client used without ``async with`` still opens it on first use.
        if not self._closed and isinstance(self._transport, AiohttpTransport):
            self._transport.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool. Later calls answer ``Failure(invalid_request, "client is closed")``."""
        self._closed = True
        await self._transport.close()
        if isinstance(self._cache, CacheLayer) and self._cache.owned:  # hook: cache
            await self._cache.backend.close()
        if self._shared is not None:  # hook: redis — settlements and reports still on their way
            if self._shared_breakers is not None:
                await self._shared_breakers.aclose()
            await self._guard.aclose()
            if self._owned_store:
                await self._shared.aclose()

    def __repr__(self) -> str:
        return f"Client({self.config!r})"

    def breaker(self, key: str) -> BreakerState:
        """The circuit state for ``key`` (``"openai"``, or ``"openai:gpt-4o"`` per model)."""
        return self._breakers.get(key)

    @property
    def total_cost(self) -> Decimal:
        """USD spent so far by this client's calls whose model has a known price (exact decimal)."""
        return self._guard.total_cost

    # -- preparing --------------------------------------------------------------------------------

    def prepare(
        self, model: str | ChatRequest, messages: Messages | None = None, **options: Unpack[ChatOptions]
    ) -> Result[Prepared, LlmError]:
        """Resolve model string, dialect, provider config and catalog entry; validate options
        (:func:`interlingua.core.prepare.prepare` with this client's config and catalog)."""
        p = self._prepare(model, messages, options)
        return Failure(p) if isinstance(p, LlmError) else Success(p)

    def _prepare(self, model: str | ChatRequest, messages: Messages | None, options: Mapping[str, Any]) -> Prepared | LlmError:
        """:meth:`prepare` without the ``Result``: ``chat``'s per-call path (issue 19)."""
        p = prepare_call(model, messages, options, providers=self.config.providers, catalog=self.config.catalog)
        if (type(p) is Prepared and LOGGER.isEnabledFor(logging.DEBUG)  # hook: cache
                and p.ref.provider not in BREAKPOINT_PROVIDERS and has_breakpoints(p.request)):
            LOGGER.debug("%s ignores prompt-cache breakpoints (it caches long prompts automatically)", p.ref.provider)
        return p

    # -- calls ------------------------------------------------------------------------------------

    async def chat(
        self,
        model: str | ChatRequest,
        messages: Messages | None = None,
        *,
        fallbacks: Sequence[str] | None = None,
        deadline: float | None = None,
        cache: bool = True,
        cache_ttl: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> Result[ChatResponse, LlmError]:
        """One completion. ``messages`` is a prompt string, a :class:`Message`, a list of them, or a
        :class:`ChatRequest`; ``options`` are :class:`ChatRequest` fields (``temperature=…``, ``tools=…``);
        ``fallbacks`` are model strings to fail over to (default ``LlmConfig.fallbacks``); ``deadline``
        bounds the whole call in seconds (default ``LlmConfig.deadline``). ``cache=False`` neither
        reads nor writes the response cache; ``cache_ttl`` overrides its TTL for this answer."""
        p = self._prepare(model, messages, options)
        if type(p) is not Prepared:
            return Failure(cast(LlmError, p))
        if self._cache is None and not self._closed:  # send's common case, one coroutine less (issue 19)
            return await self._run(p, _CHAT, fallbacks, deadline, None)
        return await self.send(p, fallbacks=fallbacks, deadline=deadline, cache=cache, cache_ttl=cache_ttl)

    async def send(
        self,
        p: Prepared,
        *,
        fallbacks: Sequence[str] | None = None,
        deadline: float | None = None,
        cache: bool = True,
        cache_ttl: float | None = None,
    ) -> Result[ChatResponse, LlmError]:
        """Send a prepared request with retries, the breaker, failover and the deadline."""
        if self._closed:
            return Failure(_CLOSED_ERROR)
        step = self._cache if cache else None  # hook: cache
        if isinstance(step, CacheLayer):
            # identical calls in flight on this client share one upstream request (and its failure)
            layer = step.with_ttl(cache_ttl)
            result, shared = await step.single_flight(key_of(p), lambda: self._run(p, _CHAT, fallbacks, deadline, layer))
            if shared:  # the follower's own call, answered at no cost: its trace sees the hit
                self._end(self._start(p, "chat", fallbacks, deadline), result)
            return result
        return await self._run(p, _CHAT, fallbacks, deadline, step)

    async def count_tokens(
        self, model: str, messages: Messages, tools: Sequence[ToolSpec] = (), *, deadline: float | None = None
    ) -> Result[TokenCount, LlmError]:
        """Prompt tokens: the provider's exact count where its dialect can ask, else the offline count.
        The request goes through the same loop as ``chat`` (retries, breaker, deadline, redaction);
        it is free, so no budget is reserved for it."""
        prepared = self.prepare(model, messages, tools=tools) if tools else self.prepare(model, messages)
        if type(prepared) is Failure:
            return prepared
        p = prepared.unwrap()
        if not isinstance(p.dialect, CountTokens):
            return Success(count_tokens(f"{p.ref.provider}:{p.request.model}", p.request.messages, p.request.tools))
        if self._closed:
            return Failure(_CLOSED_ERROR)
        return await self._run(p, _COUNT, (), deadline, None)

    def stream(
        self,
        model: str | ChatRequest,
        messages: Messages | None = None,
        *,
        fallbacks: Sequence[str] | None = None,
        deadline: float | None = None,
        cache: bool = True,
        cache_ttl: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        """Stream a completion: ``Success(ChatChunk)`` items; a ``Failure`` item is the last one.
        ``deadline`` bounds the call up to its first chunk (then ``idle_timeout``/``timeout`` apply).
        A cached answer is replayed as chunks; a fresh one is stored once the stream completed whole."""
        prepared = self.prepare(model, messages, **options)
        return self._cached_stream(prepared, _StreamCall(self, prepared, fallbacks, deadline), cache, cache_ttl, fallbacks, deadline)

    def _cached_stream(
        self,
        prepared: Result[Prepared, LlmError],
        live: _StreamCall,
        cache: bool,
        ttl: float | None,
        fallbacks: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        # hook: cache — looked up before the stream's call starts (a replay takes no turn, costs $0)
        step = self._cache if cache else None
        if not isinstance(step, CacheLayer) or type(prepared) is Failure or self._closed:
            return live
        return self._replay_or_record(step.with_ttl(ttl), prepared.unwrap(), live, fallbacks, deadline)

    async def _replay_or_record(
        self, layer: CacheLayer, p: Prepared, live: _StreamCall, fallbacks: Sequence[str] | None, deadline: float | None
    ) -> AsyncGenerator[Result[ChatChunk, LlmError], None]:
        """A cached answer replayed as chunks (its own trace, ended at $0), else the live stream,
        stored once it completes whole."""
        cached = await layer.lookup(p)
        if cached is None:
            async with contextlib.aclosing(layer.record(p, live)) as items:
                async for item in items:
                    yield item
            return
        call = self._start(p, "stream", fallbacks, deadline)
        trace = call.trace
        for i, chunk in enumerate(replay_chunks(cached)):  # the hit marks ride on the first chunk
            if not i:
                trace.first_chunk()
            trace.chunk(chunk)
            yield Success(chunk)
        self._end(call, Success(cached))

    async def stream_response(
        self,
        model: str | ChatRequest,
        messages: Messages | None = None,
        *,
        fallbacks: Sequence[str] | None = None,
        deadline: float | None = None,
        cache: bool = True,
        cache_ttl: float | None = None,
        **options: Unpack[ChatOptions],
    ) -> Result[ChatResponse, LlmError]:
        """Stream, and fold the chunks into the response a non-stream call would return."""
        fold = StreamFold()
        prepared = self.prepare(model, messages, **options)
        live = _StreamCall(self, prepared, fallbacks, deadline)
        stream = self._cached_stream(prepared, live, cache, cache_ttl, fallbacks, deadline)
        try:
            async for item in stream:
                if type(item) is Failure:
                    return item
                fold.add(item.unwrap())
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        # a replayed answer never started the live call: it is the requested provider's
        return Success(fold.response(live.provider or prepared.unwrap().ref.provider))

    # -- the drivers --------------------------------------------------------------------------------

    def _start(self, p: Prepared, operation: Operation, fallbacks: Sequence[str] | None, deadline: float | None) -> _Call:
        """A call begins: its deadline is fixed and its observer trace created (the one place for both)."""
        if deadline is None:
            deadline = self._deadline
        observer = self._observer
        quiet = self._telemetry_only
        if observer is self._events or (quiet is not None and quiet.is_noop()):
            # the default alone reads nothing of the info: none is built
            return _Call(self._events.call_started(_NO_INFO), deadline, self._env.clock())
        info = CallInfo(
            operation=operation,
            ref=p.ref,
            provider_name=p.spec.otel_name,
            stream=operation == "stream",
            deadline=deadline,
            fallbacks=tuple(self.config.fallbacks if fallbacks is None else fallbacks),
            request=p.request,
            base_url=_shown_base_url(p),
            prepared=p,  # hook: otel
        )
        return _Call(self._observer.call_started(info), deadline, self._env.clock())

    def _end(self, call: _Call, result: Result[Any, LlmError]) -> None:
        """The call's result reaches its trace, with its cost when the answering model's price is known
        (a stream's result is its last usage: its chunks went to ``trace.chunk``)."""
        trace = call.trace
        if type(trace).ended is CallTrace.ended:  # the default observer does not listen for it
            return
        cost = None
        if type(result) is Success:
            value = result.unwrap()
            if isinstance(value, ChatResponse) and value.provider_metadata.get("cache") == "hit":  # hook: cache
                cost = Decimal(0)  # answered by the response cache (or an identical call in flight): free
            elif call.info is not None:
                usage = value.usage if isinstance(value, ChatResponse) else call.usage
                if usage is not None:
                    cost = usage.calculate_cost(call.info)
        trace.ended(result, cost)

    async def _run(
        self, p: Prepared, op: _Op[T], fallbacks: Sequence[str] | None, deadline: float | None, cache: ResponseCache | None
    ) -> Result[T, LlmError]:
        """Run the flow of an operation that reads one whole body (chat, count_tokens), from the call's
        start to its end. One coroutine for it all: every layer of ``await`` is re-entered on each
        resumption of the exchange below it (issue 19)."""
        call = self._start(p, op.name, fallbacks, deadline)
        call.cache = cache
        flow = self._flow(call, p, op, fallbacks)
        trace = call.trace
        # the trace's headers on each attempt (telemetry's traceparent); the default trace adds none
        outgoing = trace.outgoing if type(trace).outgoing is not CallTrace.outgoing else None
        try:
            try:
                action = next(flow)
                while True:
                    if type(action) is _Send:
                        request = action.request if outgoing is None else outgoing(action.request)
                        out: object = await self._transport.send(request, timeouts=action.timeouts, max_bytes=self._max_bytes)
                    else:
                        out = await action  # type: ignore[misc]  # the flow yields only _Send or awaitables
                    action = flow.send(out)
            except StopIteration as stop:
                result: Result[T, LlmError] = stop.value
            finally:
                flow.close()  # cancelled mid-flight: the flow reports CANCEL and gives its reservation back
        except BaseException:  # hook: otel: a cancelled call still ends its trace (and its span)
            call.trace.ended(Failure(CALLER_CLOSED), None)
            raise
        if op is _CHAT and type(result) is Success:
            result = ok(cast("T", self._stamp_response(result.unwrap(), call)))
        self._end(call, result)
        return result

    # -- the one attempt loop -------------------------------------------------------------------------

    def _flow(self, call: _Call, p: Prepared, op: _Op[T], fallbacks: Sequence[str] | None) -> _Flow[T]:
        """Every model of a call, in order, until one answers: the call's decisions, as a generator."""
        chain = iter(self.config.fallbacks if fallbacks is None else fallbacks)
        while True:
            result = yield from self._model(call, p, op)
            if type(result) is Success:
                return result
            err = result.failure()
            nxt = self._fail_over(call, p, err, chain)
            if nxt is None:
                return Failure(msgspec.structs.replace(err, attempts=call.attempts))
            p = nxt

    def _model(self, call: _Call, p: Prepared, op: _Op[T]) -> _Flow[T]:
        """One model: the cache, then admission (budget, window, rate limit), the attempts, and settling."""
        cache = call.cache if op is _CHAT else None  # hook: cache
        if cache is not None:
            hit = yield cache.lookup(p)
            if hit is not None:
                return Success(cast("T", hit))
        if not op.guarded:
            return (yield from self._attempts(call, p, op))
        remaining = None if call.deadline_at is None else call.deadline_at - self._env.clock()
        ticket = yield self._guard.acquire(p, remaining, call.trace)
        if isinstance(ticket, LlmError):
            return Failure(ticket)
        settled = False
        try:
            result = yield from self._attempts(call, p, op)
            settled = True
            pending = self._settle(ticket, op, result, call)  # type: ignore[arg-type]
            if pending is not None:  # hook: redis (a shared budget settles in one round trip)
                yield pending
        finally:
            if not settled:  # closed mid-flight (the caller stopped reading, or was cancelled)
                self._settle_cut(ticket, call)  # type: ignore[arg-type]
        if cache is not None and type(result) is Success:
            yield cache.store(p, cast("ChatResponse", result.unwrap()))
        return result

    def _attempts(self, call: _Call, p: Prepared, op: _Op[T]) -> _Flow[T]:
        """Every attempt at one model: encode → admit → send → decode → report, until success or give-up."""
        d = p.dialect
        ref = p.ref
        name = ref.provider
        key = self._breaker_key(ref)
        env = self._env
        trace = call.trace
        on_change = trace.breaker_changed
        attempt = 0
        err: LlmError | None = None
        call.maybe_billed = False
        while True:
            encoded = d.encode_request(p.request, p.config, stream=op.stream, now=env.wall()) if op.chat else op.encode(d, p, 0.0)
            if type(encoded) is Failure:
                return Failure(_with_provider(encoded.failure(), name, p.config))
            now = env.clock()
            remaining = None if call.deadline_at is None else call.deadline_at - now
            if remaining is not None and remaining <= 0:
                return Failure(err if err is not None else call.past_deadline(name))
            if self._shared_breakers is not None:  # hook: redis (one round trip, bounded by the deadline)
                generation = cast("int", (yield self._shared_breakers.admit(key, on_change, remaining)))
            else:
                breakers = self._breakers
                generation = (
                    _CLOSED_GENERATION if not self.config.circuit_breaker_enabled or breakers.idle
                    else breakers.admit(key, now, on_change)
                )
            if generation == REJECTED:
                return Failure(self._circuit_open(key, name))
            attempt += 1
            call.attempts += 1
            trace.attempt_started(ref, attempt)
            timeouts = self._timeouts
            if remaining is not None and not op.stream and (timeouts.total is None or remaining < timeouts.total):
                # an attempt in flight gets at most what remains of the call (a stream: up to its
                # first chunk, which the stream driver bounds)
                timeouts = msgspec.structs.replace(timeouts, total=remaining)
            signal: Signal | None = _SIGNAL_CANCEL  # None once the outcome is reported
            head: HttpResponse | None = None
            call.in_flight = True
            try:
                out = yield _Send(encoded.unwrap(), timeouts, d, remaining if op.stream else None)
                call.in_flight = False
                if out is _FIRST_CHUNK:
                    # the first chunk reaches the caller: from now on nothing is retried
                    call.delivered = True
                    call.provider, call.info = name, p.info
                    signal = None
                    self._report_soon(key, generation, _SIGNAL_SUCCESS, trace)
                    trace.attempt_ended(ref, attempt, env.clock() - now, None, None)
                    out = yield None
                result: Result[T, LlmError]
                if type(out) is _Streamed:
                    head = out.head
                    result = Success(cast("T", out)) if out.error is None else Failure(out.error)
                else:
                    sent: Result[HttpResponse, LlmError] = out  # type: ignore[assignment]  # what _run sends back
                    if type(sent) is Success:
                        head = sent.unwrap()
                        self._guard.observe(name, p.request.model, head)  # rate-limit headers → limiter
                        # the chat decode is inlined (one call less on the hot path); T is ChatResponse there
                        result = d.decode_response(head) if op.chat else op.decode(d, head)  # type: ignore[assignment]
                    else:
                        result = sent  # type: ignore[assignment]  # a Failure
                if type(result) is Success:
                    call.provider, call.info = name, p.info
                    if signal is not None:
                        signal = None
                        pending = self._report(key, generation, _SIGNAL_SUCCESS, trace)
                        if pending is not None:  # hook: redis
                            yield pending
                        trace.attempt_ended(ref, attempt, env.clock() - now, None, head)
                    return result
                err = _with_provider(result.failure(), name, p.config)
                # no answer (or a 2xx cut short) after the request may have reached the server
                call.maybe_billed = (
                    err.kind in _CUT_KINDS and (head is None or 200 <= head.status < 300) and not never_sent(err)
                )
                if signal is not None:
                    signal = None
                    pending = self._report(key, generation, _SIGNAL_FAILURE if err.is_retryable() else _SIGNAL_SUCCESS, trace)
                    if pending is not None:  # hook: redis
                        yield pending
            finally:
                if signal is not None:
                    self._report_soon(key, generation, signal, trace)
            if call.delivered:
                return Failure(_interrupted(err))
            ended = env.clock()
            if err.kind is ErrorKind.TIMEOUT and call.deadline_at is not None and ended >= call.deadline_at:
                err = call.past_deadline(name)  # the deadline cut it, not the exchange's own limit
            trace.attempt_ended(ref, attempt, ended - now, err, head)
            delay = self._retry_delay(call, ref, attempt, err)
            if delay is None:
                return Failure(err)
            trace.waiting("retry", delay, err)
            yield env.sleep(delay)

    # -- hooks of the loop ------------------------------------------------------------------------

    def _settle(self, ticket: Ticket, op: _Op[T], result: Result[T, LlmError], call: _Call) -> Awaitable[None] | None:
        """A model's outcome against its reservation: the real usage, or nothing billed (an
        awaitable when a shared store does it)."""
        guard = self._guard
        if type(result) is Success:
            value = result.unwrap()
            return guard.settle(ticket, value.usage if isinstance(value, ChatResponse) else call.usage)
        if call.delivered:
            return guard.settle(ticket, call.usage)  # a stream cut after chunks were billed
        if result.failure().kind is ErrorKind.DECODE or call.maybe_billed:
            # a 2xx we could not read, or an attempt cut after its request may have reached the
            # server: it may have been billed, so it is charged at its reservation (the worst case)
            return guard.settle(ticket, None)
        return guard.release(ticket)

    def _settle_cut(self, ticket: Ticket, call: _Call) -> None:
        """The call was closed mid-flight (cancelled, or the caller stopped reading a stream)."""
        guard = self._guard
        if call.delivered:
            guard.detach(guard.settle(ticket, call.usage))
        elif call.in_flight:
            guard.detach(guard.settle(ticket, None))  # the request may have reached the server: worst case
        else:
            guard.detach(guard.release(ticket))

    # -- many requests: fan-out now, and provider batch jobs (effects/batch.py) -------------------  # hook: batch

    async def chat_many(
        self,
        model: str,
        requests: Iterable[Messages] | AsyncIterable[Messages],
        *,
        concurrency: int = 16,
        on_progress: Callable[[int, int | None], object] | None = None,
        deadline: float | None = None,
        **options: Any,
    ) -> list[Result[ChatResponse, LlmError]]:
        """``chat`` for every request, ``concurrency`` at a time: one ``Result`` each, in input order."""
        from .batch import chat_many

        return await chat_many(self, model, requests, concurrency=concurrency, on_progress=on_progress,
                               deadline=deadline, **options)

    def iter_chat_many(
        self,
        model: str,
        requests: Iterable[Messages] | AsyncIterable[Messages],
        *,
        concurrency: int = 16,
        deadline: float | None = None,
        **options: Any,
    ) -> AsyncIterator[tuple[int, Result[ChatResponse, LlmError]]]:
        """``(index, result)`` as each request finishes (bounded memory for any number of requests)."""
        from .batch import iter_chat_many

        return iter_chat_many(self, model, requests, concurrency=concurrency, deadline=deadline, **options)

    async def submit_batch(self, model: str, requests: Mapping[str, Messages], **options: Any) -> Result[BatchJob, LlmError]:
        """Hand ``requests`` (``custom_id`` → messages or a :class:`ChatRequest`) to the provider's batch API."""
        from .batch import submit_batch

        return await submit_batch(self, model, requests, **options)

    async def batch_status(self, job: BatchJob | str) -> Result[BatchJob, LlmError]:
        from .batch import batch_status

        return await batch_status(self, job)

    def batch_results(self, job: BatchJob | str) -> AsyncIterator[tuple[str, Result[ChatResponse, LlmError]]]:
        """``(custom_id, result)`` per request of an ended job, streamed from its result files."""
        from .batch import batch_results

        return batch_results(self, job)

    async def cancel_batch(self, job: BatchJob | str) -> Result[BatchJob, LlmError]:
        from .batch import cancel_batch

        return await cancel_batch(self, job)

    async def list_batches(self, provider: str, *, limit: int | None = None) -> Result[tuple[BatchJob, ...], LlmError]:
        """The provider's batch jobs, newest first, every page of them (or the newest ``limit``)."""
        from .batch import list_batches

        return await list_batches(self, provider, limit=limit)

    # -- resilience plumbing ----------------------------------------------------------------------

    def _breaker_key(self, ref: ModelRef) -> str:
        return str(ref) if self.config.circuit_breaker_per_model else ref.provider

    def _report(self, key: str, generation: int, signal: Signal, trace: CallTrace) -> Awaitable[None] | None:
        """Report an attempt's outcome: done at once, or (shared store) an awaitable doing it."""
        if self._shared_breakers is not None:  # hook: redis
            return self._shared_breakers.report(key, generation, signal, trace.breaker_changed)
        if self.config.circuit_breaker_enabled:
            breakers = self._breakers
            if signal is not _SIGNAL_SUCCESS or not breakers.idle:  # a success on an idle store: nothing to do
                breakers.report(key, generation, signal, self._env.clock(), trace.breaker_changed)
        return None

    def _report_soon(self, key: str, generation: int, signal: Signal, trace: CallTrace) -> None:
        """``_report`` where the flow cannot wait (a stream's first chunk, a call closed mid-flight)."""
        if self._shared_breakers is not None:  # hook: redis
            self._shared_breakers.report_soon(key, generation, signal, trace.breaker_changed)
        else:  # this process's breakers: done at once anyway
            self._report(key, generation, signal, trace)

    def _circuit_open(self, key: str, provider: str) -> LlmError:
        s = self._breakers.get(key)
        policy = self._breakers.policy
        if s.phase is Phase.OPEN:
            wait = max(0.0, reopens_at(policy, s) - self._env.clock())
            message = f"circuit for {key} is open after {s.failures} failure(s); it half-opens in {wait:.3g}s"
        else:
            wait = None
            message = f"circuit for {key} is half-open and its {policy.probes} probe(s) are in flight"
        return LlmError(kind=ErrorKind.CIRCUIT_OPEN, message=message, provider=provider, retry_after=wait)

    def _retry_delay(self, call: _Call, ref: ModelRef, attempt: int, err: LlmError) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` (give up; reported). A sleep that
        would end past the call's deadline is not started."""
        now = self._env.clock()
        decision = decide(self._retry, attempt, err, now, now, self._env.rng())
        if not isinstance(decision, GiveUp):
            at = call.deadline_at
            if at is None or now + decision.delay <= at:
                return decision.delay
            decision = GiveUp(GiveUpReason.DEADLINE)
        call.trace.gave_up(ref, attempt, decision.reason, err)
        return None

    def _fail_over(self, call: _Call, p: Prepared, err: LlmError, chain: Iterator[str]) -> Prepared | None:
        """The next fallback to try after ``err``, or ``None``. A fallback that cannot be prepared
        (unknown model, provider without a dialect) is skipped with a warning."""
        if call.delivered or not _can_fail_over(err):
            return None
        remaining = call.remaining(self._env.clock())
        if remaining is not None and remaining <= 0:
            return None
        for model in chain:
            nxt = self.prepare(model, p.request)
            if type(nxt) is Failure:
                LOGGER.warning("skipping fallback %s: %s", model, nxt.failure().message)
                continue
            q = nxt.unwrap()
            call.failed_over_from.append(str(p.ref))
            call.trace.failed_over(p.ref, q.ref, err)
            return q
        return None

    def _stamp_response(self, resp: ChatResponse, call: _Call) -> ChatResponse:
        meta = {**resp.provider_metadata, "attempts": call.attempts}
        if call.failed_over_from:
            meta["failed_over_from"] = tuple(call.failed_over_from)
        return msgspec.structs.replace(resp, provider_metadata=meta)

    def _stamp_chunk(self, chunk: ChatChunk, call: _Call) -> ChatChunk:
        meta = {**(chunk.provider_metadata or {}), "attempts": call.attempts}
        if call.failed_over_from:
            meta["failed_over_from"] = tuple(call.failed_over_from)
        return msgspec.structs.replace(chunk, provider_metadata=meta)


def _shown_base_url(p: Prepared) -> str | None:
    """The first model's base URL for observers: the region filled in, any ``user:password@`` dropped."""
    url = p.config.base_url or p.spec.default_base_url
    if not url:
        return None
    if "{region}" in url:
        if not p.config.region:
            return None
        url = url.replace("{region}", p.config.region)
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if "@" in parts.netloc else url


def _interrupted(err: LlmError) -> LlmError:
    """A failure after chunks reached the caller: never retried, and named for what it is."""
    if err.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
        err = msgspec.structs.replace(err, kind=ErrorKind.STREAMING, message=f"stream interrupted: {err.message}", retryable=False)
    return err


class _StreamCall:
    """The driver of a streaming call: runs the flow, performs its exchanges as streams, folds the
    bytes with the dialect and hands chunks to the caller (an async iterator with ``aclose``)."""

    __slots__ = ("_gen", "provider")

    def __init__(
        self, client: Client, prepared: Result[Prepared, LlmError], fallbacks: Sequence[str] | None, deadline: float | None
    ) -> None:
        self.provider = ""
        self._gen = self._run(client, prepared, fallbacks, deadline)

    def __aiter__(self) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        # ``async for`` drives the generator itself: no forwarding call per chunk (issue 19)
        return self._gen

    def __anext__(self) -> Awaitable[Result[ChatChunk, LlmError]]:
        return self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    async def _run(
        self, client: Client, prepared: Result[Prepared, LlmError], fallbacks: Sequence[str] | None, deadline: float | None
    ) -> AsyncGenerator[Result[ChatChunk, LlmError], None]:
        if type(prepared) is Failure:
            yield prepared
            return
        if client._closed:
            yield Failure(_CLOSED_ERROR)
            return
        p = prepared.unwrap()
        call = client._start(p, "stream", fallbacks, deadline)
        trace = call.trace
        # the base CallTrace.chunk does nothing: skip a call per chunk unless an observer overrides it
        on_chunk = trace.chunk if type(trace).chunk is not CallTrace.chunk else None
        sending = trace.sending if type(trace).sending is not CallTrace.sending else None
        outgoing = trace.outgoing if type(trace).outgoing is not CallTrace.outgoing else None
        flow = client._flow(call, p, _STREAM, fallbacks)
        transport = client._transport
        env = client._env
        max_event = client.config.max_event_bytes
        result: Result[Any, LlmError] | None = None
        try:
            action = next(flow)
            while True:
                if type(action) is not _Send:
                    action = flow.send(await cast("Awaitable[object]", action))
                    continue
                d = action.dialect
                state = d.stream_start() if max_event == DEFAULT_MAX_EVENT_BYTES else d.stream_start(max_event_bytes=max_event)
                err: LlmError | None = None
                head: HttpResponse | None = None
                request = action.request if outgoing is None else outgoing(action.request)
                items = transport.stream(request, timeouts=action.timeouts, max_bytes=client._max_bytes)
                it = items.__aiter__()
                feed = d.stream_feed
                bounded = action.first_chunk_within is not None
                # the call's trace context while the exchange starts (an HTTP instrumentation nests there),
                # given back with the reply's head, before anything reaches the caller
                restore = sending() if sending is not None else None
                try:
                    while True:
                        try:
                            if not bounded or call.delivered:
                                item = await it.__anext__()
                            else:
                                # the call's deadline bounds a stream up to its first chunk
                                left = call.deadline_at - env.clock() if call.deadline_at is not None else 0.0
                                async with asyncio.timeout(max(left, 0.0)):
                                    item = await it.__anext__()
                        except StopAsyncIteration:
                            break
                        except TimeoutError:
                            err = call.past_deadline(p.ref.provider)
                            break
                        if restore is not None:
                            restore()
                            restore = None
                        if type(item) is bytes or isinstance(item, bytes):
                            state, events = feed(state, item)
                            for e in events:
                                if type(e) is not ChatChunk and isinstance(e, LlmError):
                                    err = e
                                    break
                                if not call.delivered:
                                    flow.send(_FIRST_CHUNK)
                                    self.provider = call.provider
                                    e = client._stamp_chunk(e, call)
                                    trace.first_chunk()
                                if e.usage is not None:
                                    call.usage = e.usage
                                if on_chunk is not None:
                                    on_chunk(e)
                                # ``ok(e)`` inline: no Python call per chunk (tests/test_callcount.py counts them)
                                good = _new(Success)
                                _set_inner(good, e)
                                yield good
                            if err is not None:
                                break
                        elif isinstance(item, HttpResponse):
                            head = item
                            client._guard.observe(p.ref.provider, p.request.model, item)
                            if not 200 <= item.status < 300:
                                err = d.decode_error(item)
                                break
                        else:
                            err = item
                            break
                    if err is None:
                        tail = d.stream_finish(state)
                        if type(tail) is Failure:
                            err = tail.failure()
                        else:
                            for c in tail.unwrap():
                                if not call.delivered:
                                    flow.send(_FIRST_CHUNK)
                                    self.provider = call.provider
                                    c = client._stamp_chunk(c, call)
                                    trace.first_chunk()
                                if c.usage is not None:
                                    call.usage = c.usage
                                if on_chunk is not None:
                                    on_chunk(c)
                                yield ok(c)
                            if not call.delivered:  # a stream that ended well without a single chunk
                                flow.send(_FIRST_CHUNK)
                                self.provider = call.provider
                finally:
                    if restore is not None:
                        restore()
                    await items.aclose()  # type: ignore[attr-defined]
                action = flow.send(_Streamed(err, head))
        except StopIteration as stop:
            result = cast("Result[Any, LlmError]", stop.value)
        finally:
            flow.close()
            if result is None:  # the caller stopped reading (or was cancelled)
                trace.ended(Failure(_CALLER_CLOSED), None)
        if type(result) is Failure:
            trace.ended(result, None)
            yield result
            return
        client._end(call, Success(call.usage))
