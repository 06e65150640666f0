"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from interlingua.effects import LlmConfig
from interlingua.fakes import FakeServer


def config_for(fake: FakeServer, **settings: object) -> LlmConfig:
    """A config pointing every provider that has a fake at it, with the fake's key."""
    cfg = LlmConfig(**settings)  # type: ignore[arg-type]
    for spec in fake.specs:
        cfg = cfg.with_provider(spec.name, base_url=fake.url_for(spec.name), api_key=fake.api_key)
    return cfg


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates and out-of-range ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


@contextlib.asynccontextmanager
async def one_route(path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """A loopback aiohttp server that answers ``POST path`` with ``handler``; yields its root URL
    (``http://127.0.0.1:<port>``) and stops with the block."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
