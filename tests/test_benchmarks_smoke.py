"""The benchmark harness runs end to end in its smallest mode, so it cannot rot unnoticed.

Its figures are meaningless at this size; nothing here asserts a timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_run_writes_a_report(tmp_path: Path) -> None:
    """`python -m benchmarks --smoke` exits 0 and writes every section it was asked for, as ratios."""
    out = tmp_path / "RESULTS.md"
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--parts", "clients,core", "--providers", "openai",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    assert "### openai" in text
    assert "| floor | 1x (" in text
    assert "| interlingua |" in text
    assert "## 2. Pure core" in text
    assert "worker failed" not in text


def test_smoke_run_covers_the_newer_dialects(tmp_path: Path) -> None:
    """Azure, xAI, Docker Model Runner and Bedrock each get a floor and an interlingua row, and a core row."""
    out = tmp_path / "RESULTS.md"
    providers = ("azure", "xai", "docker", "bedrock")
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--parts", "clients,core", "--providers", ",".join(providers),
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text = out.read_text()
    for p in providers:
        section = text.split(f"### {p} ", 1)[1].split("###", 1)[0]
        assert "| floor | 1x (" in section, p
        assert "| interlingua |" in section, p
        assert f"\n| {p} | " in text, p  # its pure-core row
    assert "worker failed" not in text
    assert "request errors" not in text


def test_floor_eventstream_split_matches_the_library_decoder() -> None:
    """The Bedrock floor's hand event-stream split yields the same messages as core.eventstream, cut anywhere."""
    from benchmarks._clients import _split_eventstream
    from interlingua.core import eventstream
    from interlingua.fakes.bedrock import encode_frame

    body = b"".join(
        encode_frame({":event-type": name, ":content-type": "application/json", ":message-type": "event"}, payload)
        for name, payload in (("messageStart", b'{"role":"assistant"}'),
                              ("contentBlockDelta", '{"delta":{"text":"h\u00e9"}}'.encode()),
                              ("messageStop", b'{"stopReason":"end_turn"}'))
    )
    _, ref = eventstream.feed(eventstream.EventStreamState(), body)
    want = [(m.headers[":event-type"].encode(), m.payload) for m in ref]
    for cut in range(len(body) + 1):
        first, rest = _split_eventstream(body[:cut])
        second, left = _split_eventstream(rest + body[cut:])
        assert left == b""
        assert [(h[b":event-type"], pl) for h, pl in first + second] == want, cut


def test_unknown_part_is_rejected() -> None:
    """A typo in --parts is an error message and exit code 2, not a silent empty run."""
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--parts", "nope", "--out", "-"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "unknown parts" in r.stderr


def test_smoke_run_covers_issue_19_parts(tmp_path: Path) -> None:
    """The Responses API scenario, the uvloop row, the first-call part and the one-process resilience
    and paired (interlingua ÷ floor) parts all run and land in the targets table with a verdict."""
    out = tmp_path / "RESULTS.md"
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--parts", "clients,firstcall,resilience,paired",
         "--providers", "openai_responses", "--clients", "floor,interlingua,interlingua-uvloop", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "estimate: ~" in r.stderr
    text = out.read_text()
    section = text.split("### openai_responses ", 1)[1].split("###", 1)[0]
    for row in ("| floor | 1x (", "| interlingua |", "| interlingua-uvloop |"):
        assert row in section, row
    assert "| openai_responses | " in text.split("## 3.", 1)[1]  # its first-call row
    assert "## 5b. Resilience" in text
    paired = text.split("## 5c.", 1)[1]
    for cell in ("request c1", "stream c1", "request c4", "stream c4"):
        assert f"| openai_responses | {cell} | " in paired, cell
    targets = text.split("## 5. Targets", 1)[1].split("## 5b.", 1)[0]
    for target in ("first call ÷ second call", "RSS after the first call", "on ÷ off, non-stream c1, one process",
                   "on ÷ off, stream c1, one process", "CPU/request once c1 ≤ 1.25x floor, one process (paired)",
                   "CPU/chunk stream c4 ≤ 1.5x floor, one process (paired)"):
        assert f"openai_responses {target}" in targets or target in targets, target
    assert "worker failed" not in text
    assert "request errors" not in text


def test_bootstrap_verdicts() -> None:
    """A tight interval under the limit is met, one over it is missed, one across it inconclusive."""
    from benchmarks._run import bootstrap_median, verdict

    under = [1.0 + 0.001 * (i % 7) for i in range(40)]
    over = [1.2 + 0.001 * (i % 7) for i in range(40)]
    spread = [0.8 + 0.01 * i for i in range(40)]
    verdicts = []
    for xs in (under, over, spread):
        med, lo, hi = bootstrap_median(xs)
        assert lo <= med <= hi
        verdicts.append(verdict(lo, hi, 1.05))
    assert verdicts == ["met", "missed", "inconclusive"]
    assert bootstrap_median(spread) == bootstrap_median(spread)  # seeded: the same samples, the same interval


def test_full_run_fits_in_45_minutes() -> None:
    """The full mode's arithmetic (every provider, every client, every part) stays under 45 minutes."""
    from benchmarks._clients import CLIENTS, Scenario
    from benchmarks._run import CLIENT_ORDER, MODES, PARTS, PROVIDERS, estimate_seconds

    scs = [Scenario(provider=p, model=r.model, prompt="", url="", root="", api_key="") for p, r in PROVIDERS.items()]
    assert set(CLIENT_ORDER) == set(CLIENTS)
    assert sum(estimate_seconds(MODES["full"], scs, CLIENT_ORDER, PARTS).values()) <= 45 * 60
