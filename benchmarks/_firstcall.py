"""The first call in a fresh process: ``python -m benchmarks._firstcall '<spec json>'``.

Issue 19: "first call in a fresh process ≤ 2x the second call's latency, and RSS after the first
call ≤ 45 MiB, with default config, for every provider". The worker is that fresh process: it
imports ``interlingua.effects``, builds a :class:`Client` from the DEFAULT :class:`LlmConfig` (only
the provider's base URL and key set, as a user pointing at the provider would), enters it with
``async with`` as the README does (the pool opens there, as the floor's session is made before its
timer), and times ``chat`` twice with the same request. Call 1 pays every lazy load (catalog, tokenizer, SigV4, …)
and the TCP connect; call 2 reuses the connection, so "call 1 ÷ call 2" is the first-call tax.
It prints one JSON line: the import time, both call latencies, and VmRSS / VmHWM (KiB) read from
``/proc/self/status`` right after call 1 (and after the import and after the last call), and the
median latency of calls 3-7 (the steady state: a load deferred to call 2 shows as call 2 ≫ steady).
With ``"profile": true`` in the spec each call runs under its own cProfile and the line carries
Python call counts (``calls_first``, ``calls_second``, ``calls_steady``): the same story without
timing noise.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

STEADY_CALLS = 5


def _status_kib() -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of this process, in KiB; empty off Linux."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


async def _sequence(call: Callable[[], Awaitable[object]], profile: bool) -> dict[str, Any]:
    """Call 1, call 2 and ``STEADY_CALLS`` more, timed, with RSS after call 1 and after the last.
    With ``profile`` each call runs under its own cProfile instead, for its Python call count (the
    times of such a run are not used: the profiler inflates them)."""
    if profile:  # only then: the timed runs' RSS should not include the profiler's modules
        import cProfile
        import pstats

    calls: list[int] = []

    async def one() -> tuple[float, object]:
        prof = cProfile.Profile() if profile else None
        if prof:
            prof.enable()
        t0 = time.perf_counter()
        r = await call()
        dt = time.perf_counter() - t0
        if prof:
            prof.disable()
            calls.append(pstats.Stats(prof).total_calls)  # type: ignore[attr-defined]
        return dt, r

    first, r1 = await one()
    rss_first = _status_kib()
    second, r2 = await one()
    steady, rest = [], []
    # Calls 3.. give the steady latency: a load that call 2 pays instead of call 1 (e.g. a
    # tokenizer needed once a provider's rate-limit headers are known) shows as call 2 ≫ steady.
    for _ in range(STEADY_CALLS):
        dt, r = await one()
        steady.append(dt)
        rest.append(r)
    rss_last = _status_kib()
    out: dict[str, Any] = {
        "first_s": first, "second_s": second, "steady_s": statistics.median(steady),
        "rss_first_kib": rss_first.get("VmRSS"), "hwm_first_kib": rss_first.get("VmHWM"),
        "rss_last_kib": rss_last.get("VmRSS"), "hwm_last_kib": rss_last.get("VmHWM"),
        "results": [r1, r2, *rest],
    }
    if profile:
        out |= {"calls_first": calls[0], "calls_second": calls[1], "calls_steady": statistics.median(calls[2:])}
    return out


async def _calls(spec: dict[str, Any]) -> dict[str, Any]:
    from interlingua.core import ChatRequest, Message, ResponseFormat
    from interlingua.effects import Client, LlmConfig, Success

    s = spec["scenario"]
    cfg = LlmConfig().with_provider(s["provider"], base_url=s["url"], api_key=s["api_key"] or None)
    req = ChatRequest(
        model=f"{s['provider']}:{s['model']}",
        messages=(Message.user(s["prompt"]),),
        max_tokens=s["max_tokens"],
        response_format=ResponseFormat(type="json_object") if s["json_mode"] else None,
    )
    # as the README uses it: the pool opens on entering the block, as the floor's session is made
    # before its timer starts
    async with Client(cfg) as client:
        out = await _sequence(lambda: client.chat(req), spec.get("profile", False))
    out["errors"] = [repr(r)[:300] for r in out.pop("results") if not isinstance(r, Success)]
    return out


async def _floor_calls(spec: dict[str, Any]) -> dict[str, Any]:
    """The same sequence through the hand-written floor of ``_clients.py``: what call 1 ÷ call 2
    costs a client that has nothing to load lazily (a fresh connection and aiohttp's own first use)."""
    import aiohttp

    from ._clients import FLOORS, Scenario

    s = Scenario(**spec["scenario"])
    session = aiohttp.ClientSession()
    try:
        out = await _sequence(FLOORS[s.provider](s, session).once, spec.get("profile", False))
    finally:
        await session.close()
    out.pop("results")  # the floor raises on any failure
    out["errors"] = []
    return out


def main() -> None:
    spec = json.loads(sys.argv[1])
    floor = spec.get("client") == "floor"
    t0 = time.perf_counter()
    if floor:
        import aiohttp  # noqa: F401
        import msgspec  # noqa: F401
    else:
        import interlingua.effects  # noqa: F401  (timed: what a user's program pays before its first call)

    t_import = time.perf_counter() - t0
    rss_import = _status_kib()
    result = asyncio.run((_floor_calls if floor else _calls)(spec))
    result |= {"import_s": t_import, "rss_import_kib": rss_import.get("VmRSS")}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
