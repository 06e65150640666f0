"""Telemetry overhead: the client's CPU per request with telemetry off, with the OpenTelemetry API
and no SDK (the no-op default), and with the SDK exporting to memory — as ratios in one run.

``python -m benchmarks.telemetry_bench [--rounds 7] [--requests 200] [--quick]``

Method: the fakes run in their own process (``benchmarks._fakeproc``), so only the client's work is
timed: ``time.process_time`` of this process around a batch of sequential calls, divided by the
batch size. The three modes are interleaved (off, no-op, sdk; next round rotated) and each mode's
median over the rounds is reported next to the ratio to "off" (goal: no-op ≤ 1.03). Non-stream
chat and a stream folded with ``stream_response`` are separate rows. Bounded by count and time.

CPU per request swings several percent between rounds on a shared machine, more than the no-op
mode costs, so a second table times the observer seam alone, in process, without I/O: a call's
start and end as the client performs them (``Client._start``/``_end``, trace creation and
``ended`` included) per mode, as microseconds and as a share of the "off" CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import timeit
from typing import Any

from returns.result import Success

from interlingua.core import ChatResponse, Message, Usage
from interlingua.core.schema import FinishReason
from interlingua.effects import Client, LlmConfig
from interlingua.effects.telemetry import TelemetrySettings

from ._run import FakeProcess

MODEL = "openai:gpt-4o-mini"
_RESPONSE = ChatResponse(id="chatcmpl-1", model="gpt-4o-mini", created=0, message=Message.assistant("hi"),
                         finish_reason=FinishReason.STOP, usage=Usage(prompt_tokens=9, completion_tokens=5), provider="openai")
MODES = ("off", "no-op API", "SDK + in-memory")


def _sdk() -> dict[str, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return {"tracer_provider": tp, "meter_provider": MeterProvider(metric_readers=[InMemoryMetricReader()]),
            "_exporter": exporter}


def _client(mode: str, base_url: str, api_key: str, sdk: dict[str, Any]) -> Client:
    cfg = LlmConfig(retry_enabled=False, telemetry=TelemetrySettings(enabled=mode != "off"))
    cfg = cfg.with_provider("openai", base_url=base_url, api_key=api_key)
    if mode == "SDK + in-memory":
        return Client(cfg, tracer_provider=sdk["tracer_provider"], meter_provider=sdk["meter_provider"])
    return Client(cfg)  # the API's global providers: no SDK installed globally, so no-ops


async def _batch(client: Client, stream: bool, n: int, limit: float) -> float:
    """CPU seconds per request over ``n`` calls (stops early at ``limit`` wall seconds)."""
    done, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    for _ in range(n):
        r = await (client.stream_response(MODEL, "hello") if stream else client.chat(MODEL, "hello"))
        assert r.unwrap().text
        done += 1
        if time.perf_counter() - wall0 > limit:
            break
    return (time.process_time() - cpu0) / done


async def _run(base_url: str, api_key: str, rounds: int, requests: int, limit: float,
               seam_n: int) -> dict[tuple[str, bool], list[float]]:
    sdk = _sdk()
    clients = {m: _client(m, base_url, api_key, sdk) for m in MODES}
    samples: dict[tuple[str, bool], list[float]] = {(m, s): [] for m in MODES for s in (False, True)}
    try:
        for c in clients.values():  # warm pools, caches and the tokenizer
            await _batch(c, False, min(20, requests), limit)
            await _batch(c, True, min(20, requests), limit)
        for i in range(rounds):
            order = MODES[i % 3:] + MODES[:i % 3]
            for stream in (False, True):
                for m in order:
                    samples[(m, stream)].append(await _batch(clients[m], stream, requests, limit))
                    sdk["_exporter"].clear()
        seam = {m: _seam(c, seam_n) for m, c in clients.items()}
    finally:
        for c in clients.values():
            await c.close()
    samples.update({(m, None): [v] for m, v in seam.items()})  # type: ignore[dict-item]
    return samples


def _seam(client: Client, n: int = 20000) -> float:
    """Seconds per call of the observer seam alone: the client's start and end of one chat call."""
    p = client.prepare(MODEL, "hello").unwrap()
    resp = Success(_RESPONSE)

    def once() -> None:
        client._end(client._start(p, "chat", None, None), resp)

    once()
    return min(timeit.repeat(once, number=n, repeat=5)) / n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.telemetry_bench")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="3 rounds of 50 requests")
    p.add_argument("--smoke", action="store_true", help="1 round of 3 requests: checks the harness runs, no figures")
    args = p.parse_args(argv)
    rounds, requests, seam_n = (3, 50, 2000) if args.quick else (1, 3, 20) if args.smoke else (args.rounds, args.requests, 20000)
    fake = FakeProcess(max_seconds=600)
    try:
        samples = asyncio.run(_run(fake.info["urls"]["openai"], fake.info["api_key"], rounds, requests, 30.0, seam_n))
    finally:
        fake.close()
    print(f"client CPU per request, median of {rounds} interleaved rounds of {requests} calls ({MODEL}, loopback fake)")
    print(f"{'call':<8} {'telemetry':<17} {'CPU/request':>12} {'vs off':>8}")
    for stream in (False, True):
        base = statistics.median(samples[("off", stream)])
        for m in MODES:
            med = statistics.median(samples[(m, stream)])
            print(f"{'stream' if stream else 'chat':<8} {m:<17} {med * 1e6:>10.0f}µs {med / base:>8.3f}")
    base = statistics.median(samples[("off", False)])
    off_seam = samples[("off", None)][0]  # type: ignore[index]
    print("\nthe observer seam alone (start + end of a chat call, in process), added to 'off'")
    print(f"{'telemetry':<17} {'per call':>10} {'of a chat request':>18}")
    for m in MODES:
        extra = samples[(m, None)][0] - off_seam  # type: ignore[index]
        print(f"{m:<17} {extra * 1e6:>8.2f}µs {extra / base:>17.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
