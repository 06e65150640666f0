"""The ``interlingua`` command line, driven through ``main([...])`` against the fakes (a thread-backed
server, since ``main`` runs its own event loop), plus one real subprocess run of ``interlingua demo``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interlingua.effects import cli
from interlingua.effects.config import ENV
from interlingua.fakes import SPECS, FakeServer, FakeState
from interlingua.fakes.pytest_plugin import FakeLlm


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def at(fake: FakeLlm, provider: str, key: str | None = None) -> list[str]:
    """The flags that point ``chat`` at ``provider``'s fake, retries off."""
    return ["--base-url", fake.url_for(provider), "--api-key", key or fake.api_key, "--retries", "0"]


def test_chat_streams_then_prints_a_footer(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """The answer streams to stdout; the footer on stderr has tokens, the catalog cost and the latency."""
    code, out, err = run(capsys, "chat", "openai:gpt-4o-mini", "hello there", *at(fake_llm_sync, "openai"))
    assert (code, out) == (0, "Fake reply: hello there\n")
    assert err.startswith("[") and " in / " in err and " out tokens · $0.0000" in err and " ms · stop" in err
    assert fake_llm_sync.requests_for("openai")[-1].json()["stream"] is True


def test_chat_no_stream_system_and_max_tokens(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """--no-stream sends one plain request carrying the --system message and --max-tokens."""
    code, out, _ = run(capsys, "chat", "claude-haiku-4-5", "hi", "--system", "Be brief.", "--max-tokens", "42",
                       "--no-stream", *at(fake_llm_sync, "anthropic"))
    sent = fake_llm_sync.requests_for("anthropic")[-1].json()
    assert (code, out) == (0, "Fake reply: hi\n")
    assert (sent["system"], sent["max_tokens"], sent.get("stream")) == ("Be brief.", 42, None)


def test_chat_json_reads_the_prompt_from_stdin(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`-` reads the prompt from stdin; --json prints one object with the response, latency and cost."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("from a pipe"))
    code, out, err = run(capsys, "chat", "gemini:gemini-2.5-flash", "-", "--json", *at(fake_llm_sync, "gemini"))
    doc = json.loads(out)
    assert (code, err) == (0, "")
    assert doc["response"]["message"]["content"] == "Fake reply: from a pipe"
    assert doc["response"]["provider"] == "gemini" and doc["latency_ms"] > 0
    assert float(doc["cost_usd"]) > 0


def test_chat_cost_unknown_without_a_catalog_price(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """A model the catalog does not price gets "cost unknown", not a made-up number."""
    code, _, err = run(capsys, "chat", "openai_compatible:gpt-4o-mini", "hi", *at(fake_llm_sync, "openai"))
    assert code == 0 and "cost unknown" in err
    code, _, err = run(capsys, "chat", "ollama:llama3.2", "hi", "--base-url", fake_llm_sync.url_for("ollama"))
    assert code == 0 and " · $0 · " in err  # a local model is free, and says so


def _one_error_line(code: int, out: str, err: str, kind: str) -> str:
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {kind}"), err
    return err


def test_error_bad_model(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown model string is one invalid_model line with a hint, exit 1."""
    line = _one_error_line(*run(capsys, "chat", "mystery-model", "hi"), "invalid_model")
    assert "(hint: use provider:model" in line


def test_error_missing_key(capsys: pytest.CaptureFixture[str]) -> None:
    """No key in the environment: one authentication line naming the variable to set."""
    line = _one_error_line(*run(capsys, "chat", "openai:gpt-4o-mini", "hi", "--retries", "0"), "authentication")
    assert "provider=openai" in line and "export OPENAI_API_KEY=…, or pass --api-key" in line


def test_error_unreachable_base_url(capsys: pytest.CaptureFixture[str]) -> None:
    """A base URL nobody listens on: one network line (streamed or not), never a traceback."""
    for extra in ([], ["--no-stream"]):
        line = _one_error_line(*run(capsys, "chat", "openai:gpt-4o-mini", "hi", "--base-url", "http://127.0.0.1:9/v1",
                                    "--api-key", "k", "--retries", "0", *extra), "network")
        assert "provider=openai" in line and "(hint: is the server up?" in line


def test_error_401_from_the_fake(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong key: the fake's 401 becomes one line with kind, provider, status and hint; the key is not shown."""
    line = _one_error_line(*run(capsys, "chat", "openai:gpt-4o-mini", "hi", *at(fake_llm_sync, "openai", "sk-wrong-123")),
                           "authentication")
    assert "provider=openai status=401" in line and "sk-wrong-123" not in line


def test_error_as_json(fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]) -> None:
    """With --json a failure is a JSON object on stdout, still exit 1."""
    fake_llm_sync.fail_next("openai", "429")
    code, out, _ = run(capsys, "chat", "openai:gpt-4o-mini", "hi", "--json", *at(fake_llm_sync, "openai"))
    assert code == 1 and json.loads(out)["error"]["kind"] == "rate_limit"


@pytest.mark.parametrize("argv", [[], ["demo"], ["chat"], ["fakes"], ["fakes", "serve"], ["tokens"], ["models"]])
def test_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Every verb answers --help with its usage and exit 0."""
    with pytest.raises(SystemExit) as info:
        cli.main([*argv, "--help"])
    assert info.value.code == 0 and "usage: interlingua" in capsys.readouterr().out


def test_fakes_serve_prints_urls_and_every_env_var(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`fakes serve` prints each provider's base URL and an export line for every provider in config.ENV."""
    seen: dict[str, Any] = {}

    def fake_run_forever(host: str, port: int, ready: Any) -> None:  # serving itself is tested elsewhere
        seen.update(host=host, port=port)
        ready(FakeServer(host=host, port=port, state=FakeState(), specs=list(SPECS)))

    monkeypatch.setattr("interlingua.fakes._server.run_forever", fake_run_forever)
    code, out, _ = run(capsys, "fakes", "serve", "--host", "127.0.0.1", "--port", "9999")
    assert code == 0 and seen == {"host": "127.0.0.1", "port": 9999}
    # one origin per provider: OpenAI first on the given port, the others on the next ones
    assert "  openai     http://127.0.0.1:9999/v1\n" in out and "  docker     http://127.0.0.1:10002/engines/v1\n" in out
    exported = {line.split()[1].split("=")[0] for line in out.splitlines() if line.strip().startswith("export ")}
    for provider, spec in ENV.items():
        names = set(spec.api_key[:1] + spec.base_url[:1] + spec.api_version[:1])
        if provider == "bedrock":
            names = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
        if provider in ("ollama",):
            names -= {"OLLAMA_API_KEY"}  # a local Ollama needs no key
        assert names <= exported, (provider, names - exported)


def test_demo_subprocess() -> None:
    """`interlingua demo` (the README's main command) runs offline to the end and exits 0."""
    exe = Path(sys.executable).with_name("interlingua")
    done = subprocess.run([str(exe), "demo"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for line in ("fake providers listening on 127.0.0.1 (OpenAI's origin: http://127.0.0.1:", "→ 'Fake reply: What is interlingua?'",
                 "get_weather(", "Failure(kind=rate_limit, status=429", "attempts=2", "Failure(kind=invalid_model)",
                 "done: no keys, no network"):
        assert line in done.stdout, line
    assert "Traceback" not in done.stderr
