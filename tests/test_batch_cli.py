"""``interlingua batch …`` through ``main([...])`` against the thread-backed fakes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from interlingua.effects import cli
from interlingua.effects.batch_cli import Progress
from interlingua.fakes.pytest_plugin import FakeLlm


@pytest.fixture
def env(fake_llm_sync: FakeLlm, monkeypatch: pytest.MonkeyPatch) -> FakeLlm:
    for k, v in fake_llm_sync.env().items():
        monkeypatch.setenv(k, v)
    fake_llm_sync.server.batches.auto_advance = True  # each status read moves the job one step
    return fake_llm_sync


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _requests(tmp_path: Path, n: int = 4) -> str:
    p = tmp_path / "in.jsonl"
    lines = [json.dumps({"custom_id": f"c{i}", "prompt": f"item {i}"}) for i in range(n - 1)]
    lines.append(json.dumps({"custom_id": "m", "messages": [{"role": "user", "content": "last one"}], "max_tokens": 50}))
    p.write_text("\n".join(lines) + "\n\n")
    return str(p)


def test_submit_status_results(env: FakeLlm, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """submit prints the job's ref; status moves it along; results writes one JSONL line per request."""
    code, out, _ = run(capsys, "batch", "submit", "anthropic:claude-3-5-haiku-latest", _requests(tmp_path))
    assert code == 0 and out.startswith("anthropic:msgbatch_") and "in_progress" in out
    ref = out.split()[0]
    code, out, _ = run(capsys, "batch", "status", ref)
    assert code == 0 and "completed (ended)" in out and "4 succeeded" in out
    target = tmp_path / "out.jsonl"
    code, out, err = run(capsys, "batch", "results", ref, "-o", str(target))
    rows = [json.loads(x) for x in target.read_text().splitlines()]
    assert code == 0 and out == ""
    assert {r["custom_id"]: r["response"]["message"]["content"] for r in rows} == {
        "c0": "Fake reply: item 0", "c1": "Fake reply: item 1", "c2": "Fake reply: item 2", "m": "Fake reply: last one"}
    assert "summary: 4 succeeded, 0 failed, $" in err and "progress: 4/4 done" in err
    code, out, _ = run(capsys, "batch", "list", "anthropic")
    assert code == 0 and out.startswith(ref)


def test_cancel_and_errors(env: FakeLlm, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """cancel reports cancelling; a bad reference or a bad line is one error line, exit 1."""
    env.server.batches.auto_advance = False
    code, out, _ = run(capsys, "batch", "submit", "openai:gpt-4o-mini", _requests(tmp_path))
    assert code == 0 and "validating" in out
    code, out, _ = run(capsys, "batch", "cancel", out.split()[0])
    assert code == 0 and "cancelling" in out
    code, _, err = run(capsys, "batch", "status", "nope")
    assert code == 1 and err.startswith("error: invalid_request")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "x"}\n')
    code, _, err = run(capsys, "batch", "run", "openai:gpt-4o-mini", str(bad))
    assert code == 1 and "line 1" in err and "prompt" in err


def test_run_fans_out_with_a_summary(env: FakeLlm, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """run sends every line now; each result line names its custom_id; failures are counted."""
    env.fail_next("openai", "401")
    code, out, err = run(capsys, "batch", "run", "openai:gpt-4o-mini", _requests(tmp_path, 6), "--concurrency", "1")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 1 and len(rows) == 6
    assert sum("error" in r for r in rows) == 1 and sum("response" in r for r in rows) == 5
    assert "summary: 5 succeeded, 1 failed, $" in err


def test_progress_bar_on_a_terminal() -> None:
    """On a TTY the bar is redrawn in place; otherwise plain lines come at most every few seconds."""
    out = io.StringIO()
    p = Progress(out, 4, tty=True)
    for ok in (True, True, False, True):
        p.update(ok)
    p.close()
    assert out.getvalue().count("\r") == 4 and out.getvalue().endswith("[" + "#" * 30 + "] 4/4 ok 3 failed 1\n")
    now = [0.0]
    plain = io.StringIO()
    q = Progress(plain, 100, tty=False, every=5.0, clock=lambda: now[0])
    for i in range(100):
        now[0] = i * 0.1
        q.update(True)
    assert plain.getvalue().splitlines() == ["progress: 51/100 done (51 ok, 0 failed)", "progress: 100/100 done (100 ok, 0 failed)"]


def test_list_every_page_or_the_newest_n(env: FakeLlm, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """``batch list`` prints every job across pages, newest first; ``--limit N`` the newest N; a limit
    that is not a positive whole number is a usage error."""
    env.server.batches.page_max = 1
    refs = []
    for _ in range(3):
        code, out, _ = run(capsys, "batch", "submit", "openai:gpt-4o-mini", _requests(tmp_path))
        refs.append(out.split()[0])
    code, out, _ = run(capsys, "batch", "list", "openai")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == refs[::-1]
    code, out, _ = run(capsys, "batch", "list", "openai", "--limit", "2")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == refs[:0:-1]
    with pytest.raises(SystemExit) as exc:
        cli.main(["batch", "list", "openai", "--limit", "0"])
    assert exc.value.code == 2 and "at least 1" in capsys.readouterr().err
