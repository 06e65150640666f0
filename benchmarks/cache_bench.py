"""Response-cache cost: CPU per call of a memory-cache hit against an uncached request to the fake,
same run, same client.

``python -m benchmarks.cache_bench [--calls N]`` starts the fakes in their own process (so only the
client's CPU is measured, with ``time.process_time``), then times ``N`` uncached chat calls
(``cache=False``) and ``N`` cache hits of one request, and prints one Markdown row with both and
their ratio. The issue's target is a hit at ≤ 0.2x the CPU of an uncached request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from interlingua.effects import Client, LlmConfig
from interlingua.effects.cache import MemoryCache


async def _cpu_per_call(call: Callable[[], Awaitable[object]], n: int) -> float:
    for _ in range(min(20, n)):  # warm up: connections, tokenizer, resolved-model memo
        await call()
    start = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - start) / n


async def _run(urls: dict[str, str], api_key: str, calls: int) -> tuple[float, float]:
    cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=urls["openai"], api_key=api_key)
    async with Client(cfg, cache=MemoryCache(max_entries=1000)) as client:
        prompt = "Say hello to the benchmark."

        async def uncached() -> object:
            return (await client.chat("openai:gpt-4o-mini", prompt, cache=False)).unwrap()

        async def hit() -> object:
            r = (await client.chat("openai:gpt-4o-mini", prompt)).unwrap()
            assert r.provider_metadata.get("cache") == "hit"
            return r

        await client.chat("openai:gpt-4o-mini", prompt)  # store the entry
        return await _cpu_per_call(uncached, calls), await _cpu_per_call(hit, calls)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=500)
    args = p.parse_args()
    fake = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._fakeproc", "--max-seconds", "300"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert fake.stdout is not None
        info = json.loads(fake.stdout.readline())
        uncached, hit = asyncio.run(_run(info["urls"], info["api_key"], args.calls))
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(10)
    print("| call | CPU per call | ratio |")
    print("|---|---|---|")
    print(f"| uncached request to the fake (baseline) | {uncached * 1e6:,.0f} µs | 1x |")
    print(f"| memory-cache hit | {hit * 1e6:,.1f} µs | {hit / uncached:.3f}x |")


if __name__ == "__main__":
    main()
