"""OpenTelemetry GenAI spans and metrics for every call, as an observer of the client's events.

The client reports everything a call does to one trace per call (:mod:`interlingua.effects.observe`:
``call_started(info)``, then ``attempt_started``/``attempt_ended`` per HTTP attempt, ``waiting``
(retry backoff, Retry-After, rate limit, breaker), ``gave_up``, ``breaker_changed``,
``failed_over``, ``first_chunk``/``chunk`` for streams, and ``ended(result, cost)``). The default
:class:`~interlingua.effects.observe.EventObserver` turns them into ``on_event`` records;
:class:`Telemetry` runs beside it (``Client(tracer_provider=…, meter_provider=…)``) and turns the
same reports into OpenTelemetry:

* **One CLIENT span per call**, named ``chat {gen_ai.request.model}``, with the v1.41.0 GenAI
  attributes (:mod:`interlingua.core.semconv`). The caller's active span is its parent.
* **Attempts, waits, give-ups, breaker transitions and failovers are span events** on that span
  (``interlingua.attempt``, ``.wait``, ``.gave_up``, ``.breaker``, ``.failover``),
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
``opentelemetry-api`` is installed (the ``otel`` extra); without it nothing is imported and only the
default observer runs. While both providers are the API's no-ops (no SDK installed), a call's trace
is ``NO_TRACE``: one type check per call. Counting tokens has no span (not an inference operation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from returns.result import Failure, Result

from interlingua.core import ChatChunk, ChatResponse, HttpRequest, HttpResponse, LlmError, ModelRef, Usage
from interlingua.core import semconv as sc
from interlingua.core.breaker import Phase
from interlingua.core.fold import StreamFold
from interlingua.core.prepare import Prepared
from interlingua.core.registry import get_spec
from interlingua.core.retry import GiveUpReason

from .observe import NO_TRACE, CallInfo, CallTrace, WaitReason

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["CAPTURE_CONTENT_ENV", "Telemetry", "TelemetrySettings", "capture_content_from_env", "telemetry_for"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


class TelemetrySettings(msgspec.Struct, frozen=True, kw_only=True):
    """``enabled=False`` turns spans and metrics off for a client; ``capture_content=True`` records
    prompts and answers on the span (they may hold personal data: opt in knowingly).
    ``propagate=True`` sends the call's W3C trace context (``traceparent``, ``tracestate``) with each of its
    requests, so a gateway or proxy in between (a LiteLLM proxy, an API gateway) joins the trace; the
    caller's baggage is never sent. An HTTP client instrumentation, when installed, sends its own span's
    instead (a child of the call's)."""

    enabled: bool = True
    capture_content: bool = False
    propagate: bool = True


def capture_content_from_env(env: Mapping[str, str]) -> bool:
    """Read the variable as opentelemetry-util-genai does (an enum, case-insensitive), plus the
    boolean ``true`` the earlier instrumentations used. Content goes on spans for ``SPAN_ONLY`` and
    ``SPAN_AND_EVENT``; ``NO_CONTENT``, ``EVENT_ONLY`` (we emit no events) and anything else: off.

    >>> capture_content_from_env({CAPTURE_CONTENT_ENV: "span_only"}), capture_content_from_env({})
    (True, False)
    """
    return env.get(CAPTURE_CONTENT_ENV, "").strip().upper() in ("SPAN_ONLY", "SPAN_AND_EVENT", "TRUE")


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


def _error_type(err: LlmError) -> str:
    """``error.type``; a stream its caller closed early is ``cancelled``, not a provider failure."""
    from .client import CALLER_CLOSED  # the client's own marker (imported on failures only)

    return "cancelled" if err is CALLER_CLOSED else sc.error_type(err)


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
    return Telemetry(tracer, meter, clock=clock, capture_content=settings.capture_content,
                     client_kind=trace.SpanKind.CLIENT, error_status=status.Status(status.StatusCode.ERROR),
                     is_noop=_noop_check(trace, metrics, tracer_provider, meter_provider),
                     activate=lambda span: context.attach(trace.set_span_in_context(span)),
                     deactivate=context.detach, inject=_trace_context(trace) if settings.propagate else None)


def _trace_context(trace: Any) -> Callable[[Span], dict[str, str]]:
    """W3C trace context only (``traceparent``/``tracestate``), whatever propagators the application set
    globally: the global ones may include baggage, which is the application's to send, not a provider's
    to receive."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()

    def inject(span: Span) -> dict[str, str]:
        carrier: dict[str, str] = {}
        propagator.inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    return inject


def _noop_check(trace: Any, metrics: Any, tracer_provider: Any, meter_provider: Any) -> Callable[[], bool]:
    """A per-call test: are both providers the API's no-ops right now? An explicit provider is what it
    is; a global one is a no-op until an SDK is set (later, possibly). The API's ``get_*_provider()``
    look at the environment on every call (microseconds), so the globals they return are read
    directly where the API has them (private names, hence the fallback)."""
    noop_tracers: tuple[type, ...] = (trace.NoOpTracerProvider, trace.ProxyTracerProvider)
    noop_meters: tuple[type, ...] = (metrics.NoOpMeterProvider,)
    metrics_state: Any = None
    try:
        from opentelemetry.metrics import _internal

        noop_meters, metrics_state = (*noop_meters, _internal._ProxyMeterProvider), _internal
    except (ImportError, AttributeError):  # pragma: no cover - another API version
        pass

    def tracer_is_noop() -> bool:
        if tracer_provider is not None:
            return isinstance(tracer_provider, noop_tracers)
        t = getattr(trace, "_TRACER_PROVIDER", False)
        return t is None or isinstance(t if t is not False else trace.get_tracer_provider(), noop_tracers)

    def meter_is_noop() -> bool:
        if meter_provider is not None:
            return isinstance(meter_provider, noop_meters)
        m = getattr(metrics_state, "_METER_PROVIDER", False)
        return m is None or isinstance(m if m is not False else metrics.get_meter_provider(), noop_meters)

    if tracer_provider is not None and meter_provider is not None:
        constant = tracer_is_noop() and meter_is_noop()
        return lambda: constant

    def both_noop() -> bool:
        # ``tracer_is_noop() and meter_is_noop()`` in one frame (issue 19: it runs on every call)
        if tracer_provider is not None:
            if not isinstance(tracer_provider, noop_tracers):
                return False
        else:
            t = getattr(trace, "_TRACER_PROVIDER", False)
            if t is not None and not isinstance(t if t is not False else trace.get_tracer_provider(), noop_tracers):
                return False
        if meter_provider is not None:
            return isinstance(meter_provider, noop_meters)
        m = getattr(metrics_state, "_METER_PROVIDER", False)
        return m is None or isinstance(m if m is not False else metrics.get_meter_provider(), noop_meters)

    return both_noop


class Telemetry:
    """Spans and metrics per the GenAI conventions (built by :func:`telemetry_for`)."""

    __slots__ = ("_servers", "activate", "capture_content", "client_kind", "clock", "deactivate", "duration",
                 "error_status", "inject", "is_noop", "per_chunk", "tokens", "tracer", "ttfc")

    def __init__(self, tracer: Tracer, meter: Any, *, clock: Callable[[], float], capture_content: bool,
                 client_kind: Any, error_status: Any, is_noop: Callable[[], bool] = lambda: False,
                 activate: Callable[[Span], object] | None = None, deactivate: Callable[[Any], None] | None = None,
                 inject: Callable[[Span], dict[str, str]] | None = None) -> None:
        self.tracer = tracer
        self.inject = inject  # a span's W3C trace-context headers (None: not propagated)
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
        """The call's trace; ``NO_TRACE`` while both providers are the API's no-ops, so that a library
        user who installed no SDK pays one type check per call and nothing else. Counting tokens is
        not a GenAI inference operation: no span."""
        prepared = info.prepared
        if info.operation == "count_tokens" or prepared is None or self.is_noop():
            return NO_TRACE
        return _SpanTrace(self, info, prepared)


def _base_url(prepared: Any) -> str:
    """Where the request goes: the configured base URL, else the provider's default."""
    cfg = prepared.config
    base = cfg.base_url or prepared.spec.default_base_url or ""
    return str(base.format(region=cfg.region or "") if "{region}" in base else base)


def _api_type(prepared: Prepared) -> str:
    """``openai.api.type``: the Responses API where core.prepare routed the request to it."""
    return "responses" if prepared.spec.name == "openai_responses" or prepared.config.api == "responses" else "chat_completions"


def _otel_name(provider: str) -> str:
    """The row's ``gen_ai.provider.name`` (a provider without one is named as we name it)."""
    spec = get_spec(provider)
    return spec.otel_name if spec is not None and spec.otel_name else provider


class _SpanTrace(CallTrace):
    """One call's span and measurements (never shared between calls)."""

    __slots__ = (
        "acc",
        "chunks",
        "last_chunk",
        "metric_attrs",
        "model",
        "otel_name",
        "provider",
        "ref",
        "span",
        "started",
        "tel",
        "token",
        "ttfc",
        "usage",
    )

    def __init__(self, tel: Telemetry, info: CallInfo, prepared: Prepared) -> None:
        self.tel = tel
        self.started = tel.clock()
        self.ref = info.ref  # the model tried last: the one that answered, after any failover
        self.provider = info.ref.provider
        self.model: str | None = None  # the answering model, from the stream's chunks
        self.usage: Any = None
        self.ttfc: float | None = None
        self.last_chunk = 0.0
        self.chunks = 0
        server = tel.server(_base_url(prepared))
        req = prepared.request
        self.otel_name = info.provider_name or _otel_name(info.ref.provider)
        attrs = sc.request_attributes(req, provider_name=self.otel_name, stream=info.stream, api_type=_api_type(prepared))
        attrs.update(server)
        self.metric_attrs: dict[str, sc.AttributeValue] = {
            sc.OPERATION_NAME: sc.CHAT,
            sc.PROVIDER_NAME: attrs[sc.PROVIDER_NAME],
            sc.REQUEST_MODEL: req.model,
            **server,
        }
        self.span: Span = tel.tracer.start_span(sc.span_name(sc.CHAT, req.model), kind=tel.client_kind, attributes=attrs)
        recording = self.span.is_recording()
        # a stream's answer is folded here only when the span can show it
        self.acc: StreamFold | None = StreamFold() if recording and info.stream else None
        # A plain call's span is the current one while the call runs (an HTTP client instrumentation's
        # spans and log records nest under it); the call starts and ends in the caller's own context.
        # A stream's is not: between chunks the caller's code runs, and it must not find our span current.
        self.token: object = None
        if recording and not info.stream and tel.activate is not None:
            self.token = tel.activate(self.span)
        if recording and tel.capture_content:
            with contextlib.suppress(msgspec.EncodeError, TypeError, ValueError):  # unencodable tool schema
                self.span.set_attributes(sc.content_attributes(req, system_apart=prepared.spec.otel_system_apart))

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

    def gave_up(self, ref: ModelRef, attempts: int, reason: GiveUpReason, error: LlmError) -> None:
        if self.span.is_recording():
            self.span.add_event("interlingua.gave_up", {"interlingua.model": str(ref), "interlingua.attempts": attempts,
                                                        "interlingua.gave_up.reason": reason.value,
                                                        sc.ERROR_TYPE: sc.error_type(error)})

    def breaker_changed(self, key: str, old: Phase, new: Phase) -> None:
        if self.span.is_recording():
            self.span.add_event("interlingua.breaker", {"interlingua.breaker.key": key, "interlingua.breaker.from": old.value,
                                                        "interlingua.breaker.to": new.value})

    def failed_over(self, from_ref: ModelRef, to_ref: ModelRef, error: LlmError) -> None:
        # The answering provider is the one the span and the metrics name from now on.
        self.ref = to_ref
        self.provider = to_ref.provider
        self.otel_name = name = _otel_name(to_ref.provider)
        self.metric_attrs[sc.PROVIDER_NAME] = name
        if self.span.is_recording():
            self.span.add_event("interlingua.failover", {"interlingua.failover.from": str(from_ref),
                                                         "interlingua.failover.to": str(to_ref),
                                                         sc.ERROR_TYPE: sc.error_type(error)})
            self.span.set_attribute(sc.PROVIDER_NAME, name)

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
            self.acc.add(chunk)

    def outgoing(self, request: HttpRequest) -> HttpRequest:
        # the call's trace context rides with each attempt (a header the caller configured is kept)
        inject = self.tel.inject
        if inject is None or "traceparent" in request.headers:
            return request
        carrier = inject(self.span)
        return msgspec.structs.replace(request, headers=request.headers.merged(carrier)) if carrier else request

    def sending(self) -> Callable[[], None] | None:
        # A stream's span is current only while an exchange starts (up to the reply's head): an HTTP
        # client instrumentation's span, and the traceparent it sends, then belong to the call's trace.
        tel = self.tel
        activate, deactivate = tel.activate, tel.deactivate
        if self.token is not None or activate is None or deactivate is None or not self.span.is_recording():
            return None  # a plain call's span is current throughout already
        token = activate(self.span)
        return lambda: deactivate(token)

    # -- the end --------------------------------------------------------------------------------------

    def ended(self, result: Result[object, LlmError], cost: Decimal | None) -> None:
        """``Success(ChatResponse)`` for a call, ``Success(Usage | None)`` for a stream (its chunks came
        through :meth:`chunk`), or the ``Failure`` — the caller closing a stream early included."""
        tel, span = self.tel, self.span
        attrs = self.metric_attrs
        err: LlmError | None = None
        resp: ChatResponse | None = None
        usage: Any = self.usage
        if isinstance(result, Failure):
            err = result.failure()
            attrs[sc.ERROR_TYPE] = _error_type(err)
        else:
            value = result.unwrap()
            if isinstance(value, ChatResponse):
                resp = value
            else:
                if isinstance(value, Usage):
                    usage = value
                if self.acc is not None:
                    resp = self.acc.response(self.provider)
            if resp is not None:
                usage = resp.usage
        model = resp.model if resp is not None else self.model
        if model:
            attrs[sc.RESPONSE_MODEL] = model
        tel.duration.record(tel.clock() - self.started, attrs)
        if err is None and sc.has_usage(usage):
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
            out.update(sc.response_attributes(resp, provider_name=self.otel_name))
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

