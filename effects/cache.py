"""The response cache: where entries live (memory, SQLite, Redis) and how a call meets them.

``Client(config, cache=MemoryCache(max_entries=10_000, ttl=3600))`` answers a request it has
answered before from the cache: no HTTP request, no rate-limit turn, $0 against budgets and
``total_cost``, and ``provider_metadata["cache"] == "hit"`` on the response (or the first chunk
of a stream). Per call, ``cache=False`` neither reads nor writes and ``cache_ttl=`` overrides the
store's TTL. ``LlmConfig(cache="memory" | "sqlite:///path" | "redis://…")`` (or the environment
variable ``INTERLINGUA_CACHE``) names a default store.

Which store:

* :class:`MemoryCache` — one process, LRU with an entry cap; the fastest (a hit costs a dict
  lookup and one msgspec decode).
* :class:`SqliteCache` — one machine: survives restarts (notebooks, evaluation loops, CI re-runs)
  and is shared by every process that opens the same file (WAL mode), size-capped with LRU
  eviction. stdlib ``sqlite3`` on one worker thread, never on the event loop.
* :class:`RedisCache` — many workers and machines share one cache (redis-py's asyncio client).
  It accepts a URL, a ``redis.asyncio.Redis`` client or a ``ConnectionPool``, so the shared-state
  store can hand it the connection pool it already holds. Redis unreachable: the call goes on
  uncached, with one warning per outage.

What is never stored: errors (a failure is shared with the identical calls waiting on it, then
forgotten: the next call asks again), and a stream that did not complete whole (cut, failed, or
abandoned by its consumer: its fold is not the answer). The cache is a step of the client's loop,
asked per model before admission: when a call fails over, the fallback model's answer is stored
under the fallback's own key (and a cached answer of the fallback serves the call), never under
the key of the model that failed.

Single-flight: while a call for a key is in flight on this client, identical calls wait for it
instead of sending their own request (streams are not coalesced: each starts its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import ChatChunk, ChatResponse, LlmError
from interlingua.core.cache import decode_entry, encode_entry, request_key
from interlingua.core.fold import StreamFold
from interlingua.core.prepare import Prepared

from .events import LOGGER

if TYPE_CHECKING:  # redis is the optional extra `redis`
    from redis.asyncio import ConnectionPool, Redis

__all__ = ["Cache", "CacheLayer", "MemoryCache", "RedisCache", "SqliteCache", "cache_from_url", "cache_layer", "key_of"]

HIT = "hit"


@runtime_checkable
class Cache(Protocol):
    """A store of opaque entries. ``get`` and ``set`` never raise for an unavailable backend: a
    store that cannot answer is a miss (and says so once in the log)."""

    ttl: float | None
    """Seconds an entry lives when a call names no ``cache_ttl`` (``None``: until evicted)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float | None) -> None: ...

    async def close(self) -> None: ...


class _Outage:
    """Warn once when a store stops answering and once when it answers again (not on every call)."""

    __slots__ = ("down", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            LOGGER.warning("%s unavailable, calls go on uncached: %s: %s", self.name, type(exc).__name__, exc)

    def ok(self) -> None:
        if self.down:
            self.down = False
            LOGGER.warning("%s available again", self.name)


# -- memory -----------------------------------------------------------------------------------------


class MemoryCache:
    """An in-process LRU of at most ``max_entries`` entries, each living ``ttl`` seconds
    (``None``: until evicted). ``clock`` is injectable for tests (monotonic seconds)."""

    def __init__(self, max_entries: int = 10_000, ttl: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryCache(max_entries={self.max_entries}, ttl={self.ttl}, entries={len(self._entries)})"

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self._entries[key] = (value, None if ttl is None else self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


# -- SQLite -----------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS interlingua_cache (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL,
    used_at REAL NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS interlingua_cache_used ON interlingua_cache (used_at);
"""


class SqliteCache:
    """A cache in one SQLite file, shared by every process on the machine that opens it.

    WAL mode lets readers and one writer work at once across processes; ``busy_timeout`` makes a
    writer wait for another's lock instead of failing. At most ``max_entries`` entries and
    ``max_bytes`` of values are kept; past either, the least recently used go first. Every
    statement runs on one worker thread (never on the event loop). ``clock`` is Unix time (the
    file outlives processes, so a monotonic clock would mean nothing across them).
    """

    def __init__(
        self,
        path: str,
        *,
        ttl: float | None = None,
        max_entries: int = 100_000,
        max_bytes: int = 1 << 30,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="interlingua-sqlite-cache")
        self._outage = _Outage(f"SQLite cache {path}")

    def __repr__(self) -> str:
        return f"SqliteCache({self.path!r}, ttl={self.ttl}, max_entries={self.max_entries})"

    # These run on the worker thread only.

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            # isolation_level=None: autocommit; each statement is its own transaction unless BEGIN
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
                conn.executescript(_SCHEMA)
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _get(self, key: str) -> bytes | None:
        db = self._db()
        row = db.execute("SELECT value, expires_at FROM interlingua_cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value, expires = row
        now = self._clock()
        if expires is not None and now >= expires:
            db.execute("DELETE FROM interlingua_cache WHERE key = ? AND expires_at = ?", (key, expires))
            return None
        db.execute("UPDATE interlingua_cache SET used_at = ? WHERE key = ?", (now, key))
        return value if isinstance(value, bytes) else None  # a foreign TEXT/INTEGER value is a miss

    def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        db = self._db()
        now = self._clock()
        expires = None if ttl is None else now + ttl
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO interlingua_cache (key, value, expires_at, used_at, size) VALUES (?, ?, ?, ?, ?)",
                (key, value, expires, now, len(value)),
            )
            db.execute("DELETE FROM interlingua_cache WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
            count, size = db.execute("SELECT count(*), total(size) FROM interlingua_cache").fetchone()
            while count > self.max_entries or size > self.max_bytes:
                # the least recently used tenth of the overflow at least, so eviction is not per row
                n = max(1, count - self.max_entries, count // 10 if size > self.max_bytes else 0)
                db.execute(
                    "DELETE FROM interlingua_cache WHERE key IN (SELECT key FROM interlingua_cache ORDER BY used_at LIMIT ?)",
                    (n,),
                )
                count, size = db.execute("SELECT count(*), total(size) FROM interlingua_cache").fetchone()
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # The event loop's side.

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def get(self, key: str) -> bytes | None:
        try:
            value: bytes | None = await self._run(self._get, key)
        except sqlite3.Error as e:
            self._outage.failed(e)
            return None
        self._outage.ok()
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        try:
            await self._run(self._set, key, value, ttl)
        except sqlite3.Error as e:
            self._outage.failed(e)
            return
        self._outage.ok()

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already shut down
            await self._run(self._close)
        self._worker.shutdown(wait=True)


# -- Redis ------------------------------------------------------------------------------------------


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "redis://…"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, parts.fragment))


class RedisCache:
    """A cache in Redis, shared by every worker that points at it.

    ``target`` is a ``redis://``/``rediss://`` URL (TLS and auth from the URL, which is never
    printed with its password), a ``redis.asyncio.Redis`` client, or a ``ConnectionPool`` — hand
    it the client or pool the shared-state store already holds to use one set of connections. A
    client or pool passed in is the caller's to close; one built from a URL is closed by
    :meth:`close`. Keys are ``prefix + key``; entries expire with Redis' own ``PX`` (the server's
    clock). Every command is bounded by ``timeout`` seconds; an error or a timeout is a miss, with
    one warning per outage.
    """

    def __init__(
        self,
        target: str | Redis | ConnectionPool,
        *,
        ttl: float | None = None,
        prefix: str = "interlingua:cache:",
        timeout: float = 1.0,
    ) -> None:
        try:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as e:  # pragma: no cover - the extra is installed in dev
            raise ImportError("RedisCache needs the redis extra: pip install 'interlingua[redis]'") from e
        self.ttl = ttl
        self.prefix = prefix
        self._timeout = timeout
        self._owns = False
        self._owns_pool = False
        if isinstance(target, str):
            self._label = _without_password(target)
            # One attempt per command: a cache that is down is a miss now, not a retry loop.
            self._redis: Redis = aioredis.from_url(
                target, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
            )
            self._owns = self._owns_pool = True
        elif isinstance(target, aioredis.ConnectionPool):
            self._label = "Redis pool"
            self._redis = aioredis.Redis(connection_pool=target)
            self._owns = True
        else:
            self._label = "Redis client"
            self._redis = target
        self._outage = _Outage(f"Redis cache {self._label}")
        self._errors: tuple[type[BaseException], ...] = (aioredis.RedisError, OSError, TimeoutError)

    def __repr__(self) -> str:
        return f"RedisCache({self._label!r}, ttl={self.ttl}, prefix={self.prefix!r})"

    async def get(self, key: str) -> bytes | None:
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._redis.get(self.prefix + key)
        except self._errors as e:
            self._outage.failed(e)
            return None
        self._outage.ok()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        px = None if ttl is None else max(1, round(ttl * 1000))
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.set(self.prefix + key, value, px=px)
        except self._errors as e:
            self._outage.failed(e)
            return
        self._outage.ok()

    async def close(self) -> None:
        if self._owns:
            with contextlib.suppress(*self._errors):
                await self._redis.aclose(close_connection_pool=self._owns_pool)


def cache_from_url(spec: str) -> Cache:
    """The store a ``LlmConfig.cache`` / ``INTERLINGUA_CACHE`` value names: ``memory``,
    ``sqlite:///path/to/file.db`` (``sqlite:///:memory:`` is private to one connection),
    ``redis://…`` or ``rediss://…``.

    >>> cache_from_url("memory")
    MemoryCache(max_entries=10000, ttl=None, entries=0)
    >>> cache_from_url("sqlite:///tmp/llm-cache.db").path
    '/tmp/llm-cache.db'
    """
    if spec == "memory":
        return MemoryCache()
    if spec.startswith("sqlite://"):
        path = spec.removeprefix("sqlite://")
        # sqlite:///abs/path → /abs/path (SQLAlchemy's form); sqlite://rel/path → rel/path
        return SqliteCache(path if path.startswith("/") else path.removeprefix("/"))
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(spec)
    raise ValueError(f"unknown cache {_without_password(spec)!r}: expected memory, sqlite:///path or redis://…")


# -- how a call meets the cache --------------------------------------------------------------------


def _log_hit(key: str) -> None:
    if LOGGER.isEnabledFor(logging.DEBUG):
        LOGGER.debug("response cache hit %s…", key[:16])


def _hit(resp: ChatResponse) -> ChatResponse:
    return msgspec.structs.replace(resp, provider_metadata={**resp.provider_metadata, "cache": HIT, "attempts": 0})


def key_of(p: Prepared) -> str:
    """The cache key of a prepared request (:func:`interlingua.core.cache.request_key`)."""
    return request_key(p.ref.provider, p.request, p.config.base_url)


class ChunkStream(Protocol):
    """What a client's stream is: an async iterator of chunk results that can be closed early."""

    def __aiter__(self) -> AsyncIterator[Result[ChatChunk, LlmError]]: ...

    async def aclose(self) -> None: ...


_Shared = Result[ChatResponse, LlmError] | None


class CacheLayer:
    """A store as the client's loop meets it (the ``lookup``/``store`` cache step, asked per model
    before admission), plus this client's in-flight calls (single-flight) and stream replay.
    One per :class:`~interlingua.effects.Client`; ``ttl`` (seconds) overrides the store's."""

    __slots__ = ("_inflight", "backend", "owned", "ttl")

    def __init__(self, store: Cache, *, owned: bool = False, ttl: float | None = None) -> None:
        self.backend = store
        self.owned = owned
        self.ttl = ttl
        self._inflight: dict[str, asyncio.Future[_Shared]] = {}

    def __repr__(self) -> str:
        return f"CacheLayer({self.backend!r})"

    def with_ttl(self, ttl: float | None) -> CacheLayer:
        """This layer for one call whose entries live ``ttl`` seconds (same store, same in-flight calls)."""
        if ttl is None:
            return self
        bound = CacheLayer(self.backend, owned=False, ttl=ttl)
        bound._inflight = self._inflight
        return bound

    # the cache step of the client's loop

    async def lookup(self, p: Prepared) -> ChatResponse | None:
        """The stored answer to ``p``, marked as a hit; ``None`` for a miss. A foreign, truncated or
        older-version entry is a miss (:func:`decode_entry` is total), and the fresh answer replaces it."""
        key = key_of(p)
        found = decode_entry(key, await self.backend.get(key))
        if found is None:
            return None
        _log_hit(key)
        return _hit(found)

    async def store(self, p: Prepared, response: ChatResponse) -> None:
        """Keep ``response`` as the answer to ``p`` (the loop calls it with each model's success)."""
        await self._put(key_of(p), response)

    async def _put(self, key: str, response: ChatResponse) -> None:
        ttl = self.store_ttl
        if ttl is not None and ttl <= 0:
            return
        if response.provider_metadata.get("failed_over_from"):
            return  # answered by a fallback model: not the answer of the model the key names
        await self.backend.set(key, encode_entry(key, response), ttl)

    @property
    def store_ttl(self) -> float | None:
        return self.backend.ttl if self.ttl is None else self.ttl

    # coalescing identical calls

    async def single_flight(
        self, key: str, call: Callable[[], Awaitable[Result[ChatResponse, LlmError]]]
    ) -> tuple[Result[ChatResponse, LlmError], bool]:
        """Run ``call`` unless an identical call (same key) is in flight on this client; then wait
        for it and share its result, success or failure. ``(result, shared)``; a shared answer is
        marked as a hit (it cost this caller nothing)."""
        while True:
            waiting = self._inflight.get(key)
            if waiting is None:
                break
            # shield: a waiter cancelled by its own deadline must not cancel the shared future
            shared = await asyncio.shield(waiting)
            if shared is None:
                continue  # the call we waited on was cancelled: go again (one of us leads)
            return (Success(_hit(shared.unwrap())) if type(shared) is Success else shared), True
        future: asyncio.Future[_Shared] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        outcome: _Shared = None
        try:
            outcome = await call()
            return outcome, False
        finally:
            del self._inflight[key]
            future.set_result(outcome)

    # streams

    async def record(self, p: Prepared, items: ChunkStream) -> AsyncGenerator[Result[ChatChunk, LlmError], None]:
        """Pass a live stream through, and store its fold once it has completed whole (a failure
        item, a stream without a finish, or a consumer that stops early stores nothing)."""
        fold = StreamFold()
        try:
            async for item in items:
                if type(item) is Failure:
                    yield item
                    return
                fold.add(item.unwrap())
                yield item
        finally:
            await items.aclose()
        if fold.finish_reason is None:
            return  # ended without a finish: not a whole answer
        await self._put(key_of(p), fold.response(p.ref.provider))


def cache_layer(cache: Cache | CacheLayer | None, spec: str | None, shared: Any = None) -> CacheLayer | None:
    """The client's cache step: the store it was given, else the one its config names (owned:
    closed with the client), else none.

    ``shared`` is the client's :class:`~interlingua.effects.redis_store.RedisStore`, if any: a config
    naming ``redis`` (or the store's own URL) caches in that Redis through the store's connection
    pool, under the store's prefix, instead of opening a second pool (issue 23).
    """
    if isinstance(cache, CacheLayer):
        return cache
    if cache is not None:
        return CacheLayer(cache)
    if spec and shared is not None and getattr(shared, "redis", None) is not None and (
        spec == "redis" or shared.serves(spec)
    ):
        return CacheLayer(RedisCache(shared.redis, prefix=f"{shared.prefix}cache:"))
    if spec:
        return CacheLayer(cache_from_url(spec), owned=True)
    return None
