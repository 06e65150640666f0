"""The Redis benchmark row runs end to end at its smallest size (its figures mean nothing here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_redis_bench_prints_both_rows_as_ratios() -> None:
    """`python -m benchmarks.redis_bench` exits 0 with the in-process baseline and the Redis row."""
    r = subprocess.run([sys.executable, "-m", "benchmarks.redis_bench"], cwd=ROOT, capture_output=True, text=True,
                       timeout=180, env={**os.environ, "BENCH_REDIS_CALLS": "30"})
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.split()}
    assert rows["in-process"].split()[1] == "1x"
    assert rows["redis"].split()[1].endswith("x")
