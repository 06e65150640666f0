"""The bundled fakes in their own process and event loop (uvloop when installed).

Prints one JSON line ``{"pid", "base_url", "api_key", "urls": {provider: base URL}, "roots": {provider: origin}}`` once listening,
then serves until its stdin closes (the parent died or is done) or ``--max-seconds`` pass, so a
crashed run never leaves a server behind. The fake logs every request it sees; that log is cleared
every second to keep memory bounded during long runs.

``--profile PATH`` (for ``benchmarks.fake_capacity``): SIGUSR1 starts a cProfile of the fake's own
work, SIGUSR2 stops it and writes the stats to PATH, so a profile covers one measured load and
nothing of the start-up.
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


async def _main(max_seconds: float, profile: str | None = None) -> None:
    from interlingua.fakes import serve
    from interlingua.fakes._content import count_tokens

    count_tokens("warm up")  # the tokenizer loads lazily: pay it here, not in the first client's warm-up
    if profile:
        _profiling(profile)

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
    args = p.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(_main(args.max_seconds, args.profile))
    os._exit(0)  # the stdin reader thread may still be blocked; nothing left to flush


if __name__ == "__main__":
    main()
