"""OpenTelemetry GenAI spans and metrics for every call, as an observer of the client's events.

The client tells one *observer* what happens during a call (the seam shared with the ``on_event``
records): ``call_started(info)`` returns a per-call :class:`CallTrace` that then hears
``attempt_started``/``attempt_ended`` for each HTTP attempt, ``waiting`` (retry backoff, Retry-After,
rate limit, breaker), ``breaker_changed``, ``failed_over``, ``first_chunk``/``chunk`` (streams) and
finally ``ended(result, cost)``. :class:`Telemetry` is the OpenTelemetry implementation:

* **One CLIENT span per call**, named ``chat {gen_ai.request.model}``, with the v1.41.0 GenAI
  attributes (:mod:`interlingua.core.semconv`). The caller's active span is its parent.
* **Attempts, waits, breaker transitions and failovers are span events** on that span
  (``interlingua.attempt``, ``interlingua.wait``, ``interlingua.breaker``, ``interlingua.failover``),
  not child spans: the convention's span is the *operation* (one per call, what the user asked);
  an HTTP client instrumentation (aiohttp's) already makes a span per request if one is wanted, and
  events cost a fraction of a span. One trace still tells the whole story in order.
* **Metrics**: ``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` (reported usage
  only), and for streams ``gen_ai.client.operation.time_to_first_chunk`` and
  ``time_per_output_chunk``, with the convention's bucket advice.
* **Content capture is opt-in** (``TelemetrySettings.capture_content``, which
  ``LlmConfig.from_env`` reads from ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` as the
  OTel Python GenAI utilities do: ``SPAN_ONLY``/``SPAN_AND_EVENT``, or the older ``true``). Only
  messages, system instructions and tool definitions are captured; headers, URLs with keys and
  config never reach an attribute.

``error.type`` (span, its events, the duration metric) is one of our documented error kinds,
:class:`~interlingua.core.ErrorKind` (``rate_limit``, ``timeout``, ``authentication``, ``provider``,
``circuit_open``, ``budget_exceeded``, …), or ``cancelled`` when the caller abandoned the call (a
cancelled task, a stream closed early). A failed call's span status is ERROR, without a description
(messages may quote the request).

OpenTelemetry is imported only when a client is built with telemetry on, and only if
``opentelemetry-api`` is installed (the ``otel`` extra); without it nothing is imported and the
client's observer is ``None``. With the API but no SDK configured, spans are non-recording and the
instruments are no-ops: the work per call is a few attribute look-ups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec
from returns.result import Failure, Result

from interlingua.core import ChatChunk, ChatRequest, ChatResponse, HttpResponse, LlmError, ModelRef
from interlingua.core import semconv as sc
from interlingua.core.breaker import Phase
from interlingua.core.fold import Accumulator, accumulate, to_response

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "NULL_TRACE",
    "CallInfo",
    "CallTrace",
    "Observer",
    "Telemetry",
    "TelemetrySettings",
    "WaitReason",
    "call_info",
    "capture_content_from_env",
    "compose",
    "telemetry_for",
]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
WaitReason = Literal["retry", "rate_limit", "breaker"]


class TelemetrySettings(msgspec.Struct, frozen=True, kw_only=True):
    """``enabled=False`` turns spans and metrics off for a client; ``capture_content=True`` records
    prompts and answers on the span (they may hold personal data: opt in knowingly)."""

    enabled: bool = True
    capture_content: bool = False


def capture_content_from_env(env: Mapping[str, str]) -> bool:
    """Read the variable as opentelemetry-util-genai does (an enum, case-insensitive), plus the
    boolean ``true`` the earlier instrumentations used. Content goes on spans for ``SPAN_ONLY`` and
    ``SPAN_AND_EVENT``; ``NO_CONTENT``, ``EVENT_ONLY`` (we emit no events) and anything else: off.

    >>> capture_content_from_env({CAPTURE_CONTENT_ENV: "span_only"}), capture_content_from_env({})
    (True, False)
    """
    return env.get(CAPTURE_CONTENT_ENV, "").strip().upper() in ("SPAN_ONLY", "SPAN_AND_EVENT", "TRUE")


class CallInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What an observer learns when a call starts: the model, the request, where it goes."""

    ref: ModelRef
    request: ChatRequest
    base_url: str = ""
    stream: bool = False
    operation: str = sc.CHAT


class CallTrace(Protocol):
    """The events of one call, in the order they happen."""

    def attempt_started(self, ref: ModelRef, attempt: int) -> None: ...

    def attempt_ended(
        self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None
    ) -> None: ...

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None: ...

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None: ...

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None: ...

    def first_chunk(self) -> None: ...

    def chunk(self, chunk: ChatChunk) -> None: ...

    def ended(self, result: Result[ChatResponse | None, LlmError] | None, cost: Decimal | None) -> None:
        """``result``: the response (``Success(None)`` for a stream: the trace folded its chunks),
        the failure, or ``None`` when the call was abandoned (cancelled, or an exception)."""
        ...


class Observer(Protocol):
    def call_started(self, info: CallInfo) -> CallTrace: ...


class _NullTrace:
    """Hears nothing (the trace of a client without an observer)."""

    __slots__ = ()

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        pass

    def attempt_ended(self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None) -> None:
        pass

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None:
        pass

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        pass

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        pass

    def first_chunk(self) -> None:
        pass

    def chunk(self, chunk: ChatChunk) -> None:
        pass

    def ended(self, result: Result[ChatResponse | None, LlmError] | None, cost: Decimal | None) -> None:
        pass


NULL_TRACE: CallTrace = _NullTrace()


def call_info(prepared: Any, *, stream: bool) -> CallInfo:
    """The :class:`CallInfo` of a prepared request (anything with ``ref``, ``request``, ``config``
    and ``dialect``): the base URL is the configured one, else the dialect's default."""
    cfg = prepared.config
    base = cfg.base_url or str(getattr(prepared.dialect, "default_base_url", "") or "")
    if "{region}" in base:
        base = base.format(region=cfg.region or "")
    return CallInfo(ref=prepared.ref, request=prepared.request, base_url=base, stream=stream)


class _Both:
    """Two traces heard as one (the default records and telemetry, say)."""

    __slots__ = ("a", "b")

    def __init__(self, a: CallTrace, b: CallTrace) -> None:
        self.a, self.b = a, b

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        self.a.attempt_started(ref, attempt)
        self.b.attempt_started(ref, attempt)

    def attempt_ended(self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None) -> None:
        self.a.attempt_ended(ref, attempt, elapsed, error, head)
        self.b.attempt_ended(ref, attempt, elapsed, error, head)

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None:
        self.a.waiting(reason, seconds, error)
        self.b.waiting(reason, seconds, error)

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        self.a.breaker_changed(key, old, new)
        self.b.breaker_changed(key, old, new)

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        self.a.failed_over(from_ref, to_ref, error)
        self.b.failed_over(from_ref, to_ref, error)

    def first_chunk(self) -> None:
        self.a.first_chunk()
        self.b.first_chunk()

    def chunk(self, chunk: ChatChunk) -> None:
        self.a.chunk(chunk)
        self.b.chunk(chunk)

    def ended(self, result: Result[ChatResponse | None, LlmError] | None, cost: Decimal | None) -> None:
        try:
            self.a.ended(result, cost)
        finally:
            self.b.ended(result, cost)


class _Composite:
    __slots__ = ("a", "b")

    def __init__(self, a: Observer, b: Observer) -> None:
        self.a, self.b = a, b

    def call_started(self, info: CallInfo) -> CallTrace:
        return _Both(self.a.call_started(info), self.b.call_started(info))


def compose(*observers: Observer | None) -> Observer | None:
    """One observer that tells each of ``observers`` (``None`` entries are skipped)."""
    present = [o for o in observers if o is not None]
    if not present:
        return None
    out = present[0]
    for o in present[1:]:
        out = _Composite(out, o)
    return out


# -- the OpenTelemetry observer -----------------------------------------------------------------------

_api: tuple[Any, Any, Any, Any] | Literal[False] | None = False  # (trace, metrics, status, context) once looked up


def _load_api() -> tuple[Any, Any, Any, Any] | None:
    """The OpenTelemetry API modules, or ``None`` when not installed (looked up once)."""
    global _api
    if _api is False:
        try:
            from opentelemetry import context, metrics, trace
            from opentelemetry.trace import status
        except ImportError:
            _api = None
        else:
            _api = (trace, metrics, status, context)
    return _api


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("interlingua")
    except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "0"


def telemetry_for(
    settings: TelemetrySettings,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    clock: Callable[[], float],
) -> Telemetry | None:
    """The observer for a client: ``None`` when turned off or when the OpenTelemetry API is absent.
    Without explicit providers the global ones are used (set later? the API's proxies follow)."""
    if not settings.enabled:
        return None
    api = _load_api()
    if api is None:
        return None
    trace, metrics, status, context = api
    version = _version()
    tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    tracer = tp.get_tracer("interlingua", version, schema_url=sc.SCHEMA_URL)
    meter = mp.get_meter("interlingua", version, schema_url=sc.SCHEMA_URL)
    try:  # the API's stand-in until an SDK is installed globally (private, hence guarded)
        from opentelemetry.metrics._internal import _ProxyMeterProvider

        noop_meters: tuple[type, ...] = (metrics.NoOpMeterProvider, _ProxyMeterProvider)
    except ImportError:  # pragma: no cover
        noop_meters = (metrics.NoOpMeterProvider,)
    noop_tracers = (trace.NoOpTracerProvider, trace.ProxyTracerProvider)

    def is_noop() -> bool:
        """Whether both providers are the API's no-ops right now (a global SDK may be set later)."""
        t = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        if not isinstance(t, noop_tracers):
            return False
        m = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        return isinstance(m, noop_meters)

    return Telemetry(tracer, meter, clock=clock, capture_content=settings.capture_content,
                     client_kind=trace.SpanKind.CLIENT, error_status=status.Status(status.StatusCode.ERROR),
                     is_noop=is_noop, activate=lambda span: context.attach(trace.set_span_in_context(span)),
                     deactivate=context.detach)


class Telemetry:
    """Spans and metrics per the GenAI conventions (built by :func:`telemetry_for`)."""

    __slots__ = ("_servers", "activate", "capture_content", "client_kind", "clock", "deactivate", "duration",
                 "error_status", "is_noop", "per_chunk", "tokens", "tracer", "ttfc")

    def __init__(self, tracer: Tracer, meter: Any, *, clock: Callable[[], float], capture_content: bool,
                 client_kind: Any, error_status: Any, is_noop: Callable[[], bool] = lambda: False,
                 activate: Callable[[Span], object] | None = None, deactivate: Callable[[Any], None] | None = None) -> None:
        self.tracer = tracer
        self.is_noop = is_noop
        self.activate = activate
        self.deactivate = deactivate
        self.clock = clock
        self.capture_content = capture_content
        self.client_kind = client_kind
        self.error_status = error_status
        # gen-ai-metrics.md, names, units, descriptions and bucket advice as written there
        self.duration: Histogram = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS)
        self.tokens: Histogram = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=sc.TOKEN_BUCKETS)
        self.ttfc: Histogram = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            description="Time to receive the first chunk, measured from when the client issues the generation "
                        "request to when the first chunk is received in the response stream.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS)
        self.per_chunk: Histogram = meter.create_histogram(
            "gen_ai.client.operation.time_per_output_chunk", unit="s",
            description="Time per output chunk, recorded for each chunk received after the first one.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS)
        self._servers: dict[str, dict[str, sc.AttributeValue]] = {}

    def server(self, base_url: str) -> dict[str, sc.AttributeValue]:
        hit = self._servers.get(base_url)
        if hit is None:
            hit = sc.server_attributes(base_url) if base_url else {}
            if len(self._servers) < 256:
                self._servers[base_url] = hit
        return hit

    def call_started(self, info: CallInfo) -> CallTrace:
        """The call's trace; :data:`NULL_TRACE` while both providers are the API's no-ops, so that a
        library user who installed no SDK pays one type check per call and nothing else."""
        if self.is_noop():
            return NULL_TRACE
        return _SpanTrace(self, info)


class _SpanTrace:
    """One call's span and measurements (never shared between calls)."""

    __slots__ = (
        "acc",
        "chunks",
        "last_chunk",
        "metric_attrs",
        "model",
        "provider",
        "ref",
        "span",
        "started",
        "tel",
        "token",
        "ttfc",
        "usage",
    )

    def __init__(self, tel: Telemetry, info: CallInfo) -> None:
        self.tel = tel
        self.started = tel.clock()
        self.ref = info.ref  # the model tried last: the one that answered, after any failover
        self.provider = info.ref.provider
        self.model: str | None = None  # the answering model, from the stream's chunks
        self.usage: Any = None
        self.ttfc: float | None = None
        self.last_chunk = 0.0
        self.chunks = 0
        server = tel.server(info.base_url)
        req = info.request
        attrs = sc.request_attributes(info.ref.provider, req, stream=info.stream, operation=info.operation)
        attrs.update(server)
        self.metric_attrs: dict[str, sc.AttributeValue] = {
            sc.OPERATION_NAME: info.operation,
            sc.PROVIDER_NAME: attrs[sc.PROVIDER_NAME],
            sc.REQUEST_MODEL: req.model,
            **server,
        }
        self.span: Span = tel.tracer.start_span(sc.span_name(info.operation, req.model), kind=tel.client_kind, attributes=attrs)
        recording = self.span.is_recording()
        # a stream's answer is folded here only when the span can show it
        self.acc: Accumulator | None = Accumulator() if recording and info.stream else None
        # A plain call's span is the current one while the call runs (an HTTP client instrumentation's
        # spans and log records nest under it); the call starts and ends in the caller's own context.
        # A stream's is not: between chunks the caller's code runs, and it must not find our span current.
        self.token: object = None
        if recording and not info.stream and tel.activate is not None:
            self.token = tel.activate(self.span)
        if recording and tel.capture_content:
            with contextlib.suppress(msgspec.EncodeError, TypeError, ValueError):  # unencodable tool schema
                self.span.set_attributes(sc.content_attributes(info.ref.provider, req))

    # -- attempts and waits (span events) -----------------------------------------------------------

    def attempt_started(self, ref: ModelRef, attempt: int) -> None:
        pass

    def attempt_ended(self, ref: ModelRef, attempt: int, elapsed: float, error: LlmError | None, head: HttpResponse | None) -> None:
        if not self.span.is_recording():
            return
        attrs: dict[str, sc.AttributeValue] = {"interlingua.model": str(ref), "interlingua.attempt": attempt,
                                              "interlingua.elapsed_s": elapsed}
        status = head.status if head is not None else error.status if error is not None else None
        if status is not None:
            attrs[sc.ERROR_STATUS] = status
        if error is not None:
            attrs[sc.ERROR_TYPE] = sc.error_type(error)
        self.span.add_event("interlingua.attempt", attrs)

    def waiting(self, reason: WaitReason, seconds: float, error: LlmError | None) -> None:
        if not self.span.is_recording():
            return
        attrs: dict[str, sc.AttributeValue] = {"interlingua.wait.reason": reason, "interlingua.wait.seconds": seconds}
        if error is not None:
            attrs[sc.ERROR_TYPE] = sc.error_type(error)
        self.span.add_event("interlingua.wait", attrs)

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        if self.span.is_recording():
            self.span.add_event("interlingua.breaker", {"interlingua.breaker.key": key, "interlingua.breaker.from": old.value,
                                                        "interlingua.breaker.to": new.value})

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        # The answering provider is the one the span and the metrics name from now on.
        self.ref = to_ref
        self.provider = to_ref.provider
        self.metric_attrs[sc.PROVIDER_NAME] = sc.provider_name(to_ref.provider)
        if self.span.is_recording():
            self.span.add_event("interlingua.failover", {"interlingua.failover.from": str(from_ref),
                                                         "interlingua.failover.to": str(to_ref),
                                                         sc.ERROR_TYPE: sc.error_type(error)})
            self.span.set_attribute(sc.PROVIDER_NAME, sc.provider_name(to_ref.provider))

    # -- streams --------------------------------------------------------------------------------------

    def first_chunk(self) -> None:
        now = self.tel.clock()
        self.ttfc = now - self.started
        self.last_chunk = now
        self.tel.ttfc.record(self.ttfc, self.metric_attrs)

    def chunk(self, chunk: ChatChunk) -> None:
        if self.ttfc is None:
            self.first_chunk()
        elif self.chunks:  # "recorded for each chunk received after the first one"
            now = self.tel.clock()
            self.tel.per_chunk.record(now - self.last_chunk, self.metric_attrs)
            self.last_chunk = now
        self.chunks += 1
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.model:
            self.model = chunk.model
        if self.acc is not None:
            self.acc = accumulate(self.acc, chunk)

    # -- the end --------------------------------------------------------------------------------------

    def ended(self, result: Result[ChatResponse | None, LlmError] | None, cost: Decimal | None) -> None:
        tel, span = self.tel, self.span
        attrs = self.metric_attrs
        err: LlmError | None = None
        resp: ChatResponse | None = None
        if result is None:
            attrs[sc.ERROR_TYPE] = "cancelled"
        elif isinstance(result, Failure):
            err = result.failure()
            attrs[sc.ERROR_TYPE] = sc.error_type(err)
        else:
            resp = result.unwrap()
            if resp is None and self.acc is not None:
                resp = to_response(self.acc, self.provider)
        model = resp.model if resp is not None else self.model
        if model:
            attrs[sc.RESPONSE_MODEL] = model
        tel.duration.record(tel.clock() - self.started, attrs)
        usage = resp.usage if resp is not None else self.usage
        if result is not None and not isinstance(result, Failure) and sc.has_usage(usage):
            tel.tokens.record(usage.prompt_tokens, {**attrs, sc.TOKEN_TYPE: "input"})
            tel.tokens.record(usage.completion_tokens, {**attrs, sc.TOKEN_TYPE: "output"})
        if span.is_recording():
            self._finish_span(span, resp, usage, err, attrs.get(sc.ERROR_TYPE), cost)
        if self.token is not None and tel.deactivate is not None:
            tel.deactivate(self.token)
            self.token = None
        span.end()

    def _finish_span(self, span: Span, resp: ChatResponse | None, usage: Any, err: LlmError | None,
                     error_type: sc.AttributeValue | None, cost: Decimal | None) -> None:
        out: dict[str, sc.AttributeValue] = {}
        if resp is not None:
            out.update(sc.response_attributes(resp))
            out[sc.ANSWERED_BY] = str(self.ref)
            if self.tel.capture_content:
                with contextlib.suppress(msgspec.EncodeError, TypeError, ValueError):
                    out[sc.OUTPUT_MESSAGES] = sc.output_messages(resp)
        elif sc.has_usage(usage):
            out.update(sc.usage_attributes(usage))
        if self.model and sc.RESPONSE_MODEL not in out:
            out[sc.RESPONSE_MODEL] = self.model
        if self.ttfc is not None:
            out[sc.RESPONSE_TIME_TO_FIRST_CHUNK] = self.ttfc
        if cost is not None:
            out[sc.COST_USD] = str(cost)
        if err is not None and err.attempts is not None:
            out[sc.ATTEMPTS] = err.attempts
        elif resp is not None and isinstance(resp.provider_metadata.get("attempts"), int):
            out[sc.ATTEMPTS] = resp.provider_metadata["attempts"]
        if error_type is not None:
            out[sc.ERROR_TYPE] = error_type
            span.set_status(self.tel.error_status)
        span.set_attributes(out)

