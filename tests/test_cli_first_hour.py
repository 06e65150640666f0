"""The CLI as a new user meets it (issue 20): pipes that close early, Ctrl-C mid-stream, a version,
usage errors for bad numbers, error lines that speak shell, and the fakes' environment in one line."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import interlingua
from interlingua.core import ChatResponse, FinishReason, Message, Usage
from interlingua.effects import cli
from interlingua.fakes.pytest_plugin import FakeLlm

CLI = [sys.executable, "-m", "interlingua.effects.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_HOST"))}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def _closed_pipe_run(args: list[str], **env: str) -> tuple[int, str]:
    """Run the CLI with stdout a pipe whose reader is gone before the first write."""
    p = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(**env))
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()
    with p.stderr:
        err = p.stderr.read().decode()
    return p.wait(60), err


def test_models_into_a_closed_pipe_exits_quietly() -> None:
    """`interlingua models | head` style: the reader left; no traceback, status 141 as a SIGPIPE'd tool."""
    code, err = _closed_pipe_run(["models"])
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err
    assert code == 141


def test_streamed_chat_into_a_closed_pipe_exits_quietly(fake_llm_sync: FakeLlm) -> None:
    """A streamed answer into a pipe that closed early ends without a traceback."""
    code, err = _closed_pipe_run(
        ["chat", "openai:gpt-4o-mini", "hello", "--base-url", fake_llm_sync.url_for("openai"),
         "--api-key", fake_llm_sync.api_key, "--retries", "0"]
    )
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert code == 141


@pytest.fixture
def stalling_openai() -> Iterator[str]:
    """A bare aiohttp server (not a fake: it only needs to stall) that streams one OpenAI chunk with
    text, then sends nothing more: the CLI holds a partial line when Ctrl-C comes."""
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Once upon a"}, "finish_reason": None}]}

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        await asyncio.sleep(60)
        return resp

    started: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        started["port"], started["loop"], started["stop"] = runner.addresses[0][1], asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await started["stop"].wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield f"http://127.0.0.1:{started['port']}/v1"
    started["loop"].call_soon_threadsafe(started["stop"].set)
    thread.join(10)


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_mid_stream_ends_the_line_and_exits_130(stalling_openai: str) -> None:
    """Ctrl-C while a stream stalls mid-line: the line gets its newline, the status is 130, at once."""
    p = subprocess.Popen(
        [*CLI, "chat", "openai:gpt-4o-mini", "tell me a story", "--base-url", stalling_openai,
         "--api-key", "k", "--retries", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        preexec_fn=_sigint_default,  # a shell's job may inherit SIG_IGN
    )
    assert p.stdout is not None
    first = p.stdout.read1(1024)
    assert first == b"Once upon a"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)  # the idle timeout is 120 s: only the interrupt ends it this soon
    assert p.returncode == 130
    assert first + out == b"Once upon a\n"
    assert b"Traceback" not in err


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    """`interlingua --version` and `interlingua.__version__` are the installed distribution's version."""
    assert interlingua.__version__ == importlib.metadata.version("interlingua")
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"interlingua {interlingua.__version__}"


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--timeout", "-1", "greater than 0"), ("--timeout", "nan", "greater than 0"), ("--retries", "-1", "at least 0"),
     ("--max-tokens", "0", "at least 1"), ("--max-tokens", "many", "not a number")],
)
def test_bad_numbers_are_usage_errors(flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Out-of-range numbers are usage errors (exit 2) that say the bound, before anything is sent."""
    with pytest.raises(SystemExit) as e:
        cli.main(["chat", "openai:gpt-4o-mini", "hi", f"{flag}={value}"])
    assert e.value.code == 2
    assert says in capsys.readouterr().err


def test_help_states_the_exit_status_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """One exit-status rule, stated in the top-level and the chat help."""
    for argv in (["--help"], ["chat", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        out = " ".join(capsys.readouterr().out.split())
        assert "1 the call failed" in out and "2 usage error" in out


def _chat(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(["chat", *argv])
    return code, capsys.readouterr().err


def test_missing_key_names_the_env_var_and_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """No key: the line names OPENAI_API_KEY and --api-key, not the Python keyword `api_key=`."""
    code, err = _chat(capsys, "openai:gpt-4o-mini", "hi")
    assert code == 1
    assert "OPENAI_API_KEY" in err and "--api-key" in err and "api_key=" not in err


def test_missing_base_url_names_the_env_var(capsys: pytest.CaptureFixture[str]) -> None:
    """An OpenAI-compatible server without a base URL: the line names OPENAI_COMPATIBLE_BASE_URL."""
    code, err = _chat(capsys, "openai_compatible:my-model", "hi")
    assert code == 1
    assert "OPENAI_COMPATIBLE_BASE_URL" in err and "--base-url" in err and "base_url=" not in err


def test_plain_http_refusal_names_the_cli_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """Plain http to a LAN box is refused naming --allow-insecure-http, not `allow_insecure_http=True`."""
    code, err = _chat(capsys, "ollama:llama3.2", "hi", "--base-url", "http://192.168.1.20:11434")
    assert code == 1
    assert "--allow-insecure-http" in err and "OLLAMA_ALLOW_INSECURE_HTTP" in err
    assert "allow_insecure_http=True" not in err and "ssl:default" not in err


def test_allow_insecure_http_flag_and_env_var_reach_the_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the flag (or the env var) the request is sent: what fails is the connection, not the refusal."""
    unroutable = "http://192.0.2.1:9"  # TEST-NET-1 (RFC 5737): nothing answers
    code, err = _chat(capsys, "ollama:llama3.2", "hi", "--base-url", unroutable, "--allow-insecure-http",
                      "--retries", "0", "--timeout", "0.5")
    assert code == 1 and "refusing plain http" not in err and "ssl:default" not in err
    monkeypatch.setenv("INTERLINGUA_ALLOW_INSECURE_HTTP", "1")
    code, err = _chat(capsys, "ollama:llama3.2", "hi", "--base-url", unroutable, "--retries", "0", "--timeout", "0.5")
    assert code == 1 and "refusing plain http" not in err


def test_a_retried_failure_says_how_many_attempts_over_how_long(
    fake_llm_sync: FakeLlm, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four attempts that all fail: the line ends with 'after 4 attempts in N.N s'."""
    fake_llm_sync.fail_next("openai", "500", times=4)
    code, err = _chat(capsys, "openai:gpt-4o-mini", "hi", "--base-url", fake_llm_sync.url_for("openai"),
                      "--api-key", fake_llm_sync.api_key, "--retries", "3", "--no-stream")
    assert code == 1
    assert "after 4 attempts in " in err and err.rstrip().split("after 4 attempts in ")[1][0].isdigit()


def test_print_env_prints_export_lines_without_serving() -> None:
    """`eval "$(interlingua fakes serve --print-env)"`: export lines for the default port, then exit 0."""
    out = subprocess.run([*CLI, "fakes", "serve", "--print-env"], capture_output=True, text=True, timeout=60, env=_env())
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines and all(line.startswith("export ") for line in lines)
    assert any(line.startswith("export OPENAI_BASE_URL=http://127.0.0.1:8787") for line in lines)


@contextlib.contextmanager
def _fakes_serving(env_file: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`fakes serve --port 0 --env-file F`, once listening (F written); never left running. SIGINT starts at
    its default: a background job (nohup, a CI runner) inherits it ignored, and a server started so keeps it so."""
    p = subprocess.Popen([*CLI, "fakes", "serve", "--port", "0", "--env-file", str(env_file)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), preexec_fn=_sigint_default)
    try:
        deadline = time.monotonic() + 30
        while not (env_file.exists() and env_file.read_text().count("\n") > 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield p
    finally:
        if p.poll() is None:  # whatever failed
            p.kill()
            p.wait()


def test_env_file_wires_an_app_to_the_running_fakes(tmp_path: Path) -> None:
    """`fakes serve --env-file F` writes the variables once listening; a client built from them gets answers."""
    env_file = tmp_path / "fakes.env"
    with _fakes_serving(env_file) as p:
        try:
            values: dict[str, Any] = {}
            for line in env_file.read_text().splitlines():
                name, _, value = line.removeprefix("export ").partition("=")
                values[name] = value.strip("'")
            run = subprocess.run([*CLI, "chat", "anthropic:claude-haiku-4-5", "hello", "--no-stream"],
                                 capture_output=True, text=True, timeout=60, env=_env(**values))
            assert run.returncode == 0, run.stderr
            assert "hello" in run.stdout
        finally:
            p.send_signal(signal.SIGINT)
            p.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_fakes_serve_stops_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """`fakes serve` stops at once and exits 0 on Ctrl-C or SIGTERM (the loop's own handlers; SIGTERM used
    to kill it outright)."""
    with _fakes_serving(tmp_path / "fakes.env") as p:
        p.send_signal(sig)
        assert p.wait(20) == 0


def test_bedrock_footer_names_the_model_when_converse_returns_none() -> None:
    """Converse answers carry no model id: the footer shows the one asked for, never 'bedrock:]'."""
    r = ChatResponse(id="x", model="", created=0, message=Message.assistant("hi"), finish_reason=FinishReason.STOP,
                     usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2), provider="bedrock")
    footer = cli._footer(r, "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0", 0.01)
    assert footer.endswith("bedrock:anthropic.claude-3-5-haiku-20241022-v1:0]")


def test_demo_reads_well_and_ends_with_next_steps() -> None:
    """The demo's tool call answers the question asked, no line is cut mid-word, it ends with three next steps."""
    run = subprocess.run([*CLI, "demo"], capture_output=True, text=True, timeout=120, env=_env())
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert 'get_weather({"city":"Paris"})' in out
    assert "…\n" not in out and "fakes serve` prints" not in out
    tail = out[out.index("\nnext:\n"):]
    assert [line.lstrip()[:2] for line in tail.splitlines() if line.lstrip()[:2] in ("1.", "2.", "3.")] == ["1.", "2.", "3."]
