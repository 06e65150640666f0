"""Resilience on ÷ off in ONE process: ``python -m benchmarks._resilience '<spec json>'``.

Issue 19 asks that retry + circuit breaker + budget guard cost ≤ 1.05x on the happy path,
"measured with enough repetitions to be conclusive". Comparing fresh processes cannot resolve 5 %
on a shared VM (processes land in different phases of the host's steal time), so this worker holds
BOTH clients at once, each with its own connection pool to the same fake: ``interlingua`` (the
default :class:`LlmConfig`) and ``interlingua-bare`` (retries off, breaker off, no guard work; the
same factory as the ``interlingua-bare`` client row). It then alternates blocks of ``n`` requests
between them, ABBA-ordered so a slow drift in the machine's speed cancels within each pair, and
records this process's CPU time (``time.process_time``) per request of every block. The
orchestrator turns the per-pair ratios into a median with a bootstrap 95 % interval.

It prints one JSON line: ``{"once": {"on": [...], "off": [...], "on_calls": [n], "off_calls": [n]},
"stream": {...}}``: CPU seconds per request (per stream) of each block, in block order (pair ``i`` is
``on[i]`` ÷ ``off[i]``), and Python-level calls per request of each client from a cProfile pass
after the timed blocks (deterministic: no timing noise).

The same design answers the per-request targets steadily (``"pair": "floor"``, the ``paired`` part):
``on`` is then ``interlingua`` and ``off`` the hand-written floor, and ``"conc": 32`` makes each timed
call a ``gather`` of 32 requests (CPU per request = the block's CPU ÷ its requests). The separate-process
table (section 1) moves by about ±0.15 per cell between runs that both look quiet; pairs of blocks in
one process do not see the host's phases.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._clients import CLIENTS, Bench, Scenario

PROFILED_CALLS = 20
PAIRS = {"resilience": ("interlingua", "interlingua-bare"), "floor": ("interlingua", "floor")}
"""``on`` and ``off`` of each pair: two rows of ``benchmarks._clients.CLIENTS``."""


async def _block(call: Callable[[], Awaitable[int]], n: int, seconds: float, conc: int = 1) -> float | None:
    """CPU seconds per request over up to ``n`` sequential calls (stopping after ``seconds``), each
    call ``conc`` requests at once."""
    done = 0
    deadline = time.perf_counter() + seconds
    c0 = time.process_time()
    while done < n and time.perf_counter() < deadline:
        await call()
        done += 1
    cpu = time.process_time() - c0
    return cpu / (done * conc) if done else None


def _at_once(call: Callable[[], Awaitable[int]], conc: int) -> Callable[[], Awaitable[int]]:
    """``conc`` requests in flight together, as one call (``conc`` 1: the call itself)."""
    if conc == 1:
        return call

    async def many() -> int:
        await asyncio.gather(*[call() for _ in range(conc)])
        return conc

    return many


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    s = Scenario(**spec["scenario"])
    first, second = PAIRS[spec.get("pair", "resilience")]
    conc = int(spec.get("conc", 1))
    on: Bench = await CLIENTS[first].factory(s)
    off: Bench = await CLIENTS[second].factory(s)
    out: dict[str, Any] = {}
    try:
        for mode, n in (("once", spec["n_once"]), ("stream", spec["n_stream"])):
            if not n:
                continue
            calls = {"on": _at_once(on.stream if mode == "stream" else on.once, conc),
                     "off": _at_once(off.stream if mode == "stream" else off.once, conc)}
            for call in calls.values():  # warm-up: connections, caches, lazy loads, untimed
                for _ in range(spec["warmup"]):
                    await call()
            per: dict[str, list[float | None]] = {"on": [], "off": []}
            for b in range(spec["blocks"]):
                order = ("on", "off") if b % 2 == 0 else ("off", "on")
                for k in order:
                    per[k].append(await _block(calls[k], n, spec["seconds"], conc))
            # Python-level calls per call of each client (cProfile, after the timed blocks): the
            # same ratio without timing noise; it counts aiohttp's calls too, on both sides.
            for k, call in calls.items():
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(PROFILED_CALLS):
                    await call()
                prof.disable()
                per[f"{k}_calls"] = [pstats.Stats(prof).total_calls / (PROFILED_CALLS * conc)]  # type: ignore[attr-defined]
            out[mode] = per
    finally:
        await on.close()
        await off.close()
    return out


def main() -> None:
    spec = json.loads(sys.argv[1])
    result = asyncio.run(_run(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
