"""The response cache and the shared state use one Redis connection pool (issues 22 and 23)."""

from __future__ import annotations

from returns.result import Success

from interlingua.effects import Client
from interlingua.effects.cache import CacheLayer, RedisCache
from interlingua.effects.redis_store import RedisStore
from interlingua.fakes import FakeServer

from .helpers import config_for


async def test_cache_named_redis_shares_the_stores_pool(fake: FakeServer, redis_url: str) -> None:
    """`cache="redis"` (or the store's own URL) caches through the RedisStore's pool, under its prefix;
    a second client on the same Redis gets the hit without a request reaching the fake."""
    for n, spec in enumerate(("redis", redis_url)):
        store_a = RedisStore.from_url(redis_url, prefix="app1:")
        store_b = RedisStore.from_url(redis_url, prefix="app1:")
        async with Client(config_for(fake, retry_enabled=False, cache=spec), store=store_a) as a, \
                Client(config_for(fake, retry_enabled=False, cache=spec), store=store_b) as b:
            layer = a._cache
            assert isinstance(layer, CacheLayer) and isinstance(layer.backend, RedisCache)
            assert layer.backend.prefix == "app1:cache:"
            assert layer.backend._redis is store_a.redis  # one pool, not a second connection
            before = fake.attempts("openai")
            first = await a.chat("openai:gpt-4o-mini", f"shared cache {n}")
            second = await b.chat("openai:gpt-4o-mini", f"shared cache {n}")
            assert isinstance(first, Success) and isinstance(second, Success)
            assert second.unwrap().provider_metadata.get("cache") == "hit"
            assert fake.attempts("openai") == before + 1
        await store_a.aclose()
        await store_b.aclose()
