"""The orchestrator: start the fakes, run every part, print the table, write ``RESULTS.md``.

Method (issue 12):

* The fakes run in their own process and event loop (``benchmarks._fakeproc``; uvloop if
  installed). All traffic is loopback.
* Each client runs in a FRESH process per repetition (``benchmarks._clients``); repetitions are
  interleaved (rep 1 of every client, then rep 2, …, client order rotated each time) and the
  median is reported.
* Noise: requests/s swings ~2x between repetitions on small shared machines, the client's own CPU
  time per request (``time.process_time`` in the client process) ~10 %, so CPU per request and per
  stream chunk are the headline figures and requests/s sits next to them.
* Every loop is bounded by a count AND a time limit; every child process by a timeout.
* Every figure is a ratio to a baseline measured in the same run; the baseline's absolute value is
  shown once, in its own row, for orientation only.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import importlib.metadata as md
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._clients import CLIENTS, Scenario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTS = ("clients", "core", "import", "firstcall", "resilience", "paired", "capacity", "tokens", "batch", "redis")

# --- the scenario table: one row per provider -------------------------------------------------
#
# The fakes answer "Fake reply: " + the prompt's first 60 words and stream it 2 words per chunk
# (fakes/_content.py), so a plain prompt tops out at ~31 content chunks. For the OpenAI wire format
# (OpenAI, Azure, xAI, Docker Model Runner: one shared fake core), JSON mode answers
# {"reply": prompt[:200]} streamed the same way: 100 one-letter words give 50 content deltas
# (+ role, finish and usage chunks = 53 events; Azure adds its prompt_filter_results chunk). Other
# dialects (Bedrock's Converse has no JSON mode) use the longest plain prompt.
_JSON_100 = " ".join(["w"] * 100)
_WORDS_60 = " ".join(f"word{i}" for i in range(60))


@dataclass(frozen=True)
class ProviderRow:
    model: str
    prompt: str
    json_mode: bool = False
    max_tokens: int | None = None
    keyless: bool = False
    """The provider takes no key (Docker Model Runner): every client is configured without one."""
    fake: str | None = None
    """The fake that serves this row's API when it is not the provider's own (the Responses API
    lives on the OpenAI fake, at POST /v1/responses)."""


PROVIDERS: dict[str, ProviderRow] = {
    "openai": ProviderRow("gpt-4o-mini", _JSON_100, json_mode=True),
    # Azure: the deployment name; the fake has a deployment per OpenAI fake model.
    "azure": ProviderRow("gpt-4o-mini", _JSON_100, json_mode=True),
    # grok-3 has no reasoning, so its stream is the same shape as the others' (no reasoning deltas).
    "xai": ProviderRow("grok-3", _JSON_100, json_mode=True),
    "docker": ProviderRow("ai/smollm2", _JSON_100, json_mode=True, keyless=True),
    "anthropic": ProviderRow("claude-sonnet-4-5", _WORDS_60, max_tokens=1024),
    "gemini": ProviderRow("gemini-2.5-flash", _WORDS_60),
    "ollama": ProviderRow("llama3.2:latest", _WORDS_60),
    # A Bedrock API key (bearer), so no SigV4: https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html
    "bedrock": ProviderRow("anthropic.claude-3-5-haiku-20241022-v1:0", _WORDS_60),
    # OpenAI's Responses API (another wire format on the OpenAI fake). JSON mode is another field
    # there (text.format), so the plain 60-word prompt: ~31 text deltas among its SSE events.
    "openai_responses": ProviderRow("gpt-4o-mini", _WORDS_60, fake="openai"),
}

# Client order within a repetition; rotated every repetition.
CLIENT_ORDER = ("floor", "interlingua", "interlingua-bare", "interlingua-uvloop", "openai-sdk", "anthropic-sdk", "gemini-sdk", "ollama-sdk", "litellm")


@dataclass(frozen=True)
class Mode:
    name: str
    reps: int
    seconds: float
    n_once: tuple[int, int]  # (conc 1, conc 32) request caps per cell
    n_stream: tuple[int, int]
    warmup: int
    concs: tuple[int, int] = (1, 32)
    core_budget: float = 1.0
    import_reps: int = 5
    import_pair_reps: int = 0
    """More repetitions of the target's pair alone (``import aiohttp, msgspec`` and ``import interlingua.effects``,
    back to back): single imports here are bimodal, and the other imports' repetitions do not need them."""
    clients: tuple[str, ...] = CLIENT_ORDER
    import_targets: tuple[str, ...] = ("baseline", "interlingua", "openai", "anthropic", "litellm")
    firstcall_reps: int = 7
    """Fresh processes per provider (and as many for the floor), after one discarded warm-up."""
    res_blocks: int = 40
    """Resilience on ÷ off: blocks per client and mode in the one process (= pairs of blocks)."""
    res_n: tuple[int, int] = (150, 40)
    """Requests (non-stream, stream) per resilience block."""
    res_seconds: float = 0.5
    """Each resilience block also stops after this long."""
    pair_blocks: int = 24
    """interlingua ÷ floor in one process (the ``paired`` part): pairs of blocks per provider, mode and concurrency."""
    pair_n: tuple[int, int, int, int] = (200, 8, 40, 2)
    """Calls per paired block: non-stream c1 requests, non-stream gathers of c32, streams at c1, gathers of c32 streams."""
    pair_seconds: float = 0.4
    """Each paired block also stops after this long."""
    cap_seconds: float = 2.0
    """Fake capacity: the time cap of each timed load (``benchmarks.fake_capacity.measure``)."""
    cap_n: tuple[int, int] = (4000, 800)
    """Fake capacity: request caps (non-stream, stream) of each timed load."""


MODES: dict[str, Mode] = {
    # Sized to finish in ≤ 45 min on a 2-core VM (issue 19); the run prints its estimate first and
    # each part's real duration last. A 1 s cell holds ~1000 requests (~300 streams of ~50 chunks) at
    # c1: CPU per request is stable at that size, and the spread that remains is between processes,
    # which the 5 repetitions address. The on ÷ off target has its own one-process part.
    "full": Mode("full", reps=5, seconds=1.0, n_once=(3000, 20000), n_stream=(1000, 4000), warmup=64, core_budget=2.0,
                 import_reps=11, import_pair_reps=16, res_blocks=50, res_n=(200, 50), pair_blocks=30, pair_n=(200, 16, 40, 3)),
    "quick": Mode("quick", reps=3, seconds=1.0, n_once=(600, 4000), n_stream=(200, 800), warmup=32, core_budget=1.0, import_reps=5,
                  import_pair_reps=10,
                  firstcall_reps=3, res_blocks=16, res_n=(80, 20), res_seconds=0.3, pair_blocks=12, pair_seconds=0.3,
                  cap_seconds=1.0, cap_n=(2000, 400)),
    # The smoke test's mode: proves the harness runs end to end; its figures mean nothing.
    "smoke": Mode(
        "smoke", reps=1, seconds=0.15, n_once=(10, 20), n_stream=(4, 8), warmup=2, concs=(1, 4),
        core_budget=0.05, import_reps=1, clients=("floor", "interlingua"), import_targets=("baseline", "interlingua"),
        firstcall_reps=1, res_blocks=4, res_n=(5, 2), res_seconds=0.1, pair_blocks=3, pair_n=(5, 1, 2, 1), pair_seconds=0.1,
        cap_seconds=0.15, cap_n=(20, 4),
    ),
}

IMPORTS: dict[str, tuple[str, str]] = {
    "bare": ("python (nothing imported)", "pass"),
    "baseline": ("import aiohttp, msgspec", "import aiohttp, msgspec"),
    "interlingua": ("import interlingua.effects", "import interlingua.effects"),
    "openai": ("import openai", "import openai"),
    "anthropic": ("import anthropic", "import anthropic"),
    "litellm": ("import litellm", "import litellm"),
}


@dataclass
class Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        print(f"note: {line}", file=sys.stderr, flush=True)


# --- child processes ----------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("LITELLM_TELEMETRY", "False")
    return env


class FakeProcess:
    """``benchmarks._fakeproc`` in its own process (``--profile``/``--canned`` passed through),
    stopped by closing its stdin."""

    def __init__(self, max_seconds: float, profile: str | None = None, canned: bool = False) -> None:
        cmd = [sys.executable, "-m", "benchmarks._fakeproc", "--max-seconds", str(max_seconds)]
        if profile:
            cmd += ["--profile", profile]
        if canned:
            cmd += ["--canned"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env=_env(), text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the fake server process did not start")
        self.info: dict[str, Any] = json.loads(line)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def close(self) -> None:
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _child(module: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", module, json.dumps(spec)],
        capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=timeout,
    )
    if r.returncode != 0:
        raise RuntimeError(f"{module} exited {r.returncode}: {r.stderr.strip()[-800:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- scenarios ------------------------------------------------------------------------------------


def _pick_model(provider: str, preferred: str) -> str:
    """The preferred model if the provider's fake knows it, else the fake's first listed model."""
    try:
        mod = importlib.import_module(f"interlingua.fakes.{provider}")
    except ImportError:
        return preferred
    models = getattr(mod, "MODELS", None)
    if not models or preferred in models:
        return preferred
    return next(iter(models))


def scenarios(fake: dict[str, Any], wanted: Sequence[str], notes: Notes) -> list[Scenario]:
    from interlingua.core import DIALECTS

    out = []
    for p in wanted:
        row = PROVIDERS.get(p)
        if row is None:
            notes.add(f"{p}: no benchmark scenario row; skipped")
            continue
        if p not in DIALECTS:
            notes.add(f"{p}: no dialect in interlingua.core.DIALECTS yet; skipped")
            continue
        served_by = row.fake or p
        if served_by not in fake["urls"]:
            notes.add(f"{p}: no fake route in interlingua.fakes.SPECS yet; skipped")
            continue
        out.append(
            Scenario(
                provider=p, model=_pick_model(served_by, row.model), prompt=row.prompt, url=fake["urls"][served_by],
                root=fake["roots"][served_by], api_key="" if row.keyless else fake["api_key"], json_mode=row.json_mode,
                max_tokens=row.max_tokens,
            )
        )
    return out


def _available(client: str, notes: Notes, seen: set[str]) -> bool:
    req = CLIENTS[client].requires
    if req is None:
        return True
    try:
        ok = importlib.util.find_spec(req) is not None
    except (ImportError, ValueError):
        ok = False
    if not ok and client not in seen:
        seen.add(client)
        notes.add(f"{client}: `{req}` is not installed (pip install 'interlingua[bench]'); skipped")
    return ok


# --- part 1 / 4 / 5: clients ----------------------------------------------------------------------


def run_clients(mode: Mode, scs: list[Scenario], clients: Sequence[str], fake: dict[str, Any], notes: Notes) -> dict[str, Any]:
    seen: set[str] = set()
    plan = [(s, c) for s in scs for c in clients if s.provider in CLIENTS[c].providers and _available(c, notes, seen)]
    cells = [
        {"mode": m, "conc": c, "n": (mode.n_once if m == "once" else mode.n_stream)[i], "seconds": mode.seconds, "warmup": mode.warmup}
        for m in ("once", "stream")
        for i, c in enumerate(mode.concs)
    ]
    timeout = 60 + 4 * mode.seconds * len(cells) + 30
    raw: dict[tuple[str, str], list[list[dict[str, Any]]]] = {}
    failed: set[tuple[str, str]] = set()
    total, done, began = mode.reps * len(plan), 0, time.perf_counter()
    print(f"clients: {len(plan)} provider/client pairs x {mode.reps} repetitions, {len(cells)} cells each",
          file=sys.stderr, flush=True)
    for rep in range(mode.reps):
        shift = rep % max(1, len(plan))
        for s, c in plan[shift:] + plan[:shift]:
            key = (s.provider, c)
            done += 1
            if key in failed:
                continue
            spent = time.perf_counter() - began
            eta = f" · ~{spent / (done - 1) * (total - done + 1) / 60:.0f} min left" if done > 1 else ""
            print(f"[clients {done}/{total}{eta}] rep {rep + 1}/{mode.reps} {s.provider:<9} {c:<17}", end=" ",
                  file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                res = _child("benchmarks._clients", {"client": c, "scenario": asdict(s), "cells": cells, "fake_pid": fake["pid"]}, timeout)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                print("FAILED", file=sys.stderr)
                notes.add(f"{s.provider}/{c}: worker failed, excluded: {str(e)[-400:]}")
                failed.add(key)
                continue
            bad = [x for x in res["cells"] if x["errors"]]
            if bad:
                notes.add(f"{s.provider}/{c}: {sum(x['errors'] for x in bad)} request errors, e.g. {bad[0]['first_error']}")
            print(f"{time.perf_counter() - t0:5.1f}s", file=sys.stderr, flush=True)
            raw.setdefault(key, []).append(res["cells"])
    return {"raw": {f"{p}/{c}": v for (p, c), v in raw.items() if (p, c) not in failed}}


def _med(xs: Iterable[float | None]) -> float | None:
    v = [x for x in xs if x is not None]
    return statistics.median(v) if v else None


def summarize_clients(raw: dict[str, list[list[dict[str, Any]]]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per "provider/client" and cell key ("once@1", "stream@32"): medians over repetitions."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for key, reps in raw.items():
        cells: dict[str, list[dict[str, Any]]] = {}
        for rep in reps:
            for c in rep:
                if c.get("requests"):
                    cells.setdefault(f"{c['mode']}@{c['conc']}", []).append(c)
        out[key] = {
            k: {
                "cpu_per_req": _med(c["cpu"] / c["requests"] for c in v),
                "rps": _med(c["requests"] / c["wall"] for c in v),
                "items_per_req": _med(c["items"] / c["requests"] for c in v),
                "fake_cpu_per_req": _med(c["fake_cpu"] / c["requests"] if c.get("fake_cpu") is not None else None for c in v),
                "errors": float(sum(c["errors"] for c in v)),
            }
            for k, v in cells.items()
        }
    return out


# --- part 3: imports ----------------------------------------------------------------------------

# Peak RSS comes from VmHWM: Linux carries ru_maxrss across execve, so a child forked from this
# (larger) process would report the parent's peak.
_IMPORT_SCRIPT = """
import time
t0 = time.perf_counter()
{stmt}
dt = time.perf_counter() - t0
import json, resource, sys
try:
    kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stdout.write(json.dumps({{"s": dt, "rss_kib": kib}}))
"""


def run_imports(mode: Mode, notes: Notes) -> dict[str, dict[str, Any]]:
    targets = ["bare", *mode.import_targets]
    usable = []
    for t in targets:
        mod = IMPORTS[t][1].split()[-1] if t not in ("bare", "baseline") else None
        if mod and importlib.util.find_spec(mod) is None:
            notes.add(f"import {mod}: not installed; skipped")
            continue
        usable.append(t)
    samples: dict[str, list[dict[str, float]]] = {t: [] for t in usable}
    # An installed wheel has its bytecode compiled by pip; a checkout run with PYTHONDONTWRITEBYTECODE
    # (set on these machines) would recompile interlingua's sources on every import and time the
    # compiler, so the warm-up repetition may write bytecode (to the git-ignored __pycache__).
    env = {k: v for k, v in _env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    pairs: list[float] = []
    paired_only = [t for t in usable if t in ("baseline", "interlingua")]
    for rep in range(mode.import_reps + 1 + mode.import_pair_reps):
        # rep 0 warms the bytecode and OS file caches, discarded. baseline and interlingua run back to
        # back, in alternating order, so their per-repetition ratio sees the same phase of the machine
        # (single samples here are bimodal); the last ``import_pair_reps`` repetitions run that pair alone.
        order = list(usable) if rep <= mode.import_reps else list(paired_only)
        if rep % 2 and {"baseline", "interlingua"} <= set(order):
            i, j = order.index("baseline"), order.index("interlingua")
            order[i], order[j] = order[j], order[i]
        this: dict[str, float] = {}
        for t in order:
            r = subprocess.run(
                [sys.executable, "-c", _IMPORT_SCRIPT.format(stmt=IMPORTS[t][1])],
                capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
            )
            if r.returncode != 0:
                notes.add(f"{IMPORTS[t][0]}: failed: {r.stderr.strip()[-300:]}")
                continue
            if rep:
                samples[t].append(json.loads(r.stdout))
                this[t] = samples[t][-1]["s"]
        if "baseline" in this and "interlingua" in this:
            pairs.append(this["interlingua"] / this["baseline"])
    out: dict[str, dict[str, Any]] = {
        t: {"s": statistics.median(x["s"] for x in v), "rss_mib": statistics.median(x["rss_kib"] for x in v) / 1024}
        for t, v in samples.items()
        if v
    }
    if "interlingua" in out:
        out["interlingua"]["pairs"] = pairs
    return out


# --- part: the first call in a fresh process --------------------------------------------------------


def run_firstcall(mode: Mode, scs: list[Scenario], notes: Notes) -> dict[str, dict[str, dict[str, float]]]:
    """Per provider, for ``interlingua`` and the ``floor``: medians over fresh processes of call 1,
    call 2 and steady latency, and RSS. Repetition 0 is discarded: it warms the OS file cache and may
    write bytecode, as the import part's warm-up does (an installed wheel comes precompiled)."""
    env = {k: v for k, v in _env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    # The last repetition is a profiled one (Python call counts per call; its times are not used).
    for rep in range(mode.firstcall_reps + 2):
        profile = rep == mode.firstcall_reps + 1
        for s in scs:
            for client in ("interlingua", "floor"):
                spec = json.dumps({"scenario": asdict(s), "client": client, "profile": profile})
                try:
                    r = subprocess.run([sys.executable, "-m", "benchmarks._firstcall", spec], capture_output=True,
                                       text=True, cwd=ROOT, env=env, timeout=120)
                except subprocess.TimeoutExpired:
                    notes.add(f"firstcall {s.provider}/{client}: timed out")
                    continue
                if r.returncode != 0:
                    notes.add(f"firstcall {s.provider}/{client}: failed: {r.stderr.strip()[-300:]}")
                    continue
                d = json.loads(r.stdout.strip().splitlines()[-1])
                if d["errors"]:
                    notes.add(f"firstcall {s.provider}/{client}: {d['errors'][0]}")
                    continue
                if profile:
                    counts[(s.provider, client)] = d
                elif rep:
                    samples.setdefault((s.provider, client), []).append(d)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (p, client), v in samples.items():
        out.setdefault(p, {})[client] = {
            k: statistics.median(x[k] for x in v if x.get(k) is not None)
            for k in v[0]
            if k != "errors" and any(x.get(k) is not None for x in v)
        } | {"first_over_second": statistics.median(x["first_s"] / x["second_s"] for x in v),
             "second_over_steady": statistics.median(x["second_s"] / x["steady_s"] for x in v)}
        c = counts.get((p, client), {})
        out[p][client] |= {k: c[k] for k in ("calls_first", "calls_second", "calls_steady") if k in c}
    return out


def _counts(r: dict[str, float] | None) -> str:
    if not r or "calls_first" not in r:
        return "-"
    return f"{r['calls_first']:.0f} / {r['calls_second']:.0f} / {r['calls_steady']:.0f}"


def firstcall_table(fc: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    out = [
        "| provider | call 1 ÷ call 2 (≤ 2x) | call 2 ÷ steady | RSS after call 1 (≤ 45 MiB) | peak RSS after 7 calls "
        "| floor: call 1 ÷ call 2 | call 1 / call 2 / steady (absolute) | Python calls: call 1 / call 2 / steady (floor) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(fc, key=list(PROVIDERS).index):
        il, fl = fc[p].get("interlingua"), fc[p].get("floor")
        if not il:
            continue
        ratio, rss = il["first_over_second"], il["rss_first_kib"] / 1024
        floor_cell = f"{fl['first_over_second']:.2f}x" if fl else "-"
        out.append(
            f"| {p} | {ratio:.2f}x {'✓' if ratio <= 2 and il['second_over_steady'] <= 2 else '✗'} | {il['second_over_steady']:.2f}x "
            f"| {rss:.1f} MiB {'✓' if rss <= 45 else '✗'} | {il['hwm_last_kib'] / 1024:.1f} MiB "
            f"| {floor_cell} "
            f"| {_ms(il['first_s'])} / {_ms(il['second_s'])} / {_ms(il['steady_s'])} | {_counts(il)} ({_counts(fl)}) |"
        )
    out.append(
        "\nA fresh process per sample (median over the samples after one discarded warm-up): `import "
        "interlingua.effects`, a `Client` from the DEFAULT `LlmConfig` (only base URL and key set) entered with "
        "`async with` (the pool opens there), then `chat` 7 times with the same request. Call 1 pays every lazy load and the TCP connect; call 2 "
        "reuses the connection; steady = median of calls 3-7. *call 2 ÷ steady* ≫ 1 means a load moved "
        "from call 1 to call 2 (e.g. a tokenizer needed once rate-limit headers are known), which the "
        "issue's call 1 ÷ call 2 would reward, so ✓ needs both ≤ 2x; *peak RSS after 7 calls* (VmHWM) shows it too. The floor "
        "column is the same sequence through the hand-written aiohttp + msgspec floor: what a fresh "
        "connection and aiohttp's own first use cost with nothing to load. The call counts come from one "
        "more (untimed) process per provider with each call under its own cProfile: deterministic, "
        "imports made during a call included."
    )
    return out


# --- part: resilience on ÷ off in one process ---------------------------------------------------------


def bootstrap_median(xs: Sequence[float], n_boot: int = 4000, seed: int = 19) -> tuple[float, float, float]:
    """The median of ``xs`` and a percentile-bootstrap 95 % interval for it (seeded: the same
    samples always give the same interval).

    >>> m, lo, hi = bootstrap_median([1.0, 1.02, 0.98, 1.01, 0.99])
    >>> m, lo <= m <= hi
    (1.0, True)
    """
    import random

    rng = random.Random(seed)
    n = len(xs)
    meds = sorted(statistics.median(rng.choices(xs, k=n)) for _ in range(n_boot))
    return statistics.median(xs), meds[int(0.025 * n_boot)], meds[min(n_boot - 1, int(0.975 * n_boot))]


def verdict(lo: float, hi: float, limit: float) -> str:
    """``met`` when the whole interval is within the limit, ``missed`` when the whole of it is over,
    else ``inconclusive``.

    >>> verdict(0.99, 1.04, 1.05), verdict(1.06, 1.1, 1.05), verdict(1.0, 1.08, 1.05)
    ('met', 'missed', 'inconclusive')
    """
    return "met" if hi <= limit else "missed" if lo > limit else "inconclusive"


def _paired_figures(per: dict[str, Any], limit: float) -> dict[str, Any] | None:
    """One cell of a one-process worker's output: the pairs' ratios (``on`` ÷ ``off``), their median and
    bootstrap interval, the verdict against ``limit`` and the Python-call ratio (``None``: under 3 pairs)."""
    ratios = [a / b for a, b in zip(per["on"], per["off"], strict=True) if a and b]
    if len(ratios) < 3:
        return None
    med, lo, hi = bootstrap_median(ratios)
    on_calls, off_calls = (per.get("on_calls") or [None])[0], (per.get("off_calls") or [None])[0]
    return {"ratios": ratios, "median": med, "lo": lo, "hi": hi, "limit": limit, "verdict": verdict(lo, hi, limit),
            "calls_ratio": on_calls / off_calls if on_calls and off_calls else None, "on_calls": on_calls,
            "off_calls": off_calls, "off_cpu": statistics.median(x for x in per["off"] if x)}


def run_resilience(mode: Mode, scs: list[Scenario], notes: Notes) -> dict[str, dict[str, dict[str, Any]]]:
    """Per provider and mode (non-stream, stream): the per-pair CPU ratios on ÷ off, their median
    and bootstrap interval (``benchmarks._resilience`` runs both clients in one process)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    timeout = 120 + 4 * mode.res_blocks * mode.res_seconds * 2
    for i, s in enumerate(scs):
        print(f"[resilience {i + 1}/{len(scs)}] {s.provider}", file=sys.stderr, flush=True)
        spec = {"scenario": asdict(s), "blocks": mode.res_blocks, "n_once": mode.res_n[0], "n_stream": mode.res_n[1],
                "seconds": mode.res_seconds, "warmup": max(2, mode.warmup // 4)}
        try:
            res = _child("benchmarks._resilience", spec, timeout)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            notes.add(f"resilience {s.provider}: worker failed: {str(e)[-400:]}")
            continue
        for m, per in res.items():
            figures = _paired_figures(per, 1.05)
            if figures is None:
                notes.add(f"resilience {s.provider} {m}: too few blocks")
                continue
            out.setdefault(s.provider, {})[m] = figures
    return out


def run_paired(mode: Mode, scs: list[Scenario], notes: Notes) -> dict[str, dict[str, dict[str, Any]]]:
    """Per provider and cell (``once@1``, ``stream@32``, …): interlingua ÷ the floor, both clients in one
    process (``benchmarks._resilience`` with ``"pair": "floor"``), as per-pair CPU ratios with their
    median and bootstrap interval against the cell's target (1.25x a request, 1.5x a stream)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    timeout = 120 + 4 * mode.pair_blocks * mode.pair_seconds * 2
    for i, s in enumerate(scs):
        for j, conc in enumerate(mode.concs):
            print(f"[paired {i + 1}/{len(scs)}] {s.provider} c{conc}", file=sys.stderr, flush=True)
            spec = {"scenario": asdict(s), "pair": "floor", "conc": conc, "blocks": mode.pair_blocks,
                    "n_once": mode.pair_n[j], "n_stream": mode.pair_n[2 + j], "seconds": mode.pair_seconds,
                    "warmup": max(2, mode.warmup // (4 * conc))}
            try:
                res = _child("benchmarks._resilience", spec, timeout)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                notes.add(f"paired {s.provider} c{conc}: worker failed: {str(e)[-400:]}")
                continue
            for m, per in res.items():
                figures = _paired_figures(per, 1.25 if m == "once" else 1.5)  # a request's target, a stream's (chunks)
                if figures is None:
                    notes.add(f"paired {s.provider} {m} c{conc}: too few blocks")
                    continue
                out.setdefault(s.provider, {})[f"{m}@{conc}"] = figures
    return out


def paired_table(paired: dict[str, dict[str, dict[str, Any]]], mode: Mode) -> list[str]:
    out = ["| provider | cell | interlingua ÷ floor CPU (median of pairs) | 95 % interval | target | verdict "
           "| Python calls ratio | floor: CPU per request (absolute) |",
           "|---|---|---|---|---|---|---|---|"]
    for p in sorted(paired, key=list(PROVIDERS).index):
        for cell, r in paired[p].items():
            m, conc = cell.split("@")
            calls = f"{r['calls_ratio']:.2f}x" if r.get("calls_ratio") else "-"
            out.append(f"| {p} | {'request' if m == 'once' else 'stream'} c{conc} | {r['median']:.3f}x | {r['lo']:.3f}-{r['hi']:.3f}x "
                       f"| ≤ {r['limit']}x | {r['verdict']} | {calls} | {_ms(r['off_cpu'])} |")
    n1, n32, s1, s32 = mode.pair_n
    out.append(
        f"\nThe per-request and per-stream targets measured a second way: ONE process holds `interlingua` (default "
        f"config) and the floor (each its own connection pool, the same fake) and alternates blocks between them, "
        f"ABBA-ordered, {mode.pair_blocks} pairs per cell: ≤ {n1} requests or ≤ {s1} streams in turn at c1; ≤ {n32} "
        f"(requests) or ≤ {s32} (streams) gathers of {mode.concs[1]} at c{mode.concs[1]}; each block also stops after "
        f"{mode.pair_seconds:g} s. A pair's ratio is its two blocks' CPU time (`time.process_time`) per request (per "
        "stream: the two clients read the same chunks, so this is the per-chunk ratio too). Median of the pairs with a "
        "percentile-bootstrap 95 % interval: met if the upper end is within the target, missed if the lower end is "
        "over it, else inconclusive. Python calls: a cProfile pass over 20 more calls of each client, per request."
    )
    return out


def resilience_table(res: dict[str, dict[str, dict[str, Any]]], mode: Mode) -> list[str]:
    out = ["| provider | mode | on ÷ off CPU (median of pairs) | 95 % interval | ≤ 1.05x | on ÷ off Python calls "
           "| calls per call on / off | off: CPU per call (absolute) |",
           "|---|---|---|---|---|---|---|---|"]
    for p in sorted(res, key=list(PROVIDERS).index):
        for m, r in res[p].items():
            calls = f"{r['calls_ratio']:.3f}x" if r.get("calls_ratio") else "-"
            counts = f"{r['on_calls']:.0f} / {r['off_calls']:.0f}" if r.get("calls_ratio") else "-"
            out.append(f"| {p} | {'non-stream' if m == 'once' else 'stream'} | {r['median']:.3f}x "
                       f"| {r['lo']:.3f}-{r['hi']:.3f}x | {r['verdict']} | {calls} | {counts} | {_ms(r['off_cpu'])} |")
    out.append(
        f"\nOne client process holds both clients (each its own connection pool, the same fake): "
        f"`interlingua` (default config: retries, breaker, budget guard) and `interlingua-bare` (retries "
        f"off, breaker off, no guard work). {mode.res_blocks} pairs of blocks of ≤ {mode.res_n[0]} requests "
        f"(≤ {mode.res_n[1]} streams) at concurrency 1, ABBA-ordered; a pair's ratio is its two blocks' "
        "CPU time (`time.process_time`) per call. Median of the pairs' ratios with a percentile-bootstrap "
        "95 % interval: met if the interval's upper end is ≤ 1.05, missed if its lower end is > 1.05, "
        "else inconclusive. The call columns come from a cProfile pass over "
        "20 more calls of each client after the timed blocks: Python-level function calls per call (aiohttp's "
        "included, on both sides), which do not depend on the machine's load."
    )
    return out


# --- how long a run takes ------------------------------------------------------------------------------

# Seconds each client's worker spends outside its timed cells (interpreter start, imports, client
# set-up, warm-ups) on the 2-core VM the results come from: the interlingua rows measured (--quick),
# the SDK rows from their import times (section 3) plus the same set-up; LiteLLM's import dominates its row.
STARTUP_S: dict[str, float] = {"floor": 1.0, "interlingua": 1.4, "interlingua-bare": 1.4, "interlingua-uvloop": 1.4,
                               "openai-sdk": 3.5, "anthropic-sdk": 4.0, "gemini-sdk": 4.0, "ollama-sdk": 2.0, "litellm": 10.5}
# Seconds for one sample of each import target (a fresh interpreter).
IMPORT_S: dict[str, float] = {"bare": 0.05, "baseline": 0.7, "interlingua": 0.8, "openai": 2.5, "anthropic": 3.0, "litellm": 9.0}
# The parts that run their own benchmark modules, full mode.
OTHER_PARTS_S: dict[str, float] = {"tokens": 15.0, "batch": 120.0, "redis": 30.0}


def estimate_seconds(mode: Mode, scs: Sequence[Scenario], clients: Sequence[str], parts: Sequence[str]) -> dict[str, float]:
    """A deterministic estimate of each part's duration, from the cell/repetition arithmetic: the
    full run must fit in 45 minutes on 2 cores (issue 19), and this is how its size was chosen."""
    out: dict[str, float] = {}
    if "clients" in parts:
        pairs = [(s, c) for s in scs for c in clients if s.provider in CLIENTS[c].providers]
        per_cells = 2 * len(mode.concs) * mode.seconds
        out["clients"] = mode.reps * sum(per_cells + STARTUP_S.get(c, 2.0) for _, c in pairs)
    if "paired" in parts:
        # per provider and concurrency: two clients' start-up, then the blocks (wall per request as measured
        # in full runs: ~0.6 ms per request and ~2 ms per stream at c1; ~0.25 and ~1.2 ms per request of a
        # c32 gather), never past pair_seconds
        n1, n32, s1, s32 = mode.pair_n
        c32 = mode.concs[1]
        block = (min(mode.pair_seconds, n1 * 0.0006) + min(mode.pair_seconds, n32 * c32 * 0.00025)
                 + min(mode.pair_seconds, s1 * 0.002) + min(mode.pair_seconds, s32 * c32 * 0.0012))
        out["paired"] = len(scs) * (2 * mode.pair_blocks * block + 2 * 4.0)
    if "resilience" in parts:
        # wall per call at c1 against the fake, as the full runs measured it (this part took 2.0 min where
        # 0.8 ms per request and 2.5 ms per stream had estimated 4.9): ~0.3 ms per request, ~0.8 ms per stream
        block = min(mode.res_seconds, mode.res_n[0] * 0.0003) + min(mode.res_seconds, mode.res_n[1] * 0.0008)
        out["resilience"] = len(scs) * (2 * mode.res_blocks * block + 4.0)
    if "capacity" in parts:
        # per scenario and mode: the fakes, then aiohttp's canned floor; each a fresh fake and client process
        out["capacity"] = len(scs) * 2 * 2 * (mode.cap_seconds + 3.5)
    if "firstcall" in parts:
        out["firstcall"] = (mode.firstcall_reps + 2) * len(scs) * 2 * 0.9
    if "import" in parts:
        out["import"] = (mode.import_reps + 1) * sum(IMPORT_S.get(t, 1.0) for t in ("bare", *mode.import_targets)) + \
            mode.import_pair_reps * sum(IMPORT_S[t] for t in ("baseline", "interlingua") if t in mode.import_targets)
    if "core" in parts:
        out["core"] = len(scs) * (3 * mode.core_budget + 1.0)
    scale = 1.0 if mode.name == "full" else 0.2  # BENCH_QUICK: 2,000 calls instead of 10,000 (batch), 300 vs 1,500 (redis)
    for p, s in OTHER_PARTS_S.items():
        if p in parts:
            out[p] = s * scale
    return out


def estimate(mode: Mode, scs: Sequence[Scenario], clients: Sequence[str], parts: Sequence[str]) -> str:
    est = estimate_seconds(mode, scs, clients, parts)
    detail = ", ".join(f"{k} ~{v / 60:.1f}" for k, v in est.items())
    return f"estimate: ~{sum(est.values()) / 60:.0f} min in all ({detail} min)"


# --- report -------------------------------------------------------------------------------------


def _ver(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def machine_info(fake: dict[str, Any] | None) -> list[str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
        commit = commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        commit = "?"
    vers = ", ".join(f"{d} {_ver(d)}" for d in ("aiohttp", "msgspec", "returns", "openai", "anthropic", "google-genai", "ollama", "litellm", "uvloop"))
    return [
        f"- date: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} logical CPUs",
        f"- python: {platform.python_implementation()} {platform.python_version()}",
        f"- interlingua: {_ver('interlingua')} (git {commit or '?'})",
        f"- packages: {vers}",
        f"- fake server loop: {(fake or {}).get('loop', '?')} (separate process); clients on the stock asyncio loop (the `-uvloop` rows on uvloop.run)",
    ]


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1e3:.3f} ms" if x >= 1e-3 else f"{x * 1e6:.1f} µs"


def _ratio(x: float | None, base: float | None, target: float | None = None) -> str:
    if x is None or not base:
        return "-"
    r = x / base
    mark = "" if target is None else (" ✓" if r <= target else " ✗")
    return f"{r:.2f}x{mark}"


def client_tables(summary: dict[str, Any], mode: Mode, events: dict[str, float]) -> list[str]:
    c1, c32 = mode.concs
    out: list[str] = []
    providers = sorted({k.split("/")[0] for k in summary}, key=list(PROVIDERS).index)
    for p in providers:
        floor = summary.get(f"{p}/floor")
        if not floor:
            out.append(f"\n### {p}: no floor figures (floor worker failed); no ratios\n")
            continue
        ev = events.get(p)
        out.append(f"\n### {p} (stream: {ev:.0f} wire events per stream)\n" if ev else f"\n### {p}\n")
        out.append(
            f"| client | CPU/request c{c1} | CPU/request c{c32} | CPU/chunk c{c1} | CPU/chunk c{c32} "
            f"| req/s c{c1} | req/s c{c32} | streams/s c{c1} | streams/s c{c32} |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        keys = [f"once@{c1}", f"once@{c32}", f"stream@{c1}", f"stream@{c32}"]
        base = {k: floor.get(k, {}) for k in keys}
        for client in CLIENT_ORDER:
            row = summary.get(f"{p}/{client}")
            if not row:
                continue
            is_il = client.startswith("interlingua")
            cells: list[str] = []
            for i, k in enumerate(keys):
                x, b = row.get(k, {}).get("cpu_per_req"), base[k].get("cpu_per_req")
                target = (1.25 if i < 2 else 1.5) if is_il else None
                if client == "floor":
                    per = (b / ev) if (i >= 2 and b and ev) else b
                    cells.append(f"1x ({_ms(per)})")
                else:
                    cells.append(_ratio(x, b, target))
            for k in keys:
                x, b = row.get(k, {}).get("rps"), base[k].get("rps")
                cells.append(f"1x ({b:.0f}/s)" if client == "floor" and b else _ratio(x, b))
            out.append(f"| {client} | " + " | ".join(cells) + " |")
        out.append(
            "\nCPU columns: client CPU time (all threads of the client process) per request, and per stream "
            "chunk (CPU per stream ÷ wire events per stream, the same denominator for every client), as a ratio "
            "to the floor; ✓/✗ = interlingua's target (≤ 1.25x per request, ≤ 1.5x per chunk). Throughput "
            "columns: ratio of requests (streams) completed per second; higher is better."
        )
    return out


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def targets_summary(summary: dict[str, Any], mode: Mode, imports: dict[str, Any], firstcall: dict[str, Any] | None = None,
                    resilience: dict[str, Any] | None = None, capacity: dict[str, Any] | None = None,
                    paired: dict[str, Any] | None = None) -> list[str]:
    """One row per issue-19 target and provider: the measured ratio and met / missed (inconclusive
    where the measurement says which way it cannot tell: the one-process resilience rows)."""
    c1, c32 = mode.concs
    out = ["| target | measured | verdict |", "|---|---|---|"]
    providers = sorted({k.split("/")[0] for k in summary} | set(firstcall or {}) | set(resilience or {}) | set(capacity or {})
                       | set(paired or {}),
                       key=list(PROVIDERS).index)
    for p in providers:
        floor = summary.get(f"{p}/floor", {})
        il = summary.get(f"{p}/interlingua", {})
        for k, lim, what in (
            (f"once@{c1}", 1.25, "CPU/request"), (f"once@{c32}", 1.25, "CPU/request"),
            (f"stream@{c1}", 1.5, "CPU/chunk"), (f"stream@{c32}", 1.5, "CPU/chunk"),
        ):
            x, b = il.get(k, {}).get("cpu_per_req"), floor.get(k, {}).get("cpu_per_req")
            if x and b:
                out.append(f"| {p} {what} {k.replace('@', ' c')} ≤ {lim}x floor | {x / b:.2f}x | {_met(x / b <= lim)} |")
            r = (paired or {}).get(p, {}).get(k)
            if r:
                out.append(f"| {p} {what} {k.replace('@', ' c')} ≤ {lim}x floor, one process (paired) "
                           f"| {r['median']:.3f}x (95 %: {r['lo']:.3f}-{r['hi']:.3f}) | {r['verdict']} |")
        for sdk, lim in (("openai-sdk", 5.0), ("anthropic-sdk", 5.0), ("gemini-sdk", 5.0), ("ollama-sdk", 5.0), ("litellm", 20.0)):
            s = summary.get(f"{p}/{sdk}")
            if not s:
                continue
            for k in (f"once@{c32}", f"stream@{c32}"):
                x, y = il.get(k, {}).get("cpu_per_req"), s.get(k, {}).get("cpu_per_req")
                if x and y:
                    out.append(f"| {p} {sdk} CPU ÷ interlingua CPU, {k.replace('@', ' c')} ≥ {lim:.0f}x | {y / x:.1f}x | {_met(y / x >= lim)} |")
        for m, r in (resilience or {}).get(p, {}).items():
            calls = f"; Python calls {r['calls_ratio']:.2f}x" if r.get("calls_ratio") else ""
            out.append(f"| {p} retry + breaker + budget on ÷ off, {'non-stream' if m == 'once' else 'stream'} c1, one process "
                       f"≤ 1.05x | {r['median']:.3f}x (95 %: {r['lo']:.3f}-{r['hi']:.3f}"
                       f"{calls}) | {r['verdict']} |")
        fc = (firstcall or {}).get(p, {}).get("interlingua")
        if fc:
            ratio, rss = fc["first_over_second"], fc["rss_first_kib"] / 1024
            # A load deferred from call 1 to call 2 would pass "call 1 ≤ 2x call 2" while the tax is
            # still paid on the first calls, so the row is met only if call 2 is itself near steady.
            late = fc["second_over_steady"]
            why = " — a load was deferred to call 2" if ratio <= 2 < late else ""
            out.append(f"| {p} first call ÷ second call, fresh process, default config ≤ 2x (and call 2 ≤ 2x steady) "
                       f"| {ratio:.2f}x (call 2 ÷ steady {late:.2f}x){why} | {_met(ratio <= 2 and late <= 2)} |")
            peak = fc["hwm_last_kib"] / 1024
            out.append(f"| {p} RSS after the first call ≤ 45 MiB | {rss:.1f} MiB | {_met(rss <= 45)} |")
            out.append(f"| {p} peak RSS over the first 7 calls ≤ 45 MiB | {peak:.1f} MiB | {_met(peak <= 45)} |")
        for m, head in capacity_rows(capacity or {}, p):
            out.append(f"| {p} fake capacity ≥ 3x the fastest client's CPU-bound rate, {'non-stream' if m == 'once' else 'stream'} "
                       f"c{c32} | {head:.2f}x | {_met(head >= 3)} |")
    b, il_imp = imports.get("baseline"), imports.get("interlingua")
    if b and il_imp:
        r = il_imp["s"] / b["s"]
        pairs = il_imp.get("pairs") or []
        if len(pairs) >= 3:
            med, lo, hi = bootstrap_median(pairs)
            out.append(f"| import interlingua.effects ≤ 1.3x import aiohttp, msgspec | {med:.2f}x (95 %: {lo:.2f}-{hi:.2f} over "
                       f"{len(pairs)} pairs, ratio of medians {r:.2f}x) | {verdict(lo, hi, 1.3)} |")
        else:
            out.append(f"| import interlingua.effects ≤ 1.3x import aiohttp, msgspec | {r:.2f}x | {_met(r <= 1.3)} |")
        out.append(f"| RSS after import interlingua.effects ≤ 45 MiB | {il_imp['rss_mib']:.1f} MiB | {_met(il_imp['rss_mib'] <= 45)} |")
    out.append(
        "\nCPU rows: section 1 (medians over fresh processes); their \"one process (paired)\" rows: section 5c. "
        "Resilience rows: section 5b (one process, bootstrap interval). First-call and RSS rows: section 3. Fake-capacity rows: section 4. The import "
        "row's ratio is the median of per-repetition pairs (the two imports run back to back), with its "
        "bootstrap interval."
    )
    return out


def core_table(core: list[dict[str, Any]]) -> list[str]:
    out = [
        "| provider | decode ÷ json.loads (time) | encode ÷ msgspec.encode(dict) | encode ÷ json.dumps(dict) "
        "| dialect encode ÷ msgspec | stream fold ÷ floor split (time) | fold MB/s ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in core:
        d, e, f = r["decode"], r["encode"], r["fold"]
        dec = d["interlingua"] / d["json.loads"]
        out.append(
            f"| {r['provider']} | {dec:.2f}x ({1 / dec:.2f}x faster{' ✓' if 1 / dec >= 1.5 else ' ✗'}) "
            f"| {e['interlingua'] / e['msgspec']:.2f}x | {e['interlingua'] / e['json.dumps']:.2f}x "
            f"| {e['dialect'] / e['msgspec']:.2f}x | {f['interlingua'] / f['floor']:.2f}x | {f['floor'] / f['interlingua']:.2f}x |"
        )
    out.append("\nBaselines, for orientation: " + "; ".join(
        f"{r['provider']}: json.loads {_ms(r['decode']['json.loads'])} for a {r['body_bytes']}-byte body, "
        f"msgspec.encode {_ms(r['encode']['msgspec'])}, floor split {_ms(r['fold']['floor'])} for a "
        f"{r['stream_bytes']}-byte, {r['stream_events']}-event stream "
        f"({r['stream_bytes'] / r['fold']['floor'] / 1e6:.0f} MB/s)"
        for r in core
    ) + ".")
    out.append(
        "Time ratios: lower is better. decode target: ≥ 1.5x faster than json.loads (which only builds "
        "dicts, with no validation and no normal form). encode = the whole HttpRequest (URL, headers, body) "
        "from a typed ChatRequest vs serialising a ready-made wire dict."
    )
    return out


def import_table(imports: dict[str, Any]) -> list[str]:
    b = imports.get("baseline")
    out = ["| import | time | peak RSS (absolute) |", "|---|---|---|"]
    for t, (label, _) in IMPORTS.items():
        r = imports.get(t)
        if not r:
            continue
        if t == "bare":
            time_cell = "- (interpreter start-up only)"
        elif t == "baseline":
            time_cell = f"1x ({r['s'] * 1e3:.0f} ms)"
        else:
            time_cell = _ratio(r["s"], b["s"]) if b else "-"
        out.append(f"| {label} | {time_cell} | {r['rss_mib']:.1f} MiB |")
    out.append("\nFresh interpreter per sample, median of the samples after one discarded warm-up; time is the "
               "import statement alone, RSS is the process's peak (ru_maxrss, interpreter included).")
    return out


def run_capacity(mode: Mode, scs: Sequence[Scenario], notes: Notes) -> dict[str, dict[str, dict[str, Any]]]:
    """Per provider and mode: the fakes' own CPU under the floor client at c32, and the same load on
    aiohttp's canned floor (recorded answers replayed by a bare handler): ``benchmarks.fake_capacity``.
    Each load has a fresh fake process of its own, so the figure is the fake's alone."""
    from .fake_capacity import measure

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in scs:
        for i, m in enumerate(("once", "stream")):
            print(f"[capacity] {s.provider:<16} {m}", file=sys.stderr, flush=True)
            got: dict[str, Any] = {}
            for kind, canned in (("fake", False), ("canned", True)):
                try:
                    r = measure(s.provider, m, mode.cap_seconds, mode.cap_n[i], canned=canned)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError, OSError) as e:
                    r = {"error": str(e)[-300:]}
                if "error" in r:
                    notes.add(f"capacity {s.provider} {m} ({kind}): {r['error'][:200]}")
                    continue
                got[kind] = r
            if got:
                out.setdefault(s.provider, {})[m] = got
    return out


def capacity_rows(capacity: dict[str, Any], p: str) -> list[tuple[str, float]]:
    """(mode, fake capacity ÷ the floor client's CPU-bound rate) for ``p``."""
    return [(m, r["fake"]["capacity_x_floor"]) for m, r in capacity.get(p, {}).items()
            if r.get("fake", {}).get("capacity_x_floor")]


def capacity_table(capacity: dict[str, Any], notes: Notes) -> list[str]:
    out = [
        "| provider | mode | fake CPU / request | fake CPU / stream event | fake capacity ÷ floor client's CPU-bound rate (≥ 3x) "
        "| aiohttp's canned floor ÷ floor client | fake's kernel share |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in sorted(capacity, key=list(PROVIDERS).index):
        for m, r in capacity[p].items():
            f, c = r.get("fake"), r.get("canned")
            if f is None:
                continue
            cap = f.get("capacity_x_floor")  # None: the load was too short for /proc's clock ticks
            ev = f"{f['fake_us_per_event']:.1f} µs" if f.get("fake_us_per_event") else "-"
            canned = f"{c['capacity_x_floor']:.2f}x" if c and c.get("capacity_x_floor") else "-"
            verdict = "-" if cap is None else f"{cap:.2f}x {'✓' if cap >= 3 else '✗'}"
            out.append(f"| {p} | {'non-stream' if m == 'once' else 'stream'} | {f['fake_us_per_req']:.0f} µs | {ev} "
                       f"| {verdict} | {canned} | {f['system_share']:.0%} |")
            if cap is not None and cap < 3:
                notes.add(f"{p} {m}: one core running the fake serves {cap:.1f}x the floor client's CPU-bound rate (< 3x): "
                          "requests/s at c32 is bounded by the fake; CPU per request and per chunk still measure the client")
    out.append(
        "\nEach row: a fresh fake process (uvloop when installed) under the hand-written floor client at concurrency 32 "
        "(`python -m benchmarks.fake_capacity`); fake CPU = user + system time of the fake process (/proc) over the "
        "timed load ÷ requests (÷ wire events for streams). Capacity ÷ floor = (1 ÷ fake CPU per request) ÷ (1 ÷ the "
        "floor client's CPU per request): the rate one core running the fake sustains, in units of the fastest "
        "client's CPU-bound rate. *aiohttp's canned floor* is the same load answered by a bare aiohttp handler that "
        "replays recorded bytes (one write per stream event): the most an aiohttp server can do here, whatever the "
        "fake's own code."
    )
    return out


def tokens_part(mode: Mode, notes: Notes, bench: str = "tokens") -> list[str]:
    """The output of ``python -m benchmarks.<bench>_bench`` (a part that measures its own baselines)."""
    module = f"{bench}_bench"
    if not (HERE / f"{module}.py").exists():
        notes.add(f"{bench}: benchmarks/{module}.py is not present in this checkout; skipped")
        return []
    env = _env()
    if mode.name != "full":
        env["BENCH_QUICK"] = "1"
    try:
        r = subprocess.run([sys.executable, "-m", f"benchmarks.{module}"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        notes.add(f"{bench}: benchmarks.{module} timed out after 600 s")
        return []
    if r.returncode != 0:
        notes.add(f"{bench}: benchmarks.{module} exited {r.returncode}: {r.stderr.strip()[-300:]}")
        return []
    return [f"Output of `python -m benchmarks.{module}` (its own baselines):", "", "```", r.stdout.rstrip(), "```"]


def batch_part(mode: Mode, notes: Notes) -> list[str]:
    """``benchmarks/batch_bench.py``: chat_many against a naive gather (its own fake process and baselines)."""
    env = _env()
    if mode.name != "full":
        env["BENCH_QUICK"] = "1"
    try:
        r = subprocess.run([sys.executable, "-m", "benchmarks.batch_bench"], capture_output=True, text=True, cwd=ROOT,
                           env=env, timeout=1800)
    except subprocess.TimeoutExpired:
        notes.add("batch: benchmarks.batch_bench timed out after 1800 s")
        return []
    if r.returncode != 0:
        notes.add(f"batch: benchmarks.batch_bench exited {r.returncode}: {r.stderr.strip()[-300:]}")
        return []
    return ["Output of `python -m benchmarks.batch_bench` (its own baselines):", "", "```", r.stdout.rstrip(), "```"]


ANALYSIS = (Path(__file__).with_name("ANALYSIS.md"))


def render(sections: list[tuple[str, list[str]]], mode: Mode, fake: dict[str, Any] | None, notes: Notes) -> str:
    lines = [
        "# interlingua benchmark results",
        "",
        f"Generated by `python -m benchmarks{'' if mode.name == 'full' else ' --' + mode.name}` "
        f"({mode.name} mode: median of {mode.reps} interleaved repetitions, each client in a fresh process, "
        f"cells of ≤ {mode.seconds:g} s). Every figure is a ratio to a baseline measured in this same run; "
        "absolute values appear only in the baseline rows, for orientation. Re-run: `python -m benchmarks` "
        "(`--quick` for a 3-repetition run, `--parts`, `--providers`, `--clients` to select).",
        "",
        *machine_info(fake),
    ]
    for title, body in sections:
        if body:
            lines += ["", f"## {title}", "", *body]
    if notes.lines:
        lines += ["", "## Notes from this run", "", *(f"- {n}" for n in notes.lines)]
    if ANALYSIS.exists():
        lines += ["", ANALYSIS.read_text().strip()]
    return "\n".join(lines) + "\n"


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="interlingua vs the floor, the official SDKs and LiteLLM.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", const="quick", dest="mode", help="3 repetitions, 1 s cells, shorter first-call and resilience parts (~19 min for all 9 scenarios and clients on 2 cores; "
                   "the run prints its own time at the end)")
    g.add_argument("--smoke", action="store_const", const="smoke", dest="mode", help="the smallest run: proves the harness works")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated providers (default: all with a dialect and a fake)")
    p.add_argument("--clients", default=None, help=f"comma-separated subset of {','.join(CLIENT_ORDER)}")
    p.add_argument("--reps", type=int, default=None, help="override the number of repetitions")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"), help="where to write the Markdown report ('-' = don't write)")
    p.add_argument("--json", default=None, help="also dump every raw figure to this JSON file")
    p.set_defaults(mode="full")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    took: dict[str, float] = {}  # seconds per part, printed at the end next to the estimate
    mode = MODES[args.mode]
    if args.reps:
        mode = Mode(**{**asdict(mode), "reps": args.reps})
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        print(f"unknown parts: {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}", file=sys.stderr)
        return 2
    clients = [c.strip() for c in args.clients.split(",")] if args.clients else list(mode.clients)
    bad = [c for c in clients if c not in CLIENTS]
    if bad:
        print(f"unknown clients: {', '.join(bad)}; choose from {', '.join(CLIENT_ORDER)}", file=sys.stderr)
        return 2
    if "floor" not in clients:
        clients.insert(0, "floor")  # every client figure is a ratio to it
    notes = Notes()
    sections: list[tuple[str, list[str]]] = []
    dump: dict[str, Any] = {"mode": mode.name}
    need_fake = bool({"clients", "core", "capacity", "resilience", "paired", "firstcall"} & set(parts))
    fake: FakeProcess | None = FakeProcess(max_seconds=7200) if need_fake else None
    summary: dict[str, Any] = {}
    core: list[dict[str, Any]] = []
    firstcall: dict[str, Any] = {}
    resilience: dict[str, Any] = {}
    paired: dict[str, Any] = {}
    events: dict[str, float] = {}
    try:
        scs = scenarios(fake.info, [x.strip() for x in args.providers.split(",") if x.strip()], notes) if fake else []
        if scs:
            print(estimate(mode, scs, clients, parts), file=sys.stderr, flush=True)
        if "clients" in parts and scs:
            t0 = time.perf_counter()
            res = run_clients(mode, scs, clients, fake.info, notes)  # type: ignore[union-attr]
            took["clients"] = time.perf_counter() - t0
            summary = summarize_clients(res["raw"])
            dump["clients"] = {"raw": res["raw"], "summary": summary}
        events = {s.provider: (summary.get(f"{s.provider}/floor", {}).get(f"stream@{mode.concs[0]}", {}).get("items_per_req") or 0) for s in scs}
        if "resilience" in parts and scs:
            t0 = time.perf_counter()
            resilience = run_resilience(mode, scs, notes)
            took["resilience"] = time.perf_counter() - t0
            dump["resilience"] = resilience
        if "paired" in parts and scs:
            t0 = time.perf_counter()
            paired = run_paired(mode, scs, notes)
            took["paired"] = time.perf_counter() - t0
            dump["paired"] = paired
        if "firstcall" in parts and scs:
            print("firstcall: fresh processes", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            firstcall = run_firstcall(mode, scs, notes)
            took["firstcall"] = time.perf_counter() - t0
            dump["firstcall"] = firstcall
        if "core" in parts and scs:
            print("core: pure encode / decode / fold", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                core = _child("benchmarks._core", {"scenarios": [asdict(s) for s in scs], "budget": mode.core_budget}, 600)["providers"]
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                notes.add(f"core: worker failed: {str(e)[-400:]}")
            dump["core"] = core
            took["core"] = time.perf_counter() - t0
            for r in core:
                events.setdefault(r["provider"], r["stream_events"])
                if not events[r["provider"]]:
                    events[r["provider"]] = r["stream_events"]
    finally:
        if fake:
            fake_info = fake.info
            fake.close()
        else:
            fake_info = None
    capacity: dict[str, Any] = {}
    if "capacity" in parts and scs:
        t0 = time.perf_counter()
        capacity = run_capacity(mode, scs, notes)
        dump["capacity"] = capacity
        took["capacity"] = time.perf_counter() - t0
    imports: dict[str, Any] = {}
    if "import" in parts:
        print("imports: fresh interpreters", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        imports = run_imports(mode, notes)
        dump["imports"] = imports
        took["import"] = time.perf_counter() - t0
    if summary and "clients" in parts:
        sections.append(("1. Client CPU and throughput (ratio to the floor)", client_tables(summary, mode, events)))
    if core:
        sections.append(("2. Pure core (time ratio to a baseline on the same bytes)", core_table(core)))
    if imports or firstcall:
        sections.append(("3. Import time, first call and memory (fresh processes)",
                         (import_table(imports) if imports else []) + (["", *firstcall_table(firstcall)] if firstcall else [])))
    if capacity:
        sections.append(("4. The fake's own capacity", capacity_table(capacity, notes)))
    if summary or imports or firstcall or resilience or capacity or paired:
        sections.append(("5. Targets (issue 19)", targets_summary(summary, mode, imports, firstcall, resilience, capacity, paired)))
    if resilience:
        sections.append(("5b. Resilience on ÷ off, one process (retry + breaker + budget guard)", resilience_table(resilience, mode)))
    if paired:
        sections.append(("5c. interlingua ÷ floor, one process (the per-request and per-chunk targets, paired)", paired_table(paired, mode)))
    if "tokens" in parts:
        t0 = time.perf_counter()
        sections.append(("6. Tokenizer (benchmarks/tokens_bench.py)", tokens_part(mode, notes)))
        took["tokens"] = time.perf_counter() - t0
    if "batch" in parts:
        t0 = time.perf_counter()
        sections.append(("7. Fan-out: chat_many (benchmarks/batch_bench.py)", batch_part(mode, notes)))
        took["batch"] = time.perf_counter() - t0
    if "redis" in parts:
        t0 = time.perf_counter()
        sections.append(("8. Shared state: Redis store vs in-process (benchmarks/redis_bench.py)", tokens_part(mode, notes, "redis")))
        took["redis"] = time.perf_counter() - t0
    report = render(sections, mode, fake_info, notes)
    print(report)
    if args.out != "-":
        Path(args.out).write_text(report)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=1, default=str))
    print(f"the {mode.name} run took {(time.perf_counter() - started) / 60:.1f} min ("
          + ", ".join(f"{k} {v / 60:.1f}" for k, v in took.items()) + " min)", file=sys.stderr)
    return 0
