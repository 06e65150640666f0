"""The fakes' own capacity: CPU the fake process spends per request and per stream event.

``python -m benchmarks.fake_capacity [--providers openai,anthropic] [--modes once,stream]
[--seconds 2] [--profile]``

For every provider of ``_run.PROVIDERS`` and each mode (non-stream, stream) it starts
``benchmarks._fakeproc`` (uvloop when installed), runs the hand-written floor client of
``_clients.py`` in its own process at concurrency 32 — the very bodies the benchmark's floors send —
for a bounded count and time, and reads the fake's CPU time (user + system, ``/proc/<pid>/stat``)
over the timed interval. It prints, per scenario:

* fake CPU per request (µs) and, for streams, per wire event the client saw;
* the floor client's own CPU per request over the same interval;
* **capacity ÷ floor**: (1 ÷ fake CPU per request) ÷ (1 ÷ floor CPU per request), i.e. how many
  times the floor client's CPU-bound rate one core running the fake could serve. Issue 19 asks for
  ≥ 3x, so that requests/s measures the client, not the fake.

``--profile`` instead runs each scenario under cProfile inside the fake (SIGUSR1/SIGUSR2 around the
load) and prints the fake's Python calls per request — deterministic, unlike CPU time on a shared
machine — and its top functions by own time. Everything is loopback and bounded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pstats
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from ._run import PROVIDERS, FakeProcess, Notes, _child, scenarios

ROOT = Path(__file__).resolve().parent.parent
CONC = 32
WARMUP = 64




def _user_system(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (``/proc/<pid>/stat`` fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _scenario(fake: FakeProcess, provider: str) -> Any:
    """The benchmark's scenario for ``provider``, pointing at this fake's ports."""
    found = scenarios(fake.info, [provider], Notes())
    if not found:
        raise RuntimeError(f"{provider}: no benchmark scenario")
    return found[0]


def _load(fake: FakeProcess, provider: str, mode: str, seconds: float, n: int) -> dict[str, Any]:
    """One floor-client run at concurrency 32 (warm-up untimed), as ``_clients`` reports it, plus
    ``events``: wire events per stream, counted at concurrency 1 first (``_clients._cell``'s
    ``items += await call()`` loses updates between concurrent lanes, so its c32 item count is low)."""
    sc = _scenario(fake, provider)
    cells = [{"mode": mode, "conc": CONC, "n": n, "seconds": seconds, "warmup": WARMUP}]
    if mode == "stream":
        cells.insert(0, {"mode": mode, "conc": 1, "n": 3, "seconds": seconds, "warmup": 1})
    spec = {"client": "floor", "scenario": dataclasses.asdict(sc), "fake_pid": fake.info["pid"], "cells": cells}
    out = _child("benchmarks._clients", spec, timeout=seconds * 8 + 60)["cells"]
    cell: dict[str, Any] = out[-1]
    if mode == "stream":
        cell["events"] = out[0]["items"] / out[0]["requests"] if out[0].get("requests") else None
        cell["warmup_requests"] = 1 + out[0].get("requests", 0)
    return cell


def measure(provider: str, mode: str, seconds: float, n: int, canned: bool = False) -> dict[str, Any]:
    fake = FakeProcess(max_seconds=seconds * 4 + 120, profile=None, canned=canned)
    try:
        u0, s0 = _user_system(fake.info["pid"])
        cell = _load(fake, provider, mode, seconds, n)
        u1, s1 = _user_system(fake.info["pid"])
    finally:
        fake.close()
    # The kernel's share (loopback TCP: the sender's send() also runs the receiver's TCP input),
    # over the whole load including its warm-up.
    system_share = (s1 - s0) / ((u1 - u0) + (s1 - s0) or 1.0)
    req = cell.get("requests") or 0
    if cell.get("errors") or not req or cell.get("fake_cpu") is None:
        return {"provider": provider, "mode": mode, "error": cell.get("first_error") or "no requests / no /proc"}
    events = cell.get("events")
    fake_req = cell["fake_cpu"] / req
    client_req = cell["cpu"] / req
    return {
        "provider": provider, "mode": mode, "requests": req, "events_per_req": events,
        "fake_us_per_req": fake_req * 1e6, "fake_us_per_event": fake_req * 1e6 / events if events else None,
        "floor_us_per_req": client_req * 1e6, "capacity_x_floor": client_req / fake_req if fake_req else None,
        "system_share": system_share,
    }


def profile(provider: str, mode: str, seconds: float, n: int, top: int, keep: str | None = None,
            canned: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fake.prof")
        fake = FakeProcess(max_seconds=seconds * 4 + 120, profile=path, canned=canned)
        try:
            fake.signal(signal.SIGUSR1)
            cell = _load(fake, provider, mode, seconds, n)
            fake.signal(signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)  # dump_stats writes in one go; let it finish
        finally:
            fake.close()
        st = pstats.Stats(path)
        if keep:
            st.dump_stats(os.path.join(keep, f"fake-{provider}-{mode}{'-canned' if canned else ''}.prof"))
    # Every warm-up request is inside the profile too.
    req = (cell.get("requests") or 0) + max(1, WARMUP // CONC) * CONC + cell.get("warmup_requests", 0)
    rows = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    total_tt = sum(v[2] for v in st.stats.values()) or 1.0  # type: ignore[attr-defined]
    return {
        "provider": provider, "mode": mode, "requests": req,
        "calls_per_req": st.total_calls / req,  # type: ignore[attr-defined]
        "top": [(f"{Path(k[0]).name}:{k[1]}({k[2]})", v[1] / req, v[2] / total_tt) for k, v in rows],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--providers", default=",".join(PROVIDERS))
    p.add_argument("--modes", default="once,stream")
    p.add_argument("--seconds", type=float, default=2.0, help="time cap of each timed load (default 2)")
    p.add_argument("--n", type=int, default=0, help="request cap of each load (default: 4000 non-stream, 800 stream)")
    p.add_argument("--profile", action="store_true", help="calls per request and top functions instead of CPU")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--keep", default=None, help="with --profile: also write each cProfile to this directory")
    p.add_argument("--json", action="store_true", help="one JSON line per scenario")
    p.add_argument("--canned", action="store_true",
                   help="aiohttp's floor: the fake replays recorded answers (see benchmarks._fakeproc)")
    args = p.parse_args(argv)
    probe = FakeProcess(max_seconds=30, profile=None)
    try:
        wanted = [sc.provider for sc in scenarios(probe.info, args.providers.split(","), Notes())]
        loop = probe.info.get("loop")
    finally:
        probe.close()
    modes = args.modes.split(",")
    if not args.json:
        what = "canned replies (aiohttp's floor)" if args.canned else "the fakes"
        print(f"{what}; fake event loop: {loop}; floor client at concurrency {CONC}, ≤ {args.seconds:g} s per load\n")
        if args.profile:
            print("| provider | mode | fake Python calls per request |\n|---|---|---|")
        else:
            print("| provider | mode | fake CPU µs/request | fake CPU µs/event | floor client CPU µs/request "
                  "| fake capacity ÷ floor client's CPU-bound rate | fake's kernel share |\n|---|---|---|---|---|---|---|")
    for provider in wanted:
        for mode in modes:
            n = args.n or (4000 if mode == "once" else 800)
            # Fresh fake per scenario, so neither the run nor the profile carries another's state.
            if args.profile:
                r = profile(provider, mode, args.seconds, n, args.top, args.keep, args.canned)
            else:
                r = measure(provider, mode, args.seconds, n, args.canned)
            if args.json:
                print(json.dumps(r), flush=True)
            elif "error" in r:
                print(f"| {provider} | {mode} | error: {r['error'][:120]} |", flush=True)
            elif args.profile:
                print(f"| {provider} | {mode} | {r['calls_per_req']:.0f} |", flush=True)
                for name, calls, share in r["top"]:
                    print(f"|   | {share:6.1%} own time | {calls:5.1f}/req {name} |", flush=True)
            else:
                ev = f"{r['fake_us_per_event']:.1f}" if r["fake_us_per_event"] else "-"
                print(f"| {provider} | {mode} | {r['fake_us_per_req']:.0f} | {ev} | {r['floor_us_per_req']:.0f} "
                      f"| {r['capacity_x_floor']:.2f}x | {r['system_share']:.0%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
