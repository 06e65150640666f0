"""The telemetry benchmark runs end to end in its smallest mode (its figures mean nothing at this size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_telemetry_bench_smoke() -> None:
    """`python -m benchmarks.telemetry_bench --smoke` exits 0 and prints a ratio row for every mode."""
    r = subprocess.run([sys.executable, "-m", "benchmarks.telemetry_bench", "--smoke"],
                       cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    for mode in ("off", "no-op API", "SDK + in-memory"):
        assert sum(line.split()[:3].count(mode.split()[0]) for line in r.stdout.splitlines()) >= 3, r.stdout
    assert "the observer seam alone" in r.stdout
