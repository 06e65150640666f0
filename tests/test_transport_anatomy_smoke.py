"""The transport-anatomy benchmark runs end to end in its smallest mode (its figures mean nothing at this size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_transport_anatomy_smoke() -> None:
    """`python -m benchmarks.transport_anatomy --smoke` exits 0 with a row for each of its four clients,
    each a positive CPU figure, and the floor's ratio to itself 1.00x."""
    r = subprocess.run([sys.executable, "-m", "benchmarks.transport_anatomy", "--smoke"],
                       cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in r.stdout.splitlines() if line.startswith("| ")}
    for name in ("bare exchange", "floor", "interlingua transport", "interlingua"):
        cpu, ratio = rows[name]
        assert float(cpu) > 0 and ratio.strip().endswith("x"), r.stdout
    assert rows["floor"][1].strip() == "1.00x"
    assert "of the floor" in r.stdout
