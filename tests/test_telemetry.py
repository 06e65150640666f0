"""OpenTelemetry GenAI spans and metrics, read back with the SDK's in-memory exporter and metric reader,
for calls against the fakes over loopback (every provider), per semantic-conventions v1.41.0."""

from __future__ import annotations

import asyncio
import contextvars
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from returns.result import Failure, Success

from interlingua.core import (
    ChatRequest,
    ChatResponse,
    Message,
    ResponseFormat,
    ToolCall,
    ToolSpec,
    Usage,
)
from interlingua.core import semconv as sc
from interlingua.core.budget import Limits, RateLimit
from interlingua.core.catalog import default_catalog
from interlingua.core.registry import get_spec
from interlingua.core.schema import FinishReason
from interlingua.effects import Client, LlmConfig
from interlingua.effects import telemetry as tm
from interlingua.effects.observe import NO_TRACE, CallInfo, CallTrace
from interlingua.effects.telemetry import TelemetrySettings
from interlingua.fakes import FakeServer
from interlingua.fakes.openai import SYSTEM_FINGERPRINT

from .helpers import config_for
from .resilience_support import MODELS, SENTINEL_KEY, FakeTime, warm_fake
from .strategies import chat_request

EXPECTED_PROVIDER = {
    "openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini", "ollama": "ollama",
    "azure": "azure.ai.openai", "xai": "x_ai", "docker": "docker", "bedrock": "aws.bedrock",
}
by_provider = pytest.mark.parametrize("provider", sorted(MODELS))


class Otel:
    """An SDK tracer provider and meter provider whose output the test can read."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def client(self, cfg: LlmConfig, **kw: Any) -> Client:
        return Client(cfg, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kw)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        out: list[HistogramDataPoint] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        out.extend(p for p in m.data.data_points if isinstance(p, HistogramDataPoint))
        return out


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    """The fakes, answering only the sentinel key (so a leak of it would be visible)."""
    async for server in warm_fake(SENTINEL_KEY):
        yield server


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.tracer_provider.shutdown()
    o.meter_provider.shutdown()


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _all_strings(spans: list[ReadableSpan]) -> str:
    """Every name, attribute and event of the spans as one string (to look for a secret)."""
    out = []
    for s in spans:
        out.append(s.name)
        out.append(repr(dict(s.attributes or {})))
        out.extend(repr((e.name, dict(e.attributes or {}))) for e in s.events)
        out.append(repr(s.status.description))
    return "\n".join(out)


# -- every provider: the attributes of a plain call and of a stream ------------------------------------


@by_provider
async def test_chat_span_and_metrics_follow_the_convention(fake: FakeServer, otel: Otel, provider: str) -> None:
    """One CLIENT span `chat {model}` with the required and recommended attributes, and the two metrics."""
    model = MODELS[provider]
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        r = await client.chat(model, "hello", max_tokens=64, temperature=0.5, stop=["END"])
    assert isinstance(r, Success), r
    resp = r.unwrap()
    span = otel.span()
    a = _attrs(span)
    ref_model = model.split(":", 1)[1]
    assert span.name == f"chat {ref_model}" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a[sc.OPERATION_NAME] == "chat" and a[sc.PROVIDER_NAME] == EXPECTED_PROVIDER[provider]
    assert a[sc.REQUEST_MODEL] == ref_model and a[sc.REQUEST_MAX_TOKENS] == 64
    assert a[sc.REQUEST_TEMPERATURE] == 0.5 and a[sc.REQUEST_STOP_SEQUENCES] == ("END",)
    assert sc.REQUEST_STREAM not in a  # "If and only if the request is streaming"
    assert a[sc.SERVER_ADDRESS] == "127.0.0.1" and a[sc.SERVER_PORT] == fake.port_for(provider)
    assert a.get(sc.RESPONSE_MODEL) == (resp.model or None)  # Bedrock's Converse names no model
    assert a[sc.RESPONSE_FINISH_REASONS] == ("stop",)
    if resp.id:
        assert a[sc.RESPONSE_ID] == resp.id
    assert a[sc.USAGE_INPUT_TOKENS] == resp.usage.prompt_tokens > 0
    assert a[sc.USAGE_OUTPUT_TOKENS] == resp.usage.completion_tokens > 0
    assert a[sc.ATTEMPTS] == 1 and a[sc.ANSWERED_BY] == model
    assert (a.get(sc.OPENAI_API_TYPE) == "chat_completions") is (provider == "openai")
    if provider == "openai":  # openai.md: the tier and fingerprint the answer names
        assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default" and a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == SYSTEM_FINGERPRINT
    else:
        assert not any(k.startswith("openai.") for k in a)
    info = default_catalog().lookup(provider, ref_model)
    cost = resp.usage.calculate_cost(info) if info is not None else None
    assert a.get(sc.COST_USD) == (str(cost) if cost is not None else None)
    assert [e.name for e in span.events] == ["interlingua.attempt"]
    # metrics: one duration point, input and output token points, the convention's attributes and buckets
    (duration,) = otel.points("gen_ai.client.operation.duration")
    common = {sc.OPERATION_NAME: "chat", sc.PROVIDER_NAME: EXPECTED_PROVIDER[provider], sc.REQUEST_MODEL: ref_model,
              sc.SERVER_ADDRESS: "127.0.0.1", sc.SERVER_PORT: fake.port_for(provider)}
    if resp.model:
        common[sc.RESPONSE_MODEL] = resp.model
    assert dict(duration.attributes or {}) == common and duration.count == 1
    assert tuple(duration.explicit_bounds) == sc.DURATION_BUCKETS
    tokens = {dict(p.attributes or {})[sc.TOKEN_TYPE]: p for p in otel.points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == resp.usage.prompt_tokens and tokens["output"].sum == resp.usage.completion_tokens
    assert dict(tokens["input"].attributes or {}) == {**common, sc.TOKEN_TYPE: "input"}
    assert tuple(tokens["input"].explicit_bounds) == tuple(float(b) for b in sc.TOKEN_BUCKETS)
    assert not otel.points("gen_ai.client.operation.time_to_first_chunk")


@by_provider
async def test_stream_span_has_first_chunk_time_and_chunk_metrics(fake: FakeServer, otel: Otel, provider: str) -> None:
    """A stream: gen_ai.request.stream, time to first chunk (attribute and metric), per-chunk times, usage."""
    model = MODELS[provider]
    clock = FakeTime()
    chunks = 0
    async with otel.client(config_for(fake, retry_enabled=False), env=clock.env()) as client:
        async for item in client.stream(model, "tell me a story"):
            assert isinstance(item, Success), item
            chunks += 1
    a = _attrs(otel.span())
    assert a[sc.REQUEST_STREAM] is True and a[sc.PROVIDER_NAME] == EXPECTED_PROVIDER[provider]
    assert a[sc.RESPONSE_TIME_TO_FIRST_CHUNK] == 0.0  # the fake clock does not move between chunks
    assert a[sc.RESPONSE_FINISH_REASONS] == ("stop",) and a[sc.USAGE_OUTPUT_TOKENS] > 0
    if provider == "openai":
        assert a[sc.OPENAI_RESPONSE_SERVICE_TIER] == "default" and a[sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == SYSTEM_FINGERPRINT
    (ttfc,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1 and tuple(ttfc.explicit_bounds) == sc.DURATION_BUCKETS
    per_chunk = otel.points("gen_ai.client.operation.time_per_output_chunk")
    assert sum(p.count for p in per_chunk) == chunks - 1
    assert {dict(p.attributes or {})[sc.TOKEN_TYPE] for p in otel.points("gen_ai.client.token.usage")} == {"input", "output"}


# -- the story of a call: retries, failover, breaker, failure ------------------------------------------


@by_provider
async def test_retried_call_shows_each_attempt_and_the_wait(fake: FakeServer, otel: Otel, provider: str) -> None:
    """A 429 with Retry-After, then success: one span, events attempt(429) → wait(retry, 2s) → attempt(ok)."""
    clock = FakeTime()
    async with otel.client(config_for(fake, max_retries=2), env=clock.env()) as client:
        fake.fail_next(provider, "429;retry-after=2")
        r = await client.chat(MODELS[provider], "hi")
    assert isinstance(r, Success)
    span = otel.span()
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert [n for n, _ in events] == ["interlingua.attempt", "interlingua.wait", "interlingua.attempt"]
    assert events[0][1][sc.ERROR_TYPE] == "rate_limit" and events[0][1][sc.ERROR_STATUS] == 429
    # the server's Retry-After (AWS sends none: Bedrock's wait is the jittered backoff the client slept)
    assert clock.sleeps == [0.5 if provider == "bedrock" else 2.0]
    assert events[1][1] == {"interlingua.wait.reason": "retry", "interlingua.wait.seconds": clock.sleeps[0],
                            sc.ERROR_TYPE: "rate_limit"}
    assert sc.ERROR_TYPE not in events[2][1] and events[2][1]["interlingua.attempt"] == 2
    assert _attrs(span)[sc.ATTEMPTS] == 2 and span.status.status_code is StatusCode.UNSET
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.sum == clock.sleeps[0]  # the client's clock: the sleep is the whole duration


async def test_failover_names_the_answering_provider(fake: FakeServer, otel: Otel) -> None:
    """OpenAI fails (503), Anthropic answers: the span's provider and response model are Anthropic's."""
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        fake.fail_next("openai", "503")
        r = await client.chat("openai:gpt-4o-mini", "hi", fallbacks=[MODELS["anthropic"]])
    assert isinstance(r, Success)
    span = otel.span()
    a = _attrs(span)
    assert span.name == "chat gpt-4o-mini" and a[sc.REQUEST_MODEL] == "gpt-4o-mini"
    assert a[sc.PROVIDER_NAME] == "anthropic" and a[sc.RESPONSE_MODEL] == r.unwrap().model
    assert a[sc.ANSWERED_BY] == MODELS["anthropic"]
    failover = [dict(e.attributes or {}) for e in span.events if e.name == "interlingua.failover"]
    assert failover == [{"interlingua.failover.from": "openai:gpt-4o-mini", "interlingua.failover.to": MODELS["anthropic"],
                         sc.ERROR_TYPE: "provider"}]
    gave_up = [dict(e.attributes or {}) for e in span.events if e.name == "interlingua.gave_up"]
    assert gave_up == [{"interlingua.model": "openai:gpt-4o-mini", "interlingua.attempts": 1,
                        "interlingua.gave_up.reason": "attempts", sc.ERROR_TYPE: "provider"}]
    assert [e.name for e in span.events].index("interlingua.gave_up") < [e.name for e in span.events].index("interlingua.failover")
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {})[sc.PROVIDER_NAME] == "anthropic"


@pytest.mark.parametrize("route", ["openai_responses:gpt-4o-mini", "api=responses"])
async def test_responses_api_calls_are_openai_api_type_responses(fake: FakeServer, otel: Otel, route: str) -> None:
    """OpenAI's Responses API (its own provider row, or openai: routed with api="responses"): openai.api.type responses."""
    cfg = config_for(fake, retry_enabled=False)
    if route == "api=responses":
        cfg, model = cfg.with_provider("openai", api="responses"), "openai:gpt-4o-mini"
    else:
        cfg, model = cfg.with_provider("openai_responses", base_url=fake.url_for("openai"), api_key=fake.api_key), route
    async with otel.client(cfg) as client:
        r = await client.chat(model, "hi")
        assert isinstance(r, Success), r
        assert isinstance(await client.stream_response(model, "hi"), Success)
    for span in otel.spans():
        a = _attrs(span)
        assert a[sc.PROVIDER_NAME] == "openai" and a[sc.OPENAI_API_TYPE] == "responses"
        assert a[sc.USAGE_OUTPUT_TOKENS] > 0 and a[sc.RESPONSE_FINISH_REASONS] == ("stop",)


async def test_client_side_rate_limit_wait_is_a_span_event(fake: FakeServer, otel: Otel) -> None:
    """A client-side limit of 1 request per minute: the second call's span shows its rate_limit wait."""
    clock = FakeTime()
    limits = Limits(rate_limits=(RateLimit(provider="openai", requests_per_minute=1),))
    async with otel.client(config_for(fake, retry_enabled=False, limits=limits), env=clock.env()) as client:
        for _ in range(2):
            assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
    first, second = otel.spans()
    assert not [e for e in first.events if e.name == "interlingua.wait"]
    waits = [dict(e.attributes or {}) for e in second.events if e.name == "interlingua.wait"]
    assert [w["interlingua.wait.reason"] for w in waits] == ["rate_limit"] and waits[0]["interlingua.wait.seconds"] > 0
    assert sum(w["interlingua.wait.seconds"] for w in waits) == pytest.approx(sum(clock.sleeps))


async def test_breaker_transition_is_a_span_event(fake: FakeServer, otel: Otel) -> None:
    """A failure that opens the circuit shows as closed → open on that call's span."""
    async with otel.client(config_for(fake, retry_enabled=False, circuit_breaker_threshold=1)) as client:
        fake.fail_next("openai", "500")
        await client.chat("openai:gpt-4o-mini", "hi")
    events = [dict(e.attributes or {}) for e in otel.span().events if e.name == "interlingua.breaker"]
    assert events == [{"interlingua.breaker.key": "openai", "interlingua.breaker.from": "closed", "interlingua.breaker.to": "open"}]


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
@by_provider
async def test_failure_sets_error_type_and_status(fake: FakeServer, otel: Otel, provider: str, stream: bool) -> None:
    """A server error: span status ERROR, error.type on span and duration metric, no token usage."""
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        fake.fail_next(provider, "500")
        call = client.stream_response if stream else client.chat
        r = await call(MODELS[provider], "hi")
    assert isinstance(r, Failure)
    kind = r.failure().kind.value
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert _attrs(span)[sc.ERROR_TYPE] == kind and sc.USAGE_INPUT_TOKENS not in _attrs(span)
    assert _attrs(span)[sc.PROVIDER_NAME] == EXPECTED_PROVIDER[provider]
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert dict(duration.attributes or {})[sc.ERROR_TYPE] == kind
    assert not otel.points("gen_ai.client.token.usage")


async def test_abandoned_stream_still_ends_its_span(fake: FakeServer, otel: Otel) -> None:
    """A consumer that stops after the first chunk: the span ends, marked cancelled."""
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        items = client.stream("openai:gpt-4o-mini", "tell me a story")
        async for _ in items:
            break
        await items.aclose()  # type: ignore[attr-defined]
    span = otel.span()
    assert _attrs(span)[sc.ERROR_TYPE] == "cancelled" and span.status.status_code is StatusCode.ERROR


async def test_cancelled_call_still_ends_its_span(fake: FakeServer, otel: Otel) -> None:
    """A caller that cancels a hanging call: the span ends (error.type cancelled) and the context is restored."""
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        fake.fail_next("openai", "hang")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await client.chat("openai:gpt-4o-mini", "hi")
        assert not otel_trace.get_current_span().is_recording()
    span = otel.span()
    assert _attrs(span)[sc.ERROR_TYPE] == "cancelled" and span.status.status_code is StatusCode.ERROR


# -- content capture, secrets, context ----------------------------------------------------------------

TOOL = ToolSpec(name="get_weather", description="Weather for a city",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_content_capture_is_opt_in(fake: FakeServer, otel: Otel, provider: str, stream: bool) -> None:
    """Off by default; on, the messages, system instructions and tools follow the convention's JSON shapes."""
    msgs = [Message.system("Be brief."), Message.user("What is the weather in Paris?")]
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        assert isinstance(await client.chat(MODELS[provider], msgs, tools=[TOOL]), Success)
    a = _attrs(otel.span())
    assert not {sc.INPUT_MESSAGES, sc.OUTPUT_MESSAGES, sc.SYSTEM_INSTRUCTIONS, sc.TOOL_DEFINITIONS} & set(a)
    otel.exporter.clear()
    cfg = config_for(fake, retry_enabled=False, telemetry=TelemetrySettings(capture_content=True))
    async with otel.client(cfg) as client:
        call = client.stream_response if stream else client.chat
        r = await call(MODELS[provider], msgs, tools=[TOOL])
    assert isinstance(r, Success)
    a = _attrs(otel.span())
    user = {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    if provider != "openai":  # Anthropic and Gemini take the system prompt apart from the messages
        assert json.loads(a[sc.INPUT_MESSAGES]) == [user]
        assert json.loads(a[sc.SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    else:
        assert json.loads(a[sc.INPUT_MESSAGES]) == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, user]
        assert sc.SYSTEM_INSTRUCTIONS not in a
    assert json.loads(a[sc.TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "get_weather", "description": "Weather for a city", "parameters": TOOL.parameters}]
    (out,) = json.loads(a[sc.OUTPUT_MESSAGES])
    assert out["role"] == "assistant" and out["finish_reason"] == "stop"
    assert [p["content"] for p in out["parts"] if p["type"] == "text"] == [r.unwrap().text]


def test_importing_the_library_imports_no_opentelemetry() -> None:
    """The API is imported when a client with telemetry on is built, never by importing interlingua."""
    code = ("import sys; import interlingua.effects, interlingua.core; "
            "from interlingua.effects import Client, LlmConfig, TelemetrySettings; "
            "Client(LlmConfig(telemetry=TelemetrySettings(enabled=False))); "
            "print(any(m.startswith('opentelemetry') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


_LATE_SDK = """
import asyncio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import serve

async def main():
    async with serve() as fake:
        cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=fake.url_for("openai"), api_key=fake.api_key)
        async with Client(cfg) as client:
            await client.chat("openai:gpt-4o-mini", "before")
            exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
            tp = TracerProvider()
            tp.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(tp)
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            await client.chat("openai:gpt-4o-mini", "after")
            names = [m.name for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
            print([s.name for s in exporter.get_finished_spans()], "gen_ai.client.operation.duration" in names)

asyncio.run(main())
"""


def test_a_global_sdk_installed_later_is_used() -> None:
    """A client built before the application installs its SDK globally traces every call after it."""
    done = subprocess.run([sys.executable, "-c", _LATE_SDK], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['chat gpt-4o-mini'] True"


def test_capture_setting_is_read_from_the_otel_variable() -> None:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT as opentelemetry-util-genai reads it."""
    on = [LlmConfig.from_env({tm.CAPTURE_CONTENT_ENV: v}).telemetry.capture_content for v in ("SPAN_ONLY", "span_and_event", "true")]
    off = [LlmConfig.from_env({tm.CAPTURE_CONTENT_ENV: v}).telemetry.capture_content for v in ("NO_CONTENT", "EVENT_ONLY", "false", "")]
    assert on == [True] * 3 and off == [False] * 4
    assert LlmConfig.from_env({}).telemetry == TelemetrySettings()


@by_provider
async def test_sentinel_key_is_in_no_attribute_or_event(fake: FakeServer, otel: Otel, provider: str) -> None:
    """With content captured, retries, a failure and a success, the key never reaches a span."""
    clock = FakeTime()
    cfg = config_for(fake, max_retries=1, telemetry=TelemetrySettings(capture_content=True))
    async with otel.client(cfg, env=clock.env()) as client:
        fake.fail_next(provider, "500")
        await client.chat(MODELS[provider], [Message.system("sys"), Message.user("hi")], tools=[TOOL])
        fake.fail_next(provider, "401")
        await client.chat(MODELS[provider], "hi")
        await client.stream_response(MODELS[provider], "hi")
    spans = otel.spans()
    assert len(spans) == 3
    text = _all_strings(spans)
    assert SENTINEL_KEY not in text and SENTINEL_KEY[3:15] not in text
    assert "authorization" not in text.lower() and "x-api-key" not in text.lower()


async def test_a_calls_span_is_current_while_it_runs(fake: FakeServer, otel: Otel) -> None:
    """During a plain call its span is the current one (nested instrumentation attaches to it);
    after the call, and between a stream's chunks, the caller's own context is back."""
    seen: list[str] = []

    def hook(_: object) -> None:
        span = otel_trace.get_current_span()
        seen.append(getattr(span, "name", "") if span.is_recording() else "")

    async with otel.client(config_for(fake, retry_enabled=False), on_event=hook) as client:
        await client.chat("openai:gpt-4o-mini", "hi")
        assert not otel_trace.get_current_span().is_recording()
        async for _ in client.stream("openai:gpt-4o-mini", "hi"):
            assert not otel_trace.get_current_span().is_recording()
    assert seen[0] == "chat gpt-4o-mini"


class _ContextObserver:
    """A second observer beside telemetry (the client then fans each call out to both): it sets a
    context variable of its own while a stream's exchange starts, as telemetry makes its span current."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def call_started(self, info: CallInfo) -> CallTrace:
        outer = self

        class Trace(CallTrace):
            def sending(self) -> Callable[[], None] | None:
                token = _EXCHANGE.set(f"{info.ref}")
                outer.seen.append(f"{info.ref}")
                return lambda: _EXCHANGE.reset(token)

        return Trace()


_EXCHANGE: contextvars.ContextVar[str | None] = contextvars.ContextVar("exchange", default=None)


@pytest.mark.parametrize(("provider", "observed"), [("openai", False), ("anthropic", False), ("gemini", False),
                                                    ("bedrock", False), ("openai", True)])
async def test_http_client_instrumentation_nests_under_the_calls_span(
    fake: FakeServer, otel: Otel, provider: str, observed: bool
) -> None:
    """With OpenTelemetry's aiohttp-client instrumentation installed, each attempt's HTTP span is a child
    of the call's span, for a plain call and for a stream alike, and the ``traceparent`` it sends names
    that HTTP span in the call's trace; the caller's code between a stream's chunks still runs in its
    own context. With a second observer beside telemetry, both are asked and both contexts given back."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    other = _ContextObserver() if observed else None
    try:
        async with otel.client(config_for(fake, retry_enabled=False), observer=other) as client:
            assert isinstance(await client.chat(MODELS[provider], "hi"), Success)
            chunks = 0
            async for item in client.stream(MODELS[provider], "hi"):
                assert isinstance(item, Success)
                assert not otel_trace.get_current_span().is_recording()
                assert _EXCHANGE.get() is None
                chunks += 1
            assert chunks > 1
    finally:
        instrumentor.uninstrument()
    if other is not None:  # one stream, one exchange (a plain call never asks)
        assert other.seen == [MODELS[provider]]
    spans = sorted(otel.spans(), key=lambda s: s.start_time or 0)
    ours = [s for s in spans if s.name.startswith("chat ")]
    http = [s for s in spans if not s.name.startswith("chat ")]
    assert len(ours) == 2 and len(http) == 2, [s.name for s in spans]
    assert SENTINEL_KEY not in _all_strings(spans)  # the key is a header (Gemini's too), never in a URL
    sent = [r.headers.get("traceparent") for r in fake.requests_for(provider)]
    assert len(sent) == 2
    for call, exchange, traceparent in zip(ours, http, sent, strict=True):
        assert call.context is not None and exchange.context is not None
        assert exchange.parent is not None and exchange.parent.span_id == call.context.span_id
        assert exchange.context.trace_id == call.context.trace_id
        ctx = exchange.context
        assert traceparent == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


async def test_instrumented_stream_retries_and_cuts_give_the_callers_context_back(fake: FakeServer, otel: Otel) -> None:
    """A stream retried after a 500 nests both HTTP spans under its one span; a stream whose caller stops
    waiting for the head (cancelled mid-exchange) leaves the caller's own context current."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    instrumentor = AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    tracer = otel.tracer_provider.get_tracer("app")
    try:
        async with otel.client(config_for(fake, max_retries=1, retry_delay=0.0)) as client:
            with tracer.start_as_current_span("app") as app:
                fake.fail_next("openai", "500")
                assert isinstance(await client.stream_response("openai:gpt-4o-mini", "hi"), Success)
                assert otel_trace.get_current_span() is app
                fake.fail_next("openai", "hang")  # the head never comes before the cancel
                stream = client.stream("openai:gpt-4o-mini", "hi")
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.3):
                        await stream.__anext__()
                await stream.aclose()  # type: ignore[attr-defined]
                assert otel_trace.get_current_span() is app
    finally:
        instrumentor.uninstrument()
    spans = otel.spans()
    streamed, cut = sorted((s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time or 0)
    assert streamed.context is not None and cut.status.status_code is StatusCode.ERROR
    http = [s for s in spans if s.parent is not None and s.parent.span_id == streamed.context.span_id]
    assert len(http) == 2, [s.name for s in spans]


async def test_callers_active_span_is_the_parent(fake: FakeServer, otel: Otel) -> None:
    """Trace context propagates: the caller's current span becomes the parent of the call's span."""
    tracer = otel.tracer_provider.get_tracer("app")
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        with tracer.start_as_current_span("handle request") as parent:
            await client.chat("openai:gpt-4o-mini", "hi")
            await client.stream_response("openai:gpt-4o-mini", "hi")
    ours = [s for s in otel.spans() if s.name.startswith("chat ")]
    assert len(ours) == 2
    for s in ours:
        assert s.parent is not None and s.parent.span_id == parent.get_span_context().span_id
        assert s.context is not None and s.context.trace_id == parent.get_span_context().trace_id


# -- off switches --------------------------------------------------------------------------------------


async def test_config_turns_telemetry_off(fake: FakeServer, otel: Otel) -> None:
    """LlmConfig(telemetry=TelemetrySettings(enabled=False)): no observer, no span, no metric; the call works."""
    off = TelemetrySettings(enabled=False)
    assert tm.telemetry_for(off, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, clock=time.monotonic) is None
    async with otel.client(config_for(fake, retry_enabled=False, telemetry=off)) as client:
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
    assert otel.spans() == [] and otel.points("gen_ai.client.operation.duration") == []


async def test_without_the_api_nothing_is_imported(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """With opentelemetry not importable there is no telemetry observer, and calls work as before."""
    monkeypatch.setattr(tm, "_api", False)
    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # makes `import opentelemetry` raise ImportError
    assert tm.telemetry_for(TelemetrySettings(), clock=time.monotonic) is None
    async with Client(config_for(fake, retry_enabled=False)) as client:
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
        assert isinstance(await client.stream_response("openai:gpt-4o-mini", "hi"), Success)
    assert tm._api is None
    monkeypatch.setattr(tm, "_api", False)


async def test_no_op_providers_cost_no_trace(fake: FakeServer) -> None:
    """The API's defaults (no SDK installed globally) and explicit no-op providers: no per-call trace at all."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    async with Client(config_for(fake, retry_enabled=False)) as client:
        p = client.prepare("openai:gpt-4o-mini", "hi").unwrap()
        info = CallInfo(operation="chat", ref=p.ref, provider_name="openai", stream=False, deadline=None, prepared=p)
        for providers in ({}, {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()}):
            tel = tm.telemetry_for(TelemetrySettings(), clock=time.monotonic, **providers)  # type: ignore[arg-type]
            assert tel is not None and tel.call_started(info) is NO_TRACE
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
        assert isinstance(await client.stream_response("openai:gpt-4o-mini", "hi"), Success)


async def test_count_tokens_has_no_span(fake: FakeServer, otel: Otel) -> None:
    """Counting tokens is not an inference operation: no span, no metric."""
    async with otel.client(config_for(fake, retry_enabled=False)) as client:
        assert isinstance(await client.count_tokens("anthropic:claude-3-5-haiku-latest", "hi"), Success)
    assert otel.spans() == []


async def test_a_real_tracer_with_no_op_metrics_still_traces(fake: FakeServer, otel: Otel) -> None:
    """Only both providers being no-ops skips the trace: an SDK tracer alone still gets its span."""
    from opentelemetry.metrics import NoOpMeterProvider

    cfg = config_for(fake, retry_enabled=False)
    async with Client(cfg, tracer_provider=otel.tracer_provider, meter_provider=NoOpMeterProvider()) as client:
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
    assert otel.span().name == "chat gpt-4o-mini"


# -- the pure mappings ---------------------------------------------------------------------------------

_ROLES = {"system", "user", "assistant", "tool"}
_PART_TYPES = {"text", "reasoning", "uri", "blob", "tool_call", "tool_call_response"}


@given(chat_request(), st.sampled_from(sorted(EXPECTED_PROVIDER)), st.booleans())
def test_request_mappings_are_total_and_follow_the_schemas(req: ChatRequest, provider: str, stream: bool) -> None:
    """For any request: attribute values are OTel-legal types; content is JSON in the convention's shapes."""
    spec = get_spec(provider)
    assert spec is not None
    attrs = sc.request_attributes(req, provider_name=spec.otel_name, stream=stream)
    for v in attrs.values():
        assert isinstance(v, str | bool | int | float) or (isinstance(v, tuple) and all(isinstance(x, str) for x in v))
    assert attrs[sc.PROVIDER_NAME] == EXPECTED_PROVIDER[provider] and (sc.REQUEST_STREAM in attrs) is stream
    content = sc.content_attributes(req, system_apart=spec.otel_system_apart)
    messages = json.loads(str(content[sc.INPUT_MESSAGES]))
    assert all(m["role"] in _ROLES and all(p["type"] in _PART_TYPES for p in m["parts"]) for m in messages)
    system = content.get(sc.SYSTEM_INSTRUCTIONS)
    n_system = sum(1 for m in req.messages if m.role.value == "system")
    kept = sum(1 for m in messages if m["role"] == "system")
    assert kept + (n_system if provider in ("anthropic", "gemini", "bedrock") else 0) == n_system
    if system is not None:
        assert all(p["type"] == "text" for p in json.loads(str(system)))
    calls = [p for m in messages for p in m["parts"] if p["type"] == "tool_call"]
    assert calls == [{"type": "tool_call", "id": c.id, "name": c.name, "arguments": json.loads(c.arguments)}
                     for m in req.messages for c in m.tool_calls]
    if req.response_format is not None:
        assert attrs[sc.OUTPUT_TYPE] == "json"


@given(st.text(), st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=3), st.sampled_from(list(FinishReason)),
       st.one_of(st.none(), st.text()), st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(sorted(EXPECTED_PROVIDER)))
def test_response_mappings_are_total(text: str, calls: list[tuple[str, str]], finish: FinishReason, raw: str | None,
                                     prompt: int, completion: int, provider: str) -> None:
    """For any answer (tool arguments that are not JSON included): legal attribute values and the output schema."""
    msg = Message.assistant(text, tuple(ToolCall(id=f"c{i}", name=n, arguments=a) for i, (n, a) in enumerate(calls)))
    resp = ChatResponse(id="x", model="m", created=0, message=msg, finish_reason=finish, raw_finish_reason=raw,
                        usage=Usage(prompt_tokens=prompt, completion_tokens=completion), provider=provider)
    attrs = sc.response_attributes(resp, provider_name=provider)
    assert (sc.USAGE_INPUT_TOKENS in attrs) is sc.has_usage(resp.usage)
    assert len(attrs[sc.RESPONSE_FINISH_REASONS]) == 1  # type: ignore[arg-type]
    (out,) = json.loads(sc.output_messages(resp))
    assert out["role"] == "assistant" and isinstance(out["finish_reason"], str)
    assert [p["name"] for p in out["parts"] if p["type"] == "tool_call"] == [n for n, _ in calls]
    assert "".join(p["content"] for p in out["parts"] if p["type"] == "text") == text


def test_bucket_advice_is_the_conventions() -> None:
    """Token buckets 1, 4, 16 … 67108864 (14 powers of 4); duration buckets 0.01 … 81.92 (doubling)."""
    assert sc.TOKEN_BUCKETS[0] == 1 and sc.TOKEN_BUCKETS[-1] == 67108864 and len(sc.TOKEN_BUCKETS) == 14
    assert all(b == pytest.approx(0.01 * 2**i) for i, b in enumerate(sc.DURATION_BUCKETS)) and sc.DURATION_BUCKETS[-1] == 81.92


def test_response_format_text_is_text() -> None:
    """gen_ai.output.type: text for a text format, json for json_object/json_schema, absent otherwise."""
    base = ChatRequest(model="m", messages=(Message.user("x"),))
    assert sc.OUTPUT_TYPE not in sc.request_attributes(base, provider_name="openai", stream=False)
    text = ChatRequest(model="m", messages=(Message.user("x"),), response_format=ResponseFormat(type="text"))
    assert sc.request_attributes(text, provider_name="openai", stream=False)[sc.OUTPUT_TYPE] == "text"


# -- W3C trace context on the wire, without an HTTP client instrumentation ---------------------------------


def _traceparent_of(span: ReadableSpan) -> str:
    ctx = span.context
    assert ctx is not None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


@by_provider
async def test_each_request_carries_the_calls_traceparent(fake: FakeServer, otel: Otel, provider: str) -> None:
    """Without any HTTP instrumentation, every attempt of a plain call and of a stream sends the call
    span's ``traceparent`` (so a gateway between joins the trace), the retry of a 500 too, and the
    application's baggage never leaves with it."""
    from opentelemetry import baggage
    from opentelemetry import context as otel_context

    token = otel_context.attach(baggage.set_baggage("user.email", "someone@example.com"))
    try:
        async with otel.client(config_for(fake, max_retries=1, retry_delay=0.0)) as client:
            fake.fail_next(provider, "500")
            assert isinstance(await client.chat(MODELS[provider], "hi"), Success)
            assert isinstance(await client.stream_response(MODELS[provider], "hi"), Success)
    finally:
        otel_context.detach(token)
    call, stream = sorted(otel.spans(), key=lambda s: s.start_time or 0)
    sent = fake.requests_for(provider)
    assert len(sent) == 3  # the 500, its retry, the stream
    assert [r.headers.get("traceparent") for r in sent] == [_traceparent_of(call)] * 2 + [_traceparent_of(stream)]
    assert not any("baggage" in {k.lower() for k in r.headers} for r in sent)


async def test_trace_context_stays_home_when_asked_or_when_the_caller_sets_it(fake: FakeServer, otel: Otel) -> None:
    """``TelemetrySettings(propagate=False)`` sends none (the spans are still made); telemetry off sends
    none; a ``traceparent`` the caller configured as a header is the one sent."""
    for settings in (TelemetrySettings(propagate=False), TelemetrySettings(enabled=False)):
        async with otel.client(config_for(fake, telemetry=settings)) as client:
            assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
        assert "traceparent" not in fake.requests_for("openai")[-1].headers
    assert len(otel.spans()) == 1
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    cfg = config_for(fake).with_provider("openai", headers=(("traceparent", own),))
    async with otel.client(cfg) as client:
        assert isinstance(await client.chat("openai:gpt-4o-mini", "hi"), Success)
    assert fake.requests_for("openai")[-1].headers.get("traceparent") == own


def test_the_no_op_check_is_both_providers_being_no_ops() -> None:
    """Every mix of an explicit provider (an SDK one or the API's no-op) and the global default (the
    API's proxy, a no-op while no SDK is set): the per-call check says no-op only when both are."""
    from opentelemetry import metrics
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    tracers = {"global": (None, True), "no-op": (NoOpTracerProvider(), True), "sdk": (TracerProvider(), False)}
    meters = {"global": (None, True), "no-op": (NoOpMeterProvider(), True), "sdk": (MeterProvider(), False)}
    for t_name, (tracer, t_noop) in tracers.items():
        for m_name, (meter, m_noop) in meters.items():
            check = tm._noop_check(otel_trace, metrics, tracer, meter)
            assert check() is (t_noop and m_noop), (t_name, m_name)
