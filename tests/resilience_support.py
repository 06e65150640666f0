"""Shared pieces of the resilience tests: a fake clock, a leak checker, a warmed-up fake server."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

from interlingua.core import DIALECTS
from interlingua.effects.client import Env
from interlingua.fakes import SPECS, FakeServer, serve

SENTINEL_KEY = "sk-SENTINEL-a1b2c3d4e5f6g7h8i9j0"


class FakeTime:
    """A monotonic clock that only moves when the client sleeps; records every sleep."""

    def __init__(self, draw: float = 0.5) -> None:
        self.now = 1000.0
        # the wall clock starts at real time (servers stamp real dates) and advances with the sleeps
        self.epoch = time.time() - self.now
        self.sleeps: list[float] = []
        self.draw = draw

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def env(self) -> Env:
        return Env(clock=lambda: self.now, sleep=self.sleep, rng=lambda: self.draw, wall=lambda: self.epoch + self.now)


async def leak_check(*, server_shared: bool = False) -> AsyncIterator[None]:
    """Fail on 'Unclosed client session/connector' reports and on tasks left pending. With
    ``server_shared`` (a fake that outlives the test) the fake's own connection handlers are not
    counted: a ``hang`` handler sleeps until the fake shuts down, where the fake's leak check runs."""
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: reports.append(ctx))
    try:
        yield
        for _ in range(5):  # let cancelled writer/handler tasks finish their last step
            await asyncio.sleep(0)
        gc.collect()
        pending = [
            t for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and not t.done() and not (server_shared and _is_server_task(t))
        ]
        assert not pending, f"tasks left pending: {pending}"
        assert not reports, f"loop reported: {[c.get('message') for c in reports]}"
    finally:
        loop.set_exception_handler(previous)


def _is_server_task(task: asyncio.Task[Any]) -> bool:
    # aiohttp runs each accepted connection as a RequestHandler.start() task (web_protocol.py)
    return "RequestHandler" in repr(task.get_coro())


async def warm_fake(api_key: str = SENTINEL_KEY) -> AsyncIterator[FakeServer]:
    """The fakes on a loopback port, with the tokenizer loaded (its first load is slower than the
    short first-byte limits the matrix uses) and the counters reset."""
    from interlingua.effects import Client

    from .helpers import config_for

    async with serve(api_key=api_key) as server:
        async with Client(config_for(server, retry_enabled=False)) as c:
            for model in MODELS.values():
                await c.chat(model, "warm up")
        server.state.clear()
        yield server


# One sample model per provider. A provider joins the fault matrix by adding a row here; rows whose
# provider has no dialect or no fake yet are filtered out.
SAMPLE_MODELS: dict[str, str] = {
    "openai": "openai:gpt-4o-mini",
    "anthropic": "anthropic:claude-3-5-haiku-latest",
    "gemini": "gemini:gemini-2.0-flash",
    "ollama": "ollama:llama3.2",
    "azure": "azure:gpt-4o-mini",
    "xai": "xai:grok-3-mini",
    "docker": "docker:ai/smollm2",
    "bedrock": "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
}
MODELS: dict[str, str] = {
    p: m for p, m in SAMPLE_MODELS.items() if p in DIALECTS and p in {s.name for s in SPECS}
}
