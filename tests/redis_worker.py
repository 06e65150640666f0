"""One worker process of the multi-worker acceptance tests (``python -m tests.redis_worker JSON``).

It builds a real :class:`~interlingua.effects.Client` on a :class:`RedisStore`, prints ``ready``,
waits for the test's start signal (a Redis list, so that every worker starts together), runs its
calls and prints one JSON line: ``[[seconds since start, "ok" or the error kind], ...]``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from returns.result import Success

from interlingua.core import Message
from interlingua.core.budget import Limits, RateLimit
from interlingua.core.catalog import default_catalog
from interlingua.core.tokens import count_tokens
from interlingua.effects import Client, LlmConfig, RedisStore

MODEL = "openai:gpt-4o-mini"


def config(spec: dict[str, Any]) -> LlmConfig:
    rates = tuple(RateLimit(provider="openai", requests_per_minute=r) for r in [spec.get("rpm")] if r)
    limits = Limits(
        max_cost=Decimal(spec["max_cost"]) if spec.get("max_cost") else None,
        rate_limits=rates,
        adapt_to_headers=False,
    )
    cfg = LlmConfig(retry_enabled=False, circuit_breaker_threshold=spec.get("threshold", 5),
                    circuit_breaker_cooldown=60.0, limits=limits)
    return cfg.with_provider("openai", base_url=spec["fake_url"], api_key=spec["api_key"])


async def main(spec: dict[str, Any]) -> None:
    store = RedisStore.from_url(spec["redis_url"], lease=spec.get("lease", 60.0), clock_scale=spec.get("scale", 1.0),
                                timeout=spec.get("timeout", 2.0), retry_interval=0.2)
    outcomes: list[tuple[float, str]] = []
    async with Client(config(spec), store=store) as client:
        # warm up what a first call loads (tokenizer, catalog, connections), sending nothing
        client.prepare(MODEL, "hi")
        count_tokens(MODEL, (Message.user("hi"),), ())
        default_catalog()
        await store.redis.ping()
        signal = aioredis.from_url(spec["redis_url"])
        print("ready", flush=True)
        await signal.blpop([spec["go"]], timeout=60)
        await signal.aclose()
        start = time.monotonic()
        until = start + spec.get("duration", 3600.0)
        left = spec.get("calls", 1)

        async def caller() -> None:
            nonlocal left
            while left > 0 and time.monotonic() < until:
                left -= 1
                r = await client.chat(MODEL, "hi", max_tokens=16)
                outcomes.append((time.monotonic() - start, "ok" if isinstance(r, Success) else r.failure().kind.value))
                if spec.get("pause"):
                    await asyncio.sleep(spec["pause"])

        await asyncio.gather(*(caller() for _ in range(spec.get("concurrency", 1))))
    await store.aclose()
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
