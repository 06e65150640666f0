"""The bundled fakes in their own process and event loop (uvloop when installed).

Prints one JSON line ``{"pid", "base_url", "api_key", "urls": {provider: base URL}, "roots": {provider: origin}}`` once listening,
then serves until its stdin closes (the parent died or is done) or ``--max-seconds`` pass, so a
crashed run never leaves a server behind. The fake logs every request it sees; that log is cleared
every second to keep memory bounded during long runs.

``--profile PATH`` (for ``benchmarks.fake_capacity``): SIGUSR1 starts a cProfile of the fake's own
work, SIGUSR2 stops it and writes the stats to PATH, so a profile covers one measured load and
nothing of the start-up.

``--canned`` (also for ``benchmarks.fake_capacity``): aiohttp's own floor. Each distinct request
(path + body) is answered once by the real fake, whose answer is recorded (body, or the list of stream
events); every repeat is replayed by a bare aiohttp handler — same bytes, one write per event as
the fake writes them — so the fake's CPU under ``--canned`` is what aiohttp (and the kernel) cost to
serve that exchange, with none of the fake's own work. Request/response ids and times repeat: the
floor client does not look at them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys


def _profiling(path: str) -> None:
    import cProfile
    import signal

    prof = cProfile.Profile()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        prof.disable()
        prof.dump_stats(path)

    loop.add_signal_handler(signal.SIGUSR1, prof.enable)
    loop.add_signal_handler(signal.SIGUSR2, stop)


def _install_canned() -> None:
    """Put a recording/replaying middleware in front of every fake (see the module docstring)."""
    import contextvars
    from typing import Any

    from aiohttp import web

    from interlingua.fakes import _server

    slot: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("canned_slot", default=None)
    orig_json, orig_stream = _server.send_json, _server.send_stream

    async def send_json(request: Any, payload: Any, fault: Any, headers: Any = {}) -> Any:  # noqa: B006
        resp = await orig_json(request, payload, fault, headers)
        rec = slot.get()
        if rec is not None and fault is None and isinstance(resp, web.Response):
            rec.append(("json", resp.status, dict(resp.headers), resp.body))
        return resp

    async def send_stream(request: Any, frames: Any, *, content_type: str, fault: Any, error_frame: Any,
                          headers: Any = {}) -> Any:  # noqa: B006
        frames = list(frames)
        rec = slot.get()
        if rec is not None and fault is None:
            rec.append(("stream", {"Content-Type": content_type, "Cache-Control": "no-cache", **headers}, frames))
        return await orig_stream(request, frames, content_type=content_type, fault=fault, error_frame=error_frame,
                                 headers=headers)

    for name, mod in list(sys.modules.items()):
        if name.startswith("interlingua.fakes."):
            if getattr(mod, "send_json", None) is orig_json:
                mod.send_json = send_json  # type: ignore[attr-defined]
            if getattr(mod, "send_stream", None) is orig_stream:
                mod.send_stream = send_stream  # type: ignore[attr-defined]

    cache: dict[tuple[int, str, str, bytes], Any] = {}

    @web.middleware
    async def replay(request: web.Request, handler: Any) -> web.StreamResponse:
        key = (request.url.port or 0, request.method, request.path_qs, await request.read())
        hit = cache.get(key)
        if hit is None:
            rec: list[Any] = []
            slot.set(rec)
            resp = await handler(request)
            if len(rec) == 1:
                cache[key] = rec[0]
            return resp  # type: ignore[no-any-return]
        if hit[0] == "json":
            return web.Response(status=hit[1], headers=hit[2], body=hit[3])
        resp = web.StreamResponse(headers=hit[1])
        await resp.prepare(request)
        for frame in hit[2]:
            await resp.write(frame)
        await resp.write_eof()
        return resp

    orig_build = _server.build_app

    def build_app(spec: Any = None, state: Any = None) -> web.Application:
        app = orig_build(spec, state)
        app.middlewares.insert(0, replay)
        return app

    _server.build_app = build_app  # type: ignore[assignment]


async def _main(max_seconds: float, profile: str | None = None, canned: bool = False) -> None:
    from interlingua.fakes import serve
    from interlingua.fakes._content import count_tokens

    count_tokens("warm up")  # the tokenizer loads lazily: pay it here, not in the first client's warm-up
    if profile:
        _profiling(profile)
    if canned:
        import interlingua.fakes

        interlingua.fakes.SPECS  # noqa: B018  (PEP 562: loads every provider module, so _install_canned sees them)
        _install_canned()

    async with serve("127.0.0.1", 0) as fake:
        info = {
            "pid": os.getpid(),
            "base_url": fake.base_url,
            "api_key": fake.api_key,
            "urls": {s.name: fake.url_for(s.name) for s in fake.specs},
            # one origin per provider: each provider's root URL (scheme, host, port)
            "roots": {s.name: fake.origin(s.name) for s in fake.specs},
            "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        stdin_closed = loop.run_in_executor(None, sys.stdin.read)
        deadline = loop.time() + max_seconds
        while not stdin_closed.done() and loop.time() < deadline:
            fake.state.requests.clear()
            await asyncio.wait({stdin_closed}, timeout=1.0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--max-seconds", type=float, default=3600.0)
    p.add_argument("--profile", default=None, help="cProfile between SIGUSR1 and SIGUSR2, written here")
    p.add_argument("--canned", action="store_true", help="replay each repeated request's recorded answer (aiohttp's floor)")
    args = p.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(_main(args.max_seconds, args.profile, args.canned))
    os._exit(0)  # the stdin reader thread may still be blocked; nothing left to flush


if __name__ == "__main__":
    main()
