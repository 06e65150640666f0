"""Fan-out: ``chat_many`` against the naive ``gather`` of every call, same fake, same run.

``python -m benchmarks.batch_bench [N]`` starts the fakes in their own process, then runs each
variant in a fresh client process (so peak RSS is that variant's alone) against it:

* ``gather`` (baseline): one task per request, all created up front, an ``asyncio.Semaphore(32)``
  letting 32 at a time through — what a caller writes without ``chat_many``;
* ``chat_many``: the requests from a generator, ``concurrency=32``.

Each row (mean of two runs, in ABBA order): requests/s and peak RSS (``ru_maxrss``), and both as a
ratio to the baseline (requests/s ratio > 1 is faster; RSS ratio < 1 is smaller). A second table
times the fan-out machinery alone: the same two variants over a canned in-process transport (no
sockets, no fake), where the shared machine's noise is smallest. ``BENCH_QUICK=1`` runs 2,000
requests instead of 10,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

CONCURRENCY = 32
MODEL = "openai:gpt-4o-mini"


async def _variant(name: str, n: int, base_url: str, api_key: str) -> dict[str, Any]:
    from returns.result import Success

    from interlingua.effects import Client, LlmConfig

    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=base_url, api_key=api_key)
    async with Client(cfg) as client:
        await client.chat(MODEL, "warm up")
        start = time.perf_counter()
        if name == "gather":
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(i: int) -> Any:
                async with gate:
                    return await client.chat(MODEL, f"request {i}")

            results = await asyncio.gather(*(one(i) for i in range(n)))
        else:
            results = await client.chat_many(MODEL, (f"request {i}" for i in range(n)), concurrency=CONCURRENCY)
        elapsed = time.perf_counter() - start
    ok = sum(isinstance(r, Success) for r in results)
    return {"name": name, "n": n, "ok": ok, "rps": n / elapsed,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


_CANNED = (b'{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,'
           b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
           b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')


class _CannedTransport:
    async def send(self, request: Any, *, timeouts: Any, max_bytes: int) -> Any:
        from returns.result import Success

        from interlingua.core import HttpResponse

        await asyncio.sleep(0)
        return Success(HttpResponse(200, body=_CANNED))

    def stream(self, request: Any, *, timeouts: Any, max_bytes: int) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        return None


async def _machinery(n: int) -> list[tuple[str, float]]:
    from interlingua.effects import Client, LlmConfig

    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url="http://127.0.0.1:9/v1", api_key="k")
    rates: dict[str, list[float]] = {"gather": [], "chat_many": []}
    async with Client(cfg, transport=_CannedTransport()) as client:
        for name in ("gather", "chat_many", "chat_many", "gather"):
            start = time.perf_counter()
            if name == "gather":
                gate = asyncio.Semaphore(CONCURRENCY)

                async def one(i: int, gate: asyncio.Semaphore = gate) -> Any:
                    async with gate:
                        return await client.chat(MODEL, f"request {i}")

                await asyncio.gather(*(one(i) for i in range(n)))
            else:
                await client.chat_many(MODEL, (f"request {i}" for i in range(n)), concurrency=CONCURRENCY)
            rates[name].append(n / (time.perf_counter() - start))
    return [(k, sum(v) / len(v)) for k, v in rates.items()]


def _child(name: str, n: int, info: dict[str, Any]) -> dict[str, Any]:
    spec = json.dumps({"variant": name, "n": n, "base_url": info["urls"]["openai"], "api_key": info["api_key"]})
    r = subprocess.run([sys.executable, "-m", "benchmarks.batch_bench", "--child", spec], capture_output=True,
                       text=True, timeout=900, env={**os.environ})
    if r.returncode != 0:
        raise RuntimeError(f"{name} exited {r.returncode}: {r.stderr.strip()[-600:]}")
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        spec = json.loads(argv[1])
        print(json.dumps(asyncio.run(_variant(spec["variant"], spec["n"], spec["base_url"], spec["api_key"]))))
        return 0
    from ._run import FakeProcess

    n = int(argv[0]) if argv else (2_000 if os.environ.get("BENCH_QUICK") else 10_000)
    fake = FakeProcess(max_seconds=1800)
    try:
        # ABBA order, so a load change on the shared machine weighs on both alike; the mean of two each
        runs = [_child(name, n, fake.info) for name in ("gather", "chat_many", "chat_many", "gather")]
    finally:
        fake.close()
    rows = []
    for name in ("gather", "chat_many"):
        mine = [r for r in runs if r["name"] == name]
        rows.append({"name": name, "n": n, "ok": min(r["ok"] for r in mine),
                     "rps": sum(r["rps"] for r in mine) / 2, "peak_rss_mb": sum(r["peak_rss_mb"] for r in mine) / 2})
    base = rows[0]
    print(f"{'variant':<12} {'requests':>9} {'ok':>7} {'req/s':>9} {'peak RSS MB':>12} {'req/s ratio':>12} {'RSS ratio':>10}")
    for r in rows:
        print(f"{r['name']:<12} {r['n']:>9,} {r['ok']:>7,} {r['rps']:>9,.0f} {r['peak_rss_mb']:>12,.1f} "
              f"{r['rps'] / base['rps']:>12.2f} {r['peak_rss_mb'] / base['peak_rss_mb']:>10.2f}")
    machinery = asyncio.run(_machinery(n))
    print(f"\nfan-out machinery alone (canned transport, {n:,} requests):")
    print(f"{'variant':<12} {'req/s':>9} {'ratio':>7}")
    for name, rate in machinery:
        print(f"{name:<12} {rate:>9,.0f} {rate / machinery[0][1]:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
