"""The response cache in a client, over real loopback sockets: the fakes, real SQLite files shared by
processes, a real redis-server."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as aioredis
from returns.result import Failure, Success

from interlingua.core import ChatResponse
from interlingua.core.budget import Limits
from interlingua.core.ratelimit import RateLimit
from interlingua.effects import Client, Env, LlmConfig
from interlingua.effects.cache import MemoryCache, RedisCache, SqliteCache, cache_from_url
from interlingua.effects.observe import CallInfo, CallTrace
from interlingua.fakes import FakeServer

from .helpers import config_for
from .redis_server import RedisServer

MODEL = "openai:gpt-4o-mini"


class Clock:
    """A settable clock (seconds) whose sleep advances it: TTLs and rate limits without waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def _plain(r: ChatResponse) -> ChatResponse:
    """The answer without the per-call marks (attempts, cache)."""
    meta = {k: v for k, v in r.provider_metadata.items() if k not in ("attempts", "cache")}
    return msgspec.structs.replace(r, provider_metadata=meta)


@pytest.fixture
async def cached(fake: FakeServer) -> AsyncIterator[Client]:
    async with Client(config_for(fake, retry_enabled=False), cache=MemoryCache(max_entries=100)) as c:
        yield c


async def test_hit_miss_and_bypass(cached: Client, fake: FakeServer) -> None:
    """The second identical call is a marked hit with no request; cache=False neither reads nor writes."""
    first = (await cached.chat(MODEL, "hello cache")).unwrap()
    second = (await cached.chat(MODEL, "hello cache")).unwrap()
    assert fake.attempts("openai") == 1
    assert "cache" not in first.provider_metadata and second.provider_metadata["cache"] == "hit"
    assert second.provider_metadata["attempts"] == 0 and _plain(second) == _plain(first)

    bypass = (await cached.chat(MODEL, "hello cache", cache=False)).unwrap()
    assert fake.attempts("openai") == 2 and "cache" not in bypass.provider_metadata
    await cached.chat(MODEL, "not written", cache=False)
    await cached.chat(MODEL, "not written")
    assert fake.attempts("openai") == 4  # the bypassed call stored nothing

    other = (await cached.chat(MODEL, "hello cache", temperature=0.5)).unwrap()
    assert fake.attempts("openai") == 5 and "cache" not in other.provider_metadata


async def test_hit_costs_nothing_and_takes_no_rate_limit_turn(fake: FakeServer) -> None:
    """A hit adds $0 to total_cost and never waits for the limiter (the lookup is before admission)."""
    clock = Clock()
    limits = Limits(max_cost=Decimal("1"), rate_limits=(RateLimit(provider="openai", requests_per_minute=1),))
    env = Env(clock=clock, wall=clock, sleep=clock.sleep)
    async with Client(config_for(fake, retry_enabled=False, limits=limits), env=env, cache=MemoryCache()) as c:
        (await c.chat(MODEL, "priced")).unwrap()
        spent = c.total_cost
        assert spent > 0 and clock.slept == []
        hit = (await c.chat(MODEL, "priced")).unwrap()
        assert hit.provider_metadata["cache"] == "hit"
        assert c.total_cost == spent and clock.slept == [] and fake.attempts("openai") == 1
        (await c.chat(MODEL, "priced", cache=False)).unwrap()  # a real request does wait its turn
        assert clock.slept and c.total_cost > spent


async def test_ttl_expiry_with_injected_clock(fake: FakeServer) -> None:
    """An entry lives its TTL on the injected clock; a call's cache_ttl overrides the store's."""
    clock = Clock()
    async with Client(config_for(fake, retry_enabled=False), cache=MemoryCache(ttl=60, clock=clock)) as c:
        await c.chat(MODEL, "ttl")
        clock.now += 59
        assert (await c.chat(MODEL, "ttl")).unwrap().provider_metadata.get("cache") == "hit"
        clock.now += 2
        assert "cache" not in (await c.chat(MODEL, "ttl")).unwrap().provider_metadata
        assert fake.attempts("openai") == 2

        await c.chat(MODEL, "short", cache_ttl=5)
        clock.now += 6
        assert "cache" not in (await c.chat(MODEL, "short")).unwrap().provider_metadata
        assert fake.attempts("openai") == 4


async def test_single_flight_hundred_identical_calls(cached: Client, fake: FakeServer) -> None:
    """100 identical concurrent calls make one request at the fake; every caller gets the answer."""
    fake.fail_next("openai", "slow=0.3")  # the one request is still in flight while the others arrive
    results = await asyncio.gather(*(cached.chat(MODEL, "together") for _ in range(100)))
    assert fake.attempts("openai") == 1
    answers = [r.unwrap() for r in results]
    assert len({a.text for a in answers}) == 1 and all(_plain(a) == _plain(answers[0]) for a in answers)
    assert sum(a.provider_metadata.get("cache") == "hit" for a in answers) == 99


async def test_single_flight_survives_the_leader_being_cancelled(cached: Client, fake: FakeServer) -> None:
    """When the call everyone waits on is cancelled, the waiters go on (one of them sends) and get the answer."""
    fake.fail_next("openai", "slow=0.5")
    leader = asyncio.create_task(cached.chat(MODEL, "lead"))
    await asyncio.sleep(0.1)  # the leader's request is in flight at the fake
    followers = [asyncio.create_task(cached.chat(MODEL, "lead")) for _ in range(5)]
    await asyncio.sleep(0.05)
    leader.cancel()
    results = await asyncio.wait_for(asyncio.gather(*followers), 10)
    assert all(type(r) is Success for r in results) and leader.cancelled()
    assert fake.attempts("openai") == 2  # the cancelled request and the one a follower sent
    assert sum("cache" not in r.unwrap().provider_metadata for r in results) == 1


async def test_single_flight_shares_a_failure_and_never_caches_it(cached: Client, fake: FakeServer) -> None:
    """A failure reaches every waiting caller once, and is not stored: the next call asks again."""
    fake.fail_next("openai", "500")  # the followers register before the leader's request leaves
    results = await asyncio.gather(*(cached.chat(MODEL, "doomed") for _ in range(20)))
    assert fake.attempts("openai") == 1
    assert all(type(r) is Failure and r.failure().status == 500 for r in results)
    again = await cached.chat(MODEL, "doomed")
    assert type(again) is Success and fake.attempts("openai") == 2


async def test_stream_is_stored_whole_and_replayed(cached: Client, fake: FakeServer) -> None:
    """A completed stream is stored; a second stream replays chunks that fold to the same answer,
    and a chat call hits the same entry."""
    live = (await cached.stream_response(MODEL, "stream me please")).unwrap()
    assert fake.attempts("openai") == 1
    replay_chunks = [item.unwrap() async for item in cached.stream(MODEL, "stream me please")]
    assert fake.attempts("openai") == 1
    first_meta = replay_chunks[0].provider_metadata or {}
    assert (first_meta["cache"], first_meta["attempts"]) == ("hit", 0)
    replayed = (await cached.stream_response(MODEL, "stream me please")).unwrap()
    assert replayed.provider_metadata["cache"] == "hit" and _plain(replayed) == _plain(live)
    chat = (await cached.chat(MODEL, "stream me please")).unwrap()
    assert chat.provider_metadata["cache"] == "hit" and _plain(chat) == _plain(live)
    assert fake.attempts("openai") == 1


async def test_cut_or_abandoned_stream_is_not_stored(cached: Client, fake: FakeServer) -> None:
    """A stream cut by the server, or left by its consumer, stores nothing."""
    fake.fail_next("openai", "cut=2")
    cut = [item async for item in cached.stream(MODEL, "one two three four five six")]
    assert type(cut[-1]) is Failure
    stream = cached.stream(MODEL, "one two three four five six")
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert fake.attempts("openai") == 2
    whole = (await cached.stream_response(MODEL, "one two three four five six")).unwrap()
    assert "cache" not in whole.provider_metadata and fake.attempts("openai") == 3


async def test_config_names_the_store(fake: FakeServer, tmp_path: Path) -> None:
    """INTERLINGUA_CACHE / LlmConfig.cache builds the store when the client is given none."""
    cfg = LlmConfig.from_env({"INTERLINGUA_CACHE": f"sqlite:///{tmp_path}/c.db"}, retry_enabled=False)
    assert cfg.cache == f"sqlite:///{tmp_path}/c.db"
    for spec in fake.specs:
        cfg = cfg.with_provider(spec.name, base_url=fake.url_for(spec.name), api_key=fake.api_key)
    async with Client(cfg) as c:
        await c.chat(MODEL, "env")
        assert (await c.chat(MODEL, "env")).unwrap().provider_metadata["cache"] == "hit"
    assert (tmp_path / "c.db").exists() and fake.attempts("openai") == 1
    assert isinstance(cache_from_url("memory"), MemoryCache)
    with pytest.raises(ValueError, match="unknown cache"):
        cache_from_url("memcached://x")


# -- SQLite ----------------------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from interlingua.effects import Client, LlmConfig
    from interlingua.effects.cache import SqliteCache

    async def main(path, url, key):
        cache = SqliteCache(path)
        cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=url, api_key=key)
        async with Client(cfg, cache=cache) as c:
            r = (await c.chat("openai:gpt-4o-mini", "shared on disk")).unwrap()
            print(r.provider_metadata.get("cache", "miss"), r.text)
            await asyncio.gather(*(cache.set(f"child-{i}", b"v", None) for i in range(50)))
        await cache.close()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_sqlite_shared_by_two_processes(fake: FakeServer, tmp_path: Path) -> None:
    """Another process opening the same file hits what this one stored, and both write at once."""
    path = str(tmp_path / "shared.db")
    cache = SqliteCache(path)
    try:
        async with Client(config_for(fake, retry_enabled=False), cache=cache) as c:
            first = (await c.chat(MODEL, "shared on disk")).unwrap()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHILD, path, fake.url_for("openai"), fake.api_key, stdout=asyncio.subprocess.PIPE
        )
        await asyncio.gather(*(cache.set(f"parent-{i}", b"v", None) for i in range(50)))
        out, _ = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0
        assert out.decode().strip() == f"hit {first.text}"
        assert fake.attempts("openai") == 1
        for who in ("parent", "child"):
            assert all([await cache.get(f"{who}-{i}") == b"v" for i in range(50)])
    finally:
        await cache.close()


async def test_sqlite_corrupted_row_is_a_miss_and_replaced(fake: FakeServer, tmp_path: Path) -> None:
    """A corrupted or foreign row is a miss; the fresh answer overwrites it."""
    path = str(tmp_path / "c.db")
    cache = SqliteCache(path)
    try:
        async with Client(config_for(fake, retry_enabled=False), cache=cache) as c:
            await c.chat(MODEL, "fragile")
            with sqlite3.connect(path) as db:
                db.execute("UPDATE interlingua_cache SET value = ?", (b'{"v":1,"key":"trunc',))
            assert "cache" not in (await c.chat(MODEL, "fragile")).unwrap().provider_metadata
            assert (await c.chat(MODEL, "fragile")).unwrap().provider_metadata["cache"] == "hit"
            with sqlite3.connect(path) as db:
                db.execute("UPDATE interlingua_cache SET value = 'text, not bytes'")
            assert "cache" not in (await c.chat(MODEL, "fragile")).unwrap().provider_metadata
            assert fake.attempts("openai") == 3
    finally:
        await cache.close()


async def test_sqlite_ttl_and_lru_cap(tmp_path: Path) -> None:
    """Entries expire on the injected clock, and past max_entries the least recently used go first."""
    clock = Clock()
    cache = SqliteCache(str(tmp_path / "lru.db"), max_entries=3, clock=clock)
    try:
        await cache.set("a", b"1", 10)
        clock.now += 11
        assert await cache.get("a") is None
        for k in "bcd":
            clock.now += 1
            await cache.set(k, k.encode(), None)
        clock.now += 1
        assert await cache.get("b") == b"b"  # b is now the most recently used
        clock.now += 1
        await cache.set("e", b"e", None)
        assert [await cache.get(k) for k in "bcde"] == [b"b", None, b"d", b"e"]
    finally:
        await cache.close()


async def test_sqlite_byte_cap_evicts_least_recently_used(tmp_path: Path) -> None:
    """Past max_bytes of values, the least recently used entries go until the rest fit."""
    clock = Clock()
    cache = SqliteCache(str(tmp_path / "bytes.db"), max_bytes=3000, clock=clock)
    try:
        for k in "abcd":
            clock.now += 1
            await cache.set(k, k.encode() * 1000, None)
        kept = [k for k in "abcd" if await cache.get(k) is not None]
        assert kept[-1] == "d" and "a" not in kept and len(kept) * 1000 <= 3000
    finally:
        await cache.close()


async def test_memory_lru_cap() -> None:
    """The memory store keeps at most max_entries, evicting the least recently used."""
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", None)
    await cache.set("b", b"2", None)
    assert await cache.get("a") == b"1"
    await cache.set("c", b"3", None)
    assert (await cache.get("a"), await cache.get("b"), await cache.get("c")) == (b"1", None, b"3")


# -- Redis -----------------------------------------------------------------------------------------


async def test_redis_shared_by_two_clients(fake: FakeServer, redis_url: str) -> None:
    """Two clients (one from a URL, one handed an existing redis client) share entries."""
    shared = aioredis.from_url(redis_url)
    one, two = RedisCache(redis_url, ttl=60), RedisCache(shared)
    try:
        async with Client(config_for(fake, retry_enabled=False), cache=one) as a, Client(config_for(fake, retry_enabled=False), cache=two) as b:
            first = (await a.chat(MODEL, "across workers")).unwrap()
            second = (await b.chat(MODEL, "across workers")).unwrap()
        assert second.provider_metadata["cache"] == "hit" and _plain(second) == _plain(first)
        assert fake.attempts("openai") == 1
        keys = await shared.keys("interlingua:cache:*")
        assert len(keys) == 1 and 0 < await shared.pttl(keys[0]) <= 60_000
        await shared.set(keys[0], b"written by another program")  # a foreign value: a miss, then replaced
        async with Client(config_for(fake, retry_enabled=False), cache=two) as b:
            assert "cache" not in (await b.chat(MODEL, "across workers")).unwrap().provider_metadata
            assert (await b.chat(MODEL, "across workers")).unwrap().provider_metadata["cache"] == "hit"
        assert fake.attempts("openai") == 2
    finally:
        await one.close()
        await two.close()
        await shared.aclose()
    assert "secret" not in repr(RedisCache("redis://:secret@127.0.0.1:1/0"))


async def test_redis_outage_goes_on_uncached_with_one_warning(fake: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    """Redis down: calls succeed uncached and one warning is logged; when it returns, caching resumes."""
    server = RedisServer().start()
    cache = RedisCache(server.url, timeout=0.5)
    try:
        async with Client(config_for(fake, retry_enabled=False), cache=cache) as c:
            await c.chat(MODEL, "outage")
            server.stop()
            with caplog.at_level(logging.WARNING, logger="interlingua"):
                for _ in range(3):
                    r = await c.chat(MODEL, "outage")
                    assert type(r) is Success and "cache" not in r.unwrap().provider_metadata
            warnings = [rec for rec in caplog.records if "unavailable" in rec.getMessage()]
            assert len(warnings) == 1 and fake.attempts("openai") == 4
            server.start()
            await c.chat(MODEL, "back")
            assert (await c.chat(MODEL, "back")).unwrap().provider_metadata["cache"] == "hit"
    finally:
        await cache.close()
        server.close()


class _Recorder(CallTrace):
    """A trace that keeps what each call ended with."""

    def __init__(self, ended: list[tuple[object, Decimal | None]]) -> None:
        self._ended = ended

    def ended(self, result: object, cost: Decimal | None) -> None:
        self._ended.append((result, cost))


class _Observer:
    def __init__(self) -> None:
        self.ended: list[tuple[object, Decimal | None]] = []

    def call_started(self, info: CallInfo) -> CallTrace:
        return _Recorder(self.ended)


async def test_every_call_reaches_the_observer_and_a_hit_costs_zero(fake: FakeServer) -> None:
    """Leader, followers and later hits each end a trace; the shared and cached answers cost $0 there."""
    observer = _Observer()
    async with Client(config_for(fake, retry_enabled=False), cache=MemoryCache(), observer=observer) as c:
        await asyncio.gather(*(c.chat(MODEL, "observed") for _ in range(3)))
        await c.chat(MODEL, "observed")
        replayed = (await c.stream_response(MODEL, "observed")).unwrap()  # a replay has its own trace too
    costs = [cost for _, cost in observer.ended]
    assert len(costs) == 5 and fake.attempts("openai") == 1 and replayed.provider_metadata["cache"] == "hit"
    assert costs.count(Decimal(0)) == 4 and all(c is not None and c > 0 for c in costs if c != Decimal(0))


async def test_a_fallback_answer_is_stored_under_the_fallback_model(fake: FakeServer) -> None:
    """When the primary fails over, the answer is cached as the fallback model's, never the primary's."""
    async with Client(config_for(fake, retry_enabled=False), cache=MemoryCache()) as c:
        fake.fail_next("openai", "500")
        first = (await c.chat(MODEL, "fall back", fallbacks=["openai:gpt-4o"])).unwrap()
        assert first.model.startswith("gpt-4o") and first.provider_metadata["failed_over_from"] == (MODEL,)
        direct = (await c.chat("openai:gpt-4o", "fall back")).unwrap()
        assert direct.provider_metadata["cache"] == "hit"
        primary = (await c.chat(MODEL, "fall back")).unwrap()
        assert "cache" not in primary.provider_metadata
        assert fake.attempts("openai") == 3


def test_cache_benchmark_runs() -> None:
    """`python -m benchmarks.cache_bench` runs end to end and prints its row (no timing asserted)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "benchmarks.cache_bench", "--calls", "5"], cwd=root,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| memory-cache hit |" in r.stdout and "| uncached request to the fake (baseline) |" in r.stdout
