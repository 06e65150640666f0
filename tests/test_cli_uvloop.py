"""``INTERLINGUA_UVLOOP=1`` runs the CLI on uvloop when it is installed, and is harmless when it is not
(issue 19: uvloop is an opt-in, never a requirement). Real subprocesses, so the loop is the CLI's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("uvloop")

# Wraps uvloop.run to report that the CLI called it, then runs the offline `interlingua demo`.
_SPY = """
import sys
{block}
import {module} as uvloop
real = uvloop.run
def spy(coro, **kw):
    print("ran on uvloop.run", file=sys.stderr)
    return real(coro, **kw)
uvloop.run = spy
from interlingua.effects import cli
sys.exit(cli.main(["demo"]))
"""


def _demo(env_value: str | None, block_uvloop: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "INTERLINGUA_UVLOOP"}
    if env_value is not None:
        env["INTERLINGUA_UVLOOP"] = env_value
    # A blocked import (sys.modules entry None) is how "uvloop is not installed" looks to the CLI;
    # the spy is then installed on a module object the CLI cannot import.
    block = "import uvloop as _u; sys.modules['uvloop'] = None; sys.modules['_spy_uvloop'] = _u" if block_uvloop else ""
    script = _SPY.format(block=block, module="_spy_uvloop" if block_uvloop else "uvloop")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90, env=env, check=False)


def test_cli_runs_on_uvloop_when_asked() -> None:
    """With INTERLINGUA_UVLOOP=1 the demo runs to the end on uvloop.run."""
    done = _demo("1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ran on uvloop.run" in done.stderr
    assert "done: no keys, no network" in done.stdout


def test_cli_stays_on_asyncio_by_default() -> None:
    """Without the variable the CLI never touches uvloop, even when it is installed."""
    done = _demo(None)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ran on uvloop.run" not in done.stderr


def test_cli_without_uvloop_installed_still_runs() -> None:
    """INTERLINGUA_UVLOOP=1 with uvloop not importable falls back to asyncio: exit 0, no traceback."""
    done = _demo("1", block_uvloop=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ran on uvloop.run" not in done.stderr
    assert "Traceback" not in done.stderr
