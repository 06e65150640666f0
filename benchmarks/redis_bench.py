"""Shared state in Redis vs this process's own: CPU and latency per request, same run.

``python -m benchmarks.redis_bench`` starts the fakes in their own process and a throw-away
``redis-server`` on a free loopback port, then sends the same sequential chat calls through two
clients whose config caps spending and rate (so the budget, the limiter and the breaker all work
on every call): one on the in-process state (the default), one on a :class:`RedisStore`. It prints
per-request client CPU, Redis server CPU and median/p90 latency, and each as a ratio to the
in-process row. ``BENCH_QUICK=1`` makes it shorter.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

from returns.result import Failure

from interlingua.core.budget import Limits, RateLimit
from interlingua.effects import Client, LlmConfig, RedisStore

from ._run import FakeProcess

MODEL = "openai:gpt-4o-mini"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(pid: int) -> float:
    """utime + stime of a process, seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(cfg: LlmConfig, store: RedisStore | None, n: int) -> tuple[float, list[float]]:
    async with Client(cfg, store=store) as client:
        for _ in range(20):  # warm up: connections, tokenizer, scripts
            await client.chat(MODEL, "hi", max_tokens=16)
        latencies = []
        cpu = time.process_time()
        for _ in range(n):
            began = time.perf_counter()
            r = await client.chat(MODEL, "hi", max_tokens=16)
            latencies.append(time.perf_counter() - began)
            if isinstance(r, Failure):
                raise SystemExit(f"a benchmark call failed: {r.failure().message}")
        return (time.process_time() - cpu) / n, latencies


def main() -> None:
    n = int(os.environ.get("BENCH_REDIS_CALLS") or (300 if os.environ.get("BENCH_QUICK") else 1500))
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server is not installed (bash .ci/setup installs it); skipped")
        return
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="interlingua-bench-redis-")
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fake = FakeProcess(max_seconds=600)
    try:
        time.sleep(0.3)
        limits = Limits(max_cost=Decimal(1000), rate_limits=(RateLimit(provider="openai", requests_per_minute=10**7),))
        cfg = LlmConfig(limits=limits).with_provider("openai", base_url=fake.info["urls"]["openai"], api_key=fake.info["api_key"])
        local_cpu, local_lat = asyncio.run(_run(cfg, None, n))

        async def shared() -> tuple[float, list[float], float]:
            store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
            before = _cpu(server.pid)
            try:
                cpu, lat = await _run(cfg, store, n)
            finally:
                await store.aclose()
            return cpu, lat, (_cpu(server.pid) - before) / (n + 20)

        redis_cpu, redis_lat, server_cpu = asyncio.run(shared())
    finally:
        fake.close()
        server.terminate()
        server.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)

    def p(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=100)[int(q) - 1]

    base_p50, base_p90 = statistics.median(local_lat), p(local_lat, 90)
    print(f"{n} sequential chat calls each, budget + rate limit + breaker on (python {sys.version.split()[0]})")
    print(f"{'store':<12} {'client CPU/req':>15} {'redis CPU/req':>14} {'p50 latency':>12} {'p90 latency':>12}")
    print(f"{'in-process':<12} {'1x':>15} {'-':>14} {'1x':>12} {'1x':>12}   (baseline: {local_cpu * 1e6:.0f} us CPU, "
          f"p50 {base_p50 * 1e3:.2f} ms, p90 {base_p90 * 1e3:.2f} ms)")
    print(f"{'redis':<12} {redis_cpu / local_cpu:>14.2f}x {server_cpu / local_cpu:>13.2f}x "
          f"{statistics.median(redis_lat) / base_p50:>11.2f}x {p(redis_lat, 90) / base_p90:>11.2f}x")


if __name__ == "__main__":
    main()
