"""``interlingua chat --verbose`` narrates the call on stderr from the client's events, as they happen."""

from __future__ import annotations

import re

import pytest

from interlingua.effects import cli
from interlingua.fakes.pytest_plugin import FakeLlm


def test_verbose_prints_each_attempt_and_wait(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """A 429 then success: stderr shows the failed attempt, the retry wait and the attempt that worked, in order."""
    fake_llm_sync.fail_next("openai", "429;retry-after=0")
    code = cli.main(["chat", "openai:gpt-4o-mini", "hello", "--verbose", "--retries", "1",
                     "--base-url", fake_llm_sync.url_for("openai"), "--api-key", fake_llm_sync.api_key])
    out, err = capsys.readouterr()
    assert (code, out) == (0, "Fake reply: hello\n")
    lines = err.splitlines()
    assert all(re.match(r"\[\+\d+\.\d{3}s\] ", line) for line in lines[:3]), lines
    assert "openai:gpt-4o-mini attempt 1 failed" in lines[0] and "rate_limit (HTTP 429)" in lines[0]
    assert "retrying openai:gpt-4o-mini in 0s after attempt 1 failed: rate_limit (HTTP 429)" in lines[1]
    assert "openai:gpt-4o-mini attempt 2 succeeded" in lines[2]
    assert lines[3].startswith("[") and " out tokens" in lines[3]  # the footer comes last
    assert fake_llm_sync.api_key not in err


def test_quiet_without_verbose(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --verbose the same call prints only the footer on stderr."""
    fake_llm_sync.fail_next("openai", "429;retry-after=0")
    code = cli.main(["chat", "openai:gpt-4o-mini", "hello", "--retries", "1",
                     "--base-url", fake_llm_sync.url_for("openai"), "--api-key", fake_llm_sync.api_key])
    _, err = capsys.readouterr()
    assert code == 0 and len(err.splitlines()) == 1 and "attempt" not in err
