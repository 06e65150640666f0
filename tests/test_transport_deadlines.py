"""The transport's deadlines: one watchdog timer per event loop keeps every exchange's first-byte,
idle and total limits (no ``asyncio.timeout`` per request). Real aiohttp servers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from returns.result import Result

from interlingua.core import ErrorKind, Headers, HttpRequest, HttpResponse, LlmError
from interlingua.effects.transport import AiohttpTransport, Timeouts


async def _hang(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def _head_then_hang(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    await resp.write(b'{"partial":')
    await asyncio.sleep(3600)
    return resp


async def _drip(request: web.Request) -> web.StreamResponse:
    """Ten pieces, one every 0.1 s: a whole second in all, never a gap of more than 0.1 s."""
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await resp.prepare(request)
    for i in range(10):
        await resp.write(b"%d" % i)
        await asyncio.sleep(0.1)
    await resp.write_eof()
    return resp


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_post("/hang", _hang)
    app.router.add_post("/head-then-hang", _head_then_hang)
    app.router.add_post("/drip", _drip)
    app.router.add_post("/ok", _ok)
    async with TestServer(app) as srv:
        yield srv


def _req(server: TestServer, path: str) -> HttpRequest:
    return HttpRequest("POST", str(server.make_url(path)), Headers({"Content-Type": "application/json"}), b"{}")


async def _send_once(server: TestServer, path: str, timeouts: Timeouts) -> tuple[Result[HttpResponse, LlmError], AiohttpTransport]:
    """One exchange on a fresh transport, closed afterwards (returned too, for its watch list)."""
    t = AiohttpTransport()
    try:
        return await t.send(_req(server, path), timeouts=timeouts, max_bytes=1 << 20), t
    finally:
        await t.close()


def _watched(t: AiohttpTransport) -> int:
    dog = t._dog
    return 0 if dog is None else len(dog.watched)


async def test_concurrent_exchanges_each_end_at_their_own_deadline(server: TestServer) -> None:
    """Eight hanging requests with totals of 0.2-0.9 s under one timer: each one times out at its own
    deadline, in order, and none is left watched."""
    t = AiohttpTransport()
    totals = [0.9, 0.2, 0.7, 0.4, 0.8, 0.3, 0.6, 0.5]
    ended: dict[float, float] = {}
    start = time.monotonic()

    async def one(total: float) -> None:
        r = await t.send(_req(server, "/hang"), timeouts=Timeouts(total=total), max_bytes=1 << 20)
        ended[total] = time.monotonic() - start
        err = r.failure()
        assert err.kind is ErrorKind.TIMEOUT and f"total timeout of {total:g}s" in err.message

    try:
        await asyncio.gather(*(one(x) for x in totals))
    finally:
        await t.close()
    assert sorted(ended, key=ended.__getitem__) == sorted(totals)
    for total, at in ended.items():
        assert total <= at < total + 0.5
    assert _watched(t) == 0


async def test_an_idle_limit_earlier_than_the_armed_timer_rearms_it(server: TestServer) -> None:
    """The timer is armed at the total (30 s) while waiting for the head; the head arrives and the idle
    limit (0.3 s) is earlier: the watchdog must move its timer there, not wait out the 30 s."""
    start = time.monotonic()
    r, _ = await _send_once(server, "/head-then-hang", Timeouts(total=30, idle=0.3))
    assert r.failure().kind is ErrorKind.TIMEOUT
    assert "no data within 0.3s (idle timeout)" in r.failure().message
    assert time.monotonic() - start < 5


async def test_progress_moves_the_idle_deadline_later(server: TestServer) -> None:
    """A body that takes a second but never pauses for more than 0.1 s passes an idle limit of 0.4 s."""
    r, t = await _send_once(server, "/drip", Timeouts(total=30, idle=0.4))
    assert r.unwrap().body == b"0123456789"
    assert _watched(t) == 0


async def test_a_first_byte_limit_is_named(server: TestServer) -> None:
    r, _ = await _send_once(server, "/hang", Timeouts(total=30, first_byte=0.2))
    assert r.failure().message == "no response headers within 0.2s (first_byte timeout)"


async def test_a_callers_cancellation_stays_a_cancellation(server: TestServer) -> None:
    """Cancelled from outside while its deadline is far away: CancelledError, never a timeout result,
    and the exchange leaves the watch list."""
    t = AiohttpTransport()
    try:
        task = asyncio.ensure_future(t.send(_req(server, "/hang"), timeouts=Timeouts(total=30), max_bytes=1 << 20))
        await asyncio.sleep(0.2)
        assert _watched(t) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _watched(t) == 0
    finally:
        await t.close()


async def test_a_timeout_and_a_cancellation_together_stay_a_cancellation(server: TestServer) -> None:
    """The deadline passes and the caller cancels in the same loop iteration: the caller's
    cancellation wins (as with asyncio.timeout), so a cancelled caller is never handed a result."""
    t = AiohttpTransport()
    try:
        task = asyncio.ensure_future(t.send(_req(server, "/hang"), timeouts=Timeouts(total=0.3), max_bytes=1 << 20))
        await asyncio.sleep(0.1)
        dog = t._dog
        assert dog is not None and dog.handle is not None
        dog.handle.cancel()  # fire it by hand, then cancel from outside before the task runs again
        for d in list(dog.watched):
            d.at = 0.0
        dog._fire()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await t.close()


async def test_quick_exchanges_leave_nothing_watched(server: TestServer) -> None:
    t = AiohttpTransport()
    try:
        results = await asyncio.gather(
            *(t.send(_req(server, "/ok"), timeouts=Timeouts(total=30, idle=10), max_bytes=1 << 20) for _ in range(64))
        )
    finally:
        await t.close()
    assert all(r.unwrap().status == 200 for r in results)
    assert _watched(t) == 0
    dog = t._dog
    assert dog is not None and dog.handle is None  # close() dropped the idle timer


async def test_a_stream_head_and_an_error_body_are_bounded(server: TestServer) -> None:
    """The stream's head phase (and a non-2xx body) use the same watchdog: a hang is a timeout item."""
    t = AiohttpTransport()
    try:
        items = [i async for i in t.stream(_req(server, "/hang"), timeouts=Timeouts(total=0.3), max_bytes=1 << 20)]
    finally:
        await t.close()
    assert len(items) == 1 and getattr(items[0], "kind", None) is ErrorKind.TIMEOUT
    assert _watched(t) == 0
