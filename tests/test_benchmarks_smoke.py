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


def test_unknown_part_is_rejected() -> None:
    """A typo in --parts is an error message and exit code 2, not a silent empty run."""
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--parts", "nope", "--out", "-"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "unknown parts" in r.stderr
