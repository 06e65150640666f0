"""The ``interlingua`` command line.

Verbs: ``demo`` (the README's main job: chat, stream, a tool call and an injected 429 against the
bundled fakes — no keys, no network), ``fakes serve`` (every provider's fake, each on its own port), ``chat``.
Expected failures print one line — kind, provider, status, hint — and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from decimal import Decimal
from typing import Any, TextIO, cast

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import ChatResponse, LlmError, Message, ToolSpec, Usage, parse_model
from interlingua.core.catalog import Catalog, default_catalog
from interlingua.core.fold import StreamFold
from interlingua.core.registry import PROVIDER_SPECS, get_spec

from .client import Client
from .config import LlmConfig, insecure_http_allowed
from .events import Event, Hook, describe

__all__ = ["main"]

HINTS: dict[str, str] = {
    "authentication": "check the API key (its env var, or --api-key)",
    "permission": "the key is valid but may not use this model or endpoint",
    "invalid_model": "use provider:model, e.g. openai:gpt-4o-mini (`interlingua models` lists known ones)",
    "not_found": "check the model name (`interlingua models`)",
    "rate_limit": "slow down or retry later",
    "overloaded": "the provider is overloaded; retry later",
    "network": "is the base URL reachable? (env var or --base-url)",
    "timeout": "raise --timeout or check the server",
    "context_length_exceeded": "shorten the prompt (`interlingua tokens MODEL FILE` counts it)",
    "budget_exceeded": "raise the limit or lower --max-tokens",
    "invalid_request": "fix the request as the message says",
}


def _env_names(provider: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The provider's (key variables, base-URL variables), as its documentation names them."""
    spec = get_spec(provider or "")
    if spec is None:
        return (), ()
    return spec.env_api_key, spec.env_base_url


def _insecure_var(provider: str | None) -> str:
    return "OLLAMA_ALLOW_INSECURE_HTTP" if provider == "ollama" else "INTERLINGUA_ALLOW_INSECURE_HTTP"


def _shell_advice(err: LlmError) -> tuple[str, str | None] | None:
    """For errors whose core message gives Python advice (``pass api_key=``), the shell's version:
    (the message's first clause, the hint naming the env var and the flag)."""
    keys, urls = _env_names(err.provider)
    what = err.message.split(": pass ", 1)[0].split(": use https", 1)[0]
    match err.code:
        case "missing_api_key":
            var = " or ".join(f"export {k}=…" for k in keys[:2]) or "set the provider's key variable"
            return what, f"{var}, or pass --api-key"
        case "missing_base_url":
            var = f"export {urls[0]}=…" if urls else "set the provider's base-URL variable"
            return what, f"{var}, or pass --base-url"
        case "missing_region":
            return what, "export AWS_REGION=… (e.g. us-east-1)"
        case "insecure_http":
            return what, (f"use https, or if the network is trusted pass --allow-insecure-http "
                          f"(or export {_insecure_var(err.provider)}=1)")
    return None


def _hint(err: LlmError) -> str | None:
    """The hint for ``err``, naming the provider's env var (from its row) where that is what the user must fix."""
    spec = get_spec(err.provider or "")
    keys, urls = _env_names(err.provider)
    if err.kind.value == "authentication" and spec is not None and spec.key_hint:
        return spec.key_hint
    if err.kind.value == "authentication" and keys:
        return f"check {keys[0]}, or pass --api-key"
    if err.kind.value == "network" and urls:
        return f"is the server up? check {urls[0]} or --base-url"
    return HINTS.get(err.kind.value)


def error_line(err: LlmError, elapsed: float | None = None) -> str:
    """One line: ``error: KIND provider=P status=S: message (after N attempts in T s) (hint: …)``.

    Never a traceback, and shell advice (env vars, flags), not Python keywords.
    """
    parts = [f"error: {err.kind.value}"]
    if err.provider:
        parts.append(f"provider={err.provider}")
    if err.status is not None:
        parts.append(f"status={err.status}")
    advice = _shell_advice(err)
    message, hint = advice if advice is not None else (err.message, _hint(err))
    line = " ".join(parts) + ": " + " ".join(message.split())
    if err.attempts and err.attempts > 1:
        line += f" (after {err.attempts} attempts" + (f" in {elapsed:.1f} s)" if elapsed is not None else ")")
    return line + (f" (hint: {hint})" if hint else "")


# -- demo -------------------------------------------------------------------------------------------

# One model per provider the fakes serve, for the demo's last step (the rows' demo_model).
DEMO_MODELS: tuple[str, ...] = tuple(s.demo_model for s in PROVIDER_SPECS if s.demo_model)


async def _demo(args: argparse.Namespace) -> int:
    from interlingua.fakes import serve

    out = sys.stdout
    async with serve() as fake:
        out.write(f"fake providers listening on {fake.host} (OpenAI's origin: {fake.base_url})\n\n")
        cfg = LlmConfig(retry_enabled=False).with_provider("openai", base_url=fake.url_for("openai"), api_key=fake.api_key)
        async with Client(cfg) as client:
            out.write("1. chat  openai:gpt-4o-mini  'What is interlingua?'\n")
            match await client.chat("openai:gpt-4o-mini", "What is interlingua?"):
                case Success(r):
                    out.write(f"   → {r.text!r}  [{r.finish_reason.value}, {r.usage.total_tokens} tokens]\n\n")
                case Failure(e):
                    out.write("   → " + error_line(e) + "\n\n")
            out.write("2. stream  openai:gpt-4o-mini  'Stream a short answer please'\n   → ")
            async for item in client.stream("openai:gpt-4o-mini", "Stream a short answer please"):
                match item:
                    case Success(chunk):
                        out.write(chunk.text)
                        out.flush()
                    case Failure(e):
                        out.write("\n   " + error_line(e))
            out.write("\n\n3. tool call  (tool_choice='required')\n")
            weather = ToolSpec(
                name="get_weather",
                description="Current weather for a city",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            )
            match await client.chat("openai:gpt-4o-mini", "Weather in Paris?", tools=[weather], tool_choice="required"):
                case Success(r):
                    for call in r.tool_calls:
                        out.write(f"   → {call.name}({call.arguments})  id={call.id}\n")
                    follow = [Message.user("Weather in Paris?"), r.message, Message.tool(r.tool_calls[0].id, '{"temp_c": 18}')]
                    match await client.chat("openai:gpt-4o-mini", follow, tools=[weather]):
                        case Success(r2):
                            out.write(f"   → after the tool result: {r2.text!r}\n")
                        case Failure(e):
                            out.write("   → " + error_line(e) + "\n")
                case Failure(e):
                    out.write("   → " + error_line(e) + "\n")
            out.write("\n4. injected fault: the fake answers 429 with Retry-After (retries disabled)\n")
            fake.fail_next("openai", "429;retry-after=2")
            match await client.chat("openai:gpt-4o-mini", "hello"):
                case Success(r):
                    out.write(f"   → unexpected success: {r.text!r}\n")
                case Failure(e):
                    out.write(f"   → Failure(kind={e.kind.value}, status={e.status}, retry_after={e.retry_after}, retryable={e.is_retryable()})\n")
        # The same fault with retries on (the default): the client waits out Retry-After and retries.
        retrying = msgspec.structs.replace(cfg, retry_enabled=True)
        async with Client(retrying) as client:
            out.write("\n5. the same 429 with retries on: the client waits Retry-After (1s), then retries\n")
            fake.fail_next("openai", "429;retry-after=1")
            match await client.chat("openai:gpt-4o-mini", "hello"):
                case Success(r):
                    out.write(f"   → {r.text!r}  [attempts={r.provider_metadata['attempts']}]\n")
                case Failure(e):
                    out.write("   → " + error_line(e) + "\n")
            out.write("\n6. unknown model string\n")
            match await client.chat("mystery-model", "hello"):
                case Failure(e):
                    out.write(f"   → Failure(kind={e.kind.value}): {_first_sentence(e.message)}\n")
                case Success(_):
                    out.write("   → unexpected success\n")
        out.write("\n7. one question to every provider, streamed and not (a client from LlmConfig.from_env(), "
                  "as an app would build it)\n")
        from interlingua.fakes._env import fake_env

        async with Client(LlmConfig.from_env(fake_env(fake), retry_enabled=False)) as everyone:
            for model in DEMO_MODELS:
                async for item in everyone.stream(model, "Say hello"):
                    if isinstance(item, Failure):
                        out.write(f"   {model:<52} → {error_line(item.failure())}\n")
                        break
                else:
                    match await everyone.chat(model, "Say hello"):
                        case Success(r):
                            out.write(f"   {model:<52} → {r.text!r} ({r.usage.total_tokens} tokens; streamed too)\n")
                        case Failure(e):
                            out.write(f"   {model:<52} → {error_line(e)}\n")
    prog = _prog()
    out.write("\ndone: no keys, no network — everything above ran against the bundled fakes.\n"
              "\nnext:\n"
              f"  1. serve the fakes and talk to them from a second shell:\n"
              f"       {prog} fakes serve\n"
              f"       eval \"$({prog} fakes serve --print-env)\" && {prog} chat claude-haiku-4-5 'Hello'\n"
              f"  2. ask a real model: export OPENAI_API_KEY=…, then {prog} chat openai:gpt-4o-mini 'Say hi'\n"
              "  3. test your own code offline: pip install 'interlingua[testing]' and use the fake_llm\n"
              "     fixture (README, 'Testing with the fakes')\n")
    return 0


def _prog() -> str:
    """How the user started us (``.venv/bin/interlingua`` from a checkout), for commands to copy."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) != "interlingua":
        return "interlingua"
    rel = os.path.relpath(argv0)
    return rel if not rel.startswith("..") and os.sep in rel else os.path.basename(argv0)


def _first_sentence(text: str) -> str:
    """The message up to its first full stop (a demo line, never cut mid-word)."""
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


# -- fakes serve ------------------------------------------------------------------------------------


def _export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def _fakes_serve(args: argparse.Namespace) -> int:
    from interlingua.fakes._env import fake_env
    from interlingua.fakes._server import FakeServer, FakeState, all_specs, run_forever

    if args.print_env:
        # For `eval "$(interlingua fakes serve --print-env)"` in a second shell: the variables for a
        # server on --host/--port (the one `interlingua fakes serve` runs), printed without serving.
        if args.port == 0:
            print("error: --print-env needs the port the server listens on, not 0", file=sys.stderr)
            return 2
        sys.stdout.write(_export_lines(fake_env(FakeServer(args.host, args.port, FakeState(), all_specs()))))
        return 0

    def ready(fake: Any) -> None:
        if args.env_file:
            with open(args.env_file, "w", encoding="utf-8") as f:  # `set -a; . FILE` or a dotenv loader
                f.write(_export_lines(fake_env(fake)))
        print(f"interlingua fakes listening on {fake.host}, one port per provider  (API key: {fake.api_key})")
        print("\nbase URL per provider:")
        for spec in fake.specs:
            print(f"  {spec.name:<10} {fake.url_for(spec.name)}")
        print("\nexport these to point interlingua and the official SDKs at the fakes:")
        for name, value in fake_env(fake).items():
            print(f"  export {name}={shlex.quote(value)}")
        print("\nfaults: send the header x-interlingua-fault: 429 (or 500, cut=2, …) on any request. Ctrl-C stops.",
              flush=True)

    try:
        run_forever(args.host, args.port, ready=ready)
    except OSError as e:  # port in use, address not available
        print(f"error: cannot listen on {args.host}:{args.port}: {e.strerror or e} (hint: try --port 0)",
              file=sys.stderr)
        return 1
    return 0


# -- chat -------------------------------------------------------------------------------------------


def _chat_config(args: argparse.Namespace) -> Result[LlmConfig, LlmError]:
    """The environment's config, with the command line's overrides for the model's provider."""
    settings: dict[str, Any] = {"timeout": args.timeout}
    if args.retries is not None:
        settings.update(max_retries=args.retries, retry_enabled=args.retries > 0)
    cfg = LlmConfig.from_env(**settings)
    fields: dict[str, Any] = {k: v for k, v in (("base_url", args.base_url), ("api_key", args.api_key)) if v}
    ref = parse_model(args.model)
    env_allows = isinstance(ref, Success) and insecure_http_allowed(ref.unwrap().provider, os.environ)
    if getattr(args, "allow_insecure_http", False) or (fields and env_allows):
        fields["allow_insecure_http"] = True
    if not fields:
        return Success(cfg)
    return parse_model(args.model).map(lambda ref: cfg.with_provider(ref.provider, **fields))


def _cost(model: str, usage: Usage, catalog: Catalog | None = None) -> Decimal | None:
    """The catalog price of ``usage`` (``None`` when the model or its price is not in the catalog)."""
    info = (catalog or default_catalog()).resolve(model)
    return usage.calculate_cost(info) if info is not None else None


def _footer(r: ChatResponse, model: str, elapsed: float, catalog: Catalog | None = None) -> str:
    u = r.usage
    cost = _cost(model, u, catalog)
    money = "cost unknown" if cost is None else "$0" if cost == 0 else f"${cost:.6f}"
    return (f"[{u.prompt_tokens} in / {u.completion_tokens} out tokens · {money} · {elapsed * 1000:.0f} ms"
            f" · {r.finish_reason.value} · {_answered_by(r, model)}]")


def _answered_by(r: ChatResponse, asked: str) -> str:
    """``provider:model`` of the answer; Bedrock's Converse names no model, so the one asked for stands in."""
    if not r.provider:
        return asked
    if r.model:
        return f"{r.provider}:{r.model}"
    ref = parse_model(asked)
    return f"{r.provider}:{ref.unwrap().model}" if isinstance(ref, Success) else asked


class _Line:
    """Whether stdout holds a partial line (a stream cut by Ctrl-C ends it before exiting)."""

    open = False


async def _stream_to(out: TextIO, client: Client, model: str, messages: list[Message],
                     options: dict[str, Any]) -> Result[ChatResponse, LlmError]:
    """Print each chunk's text as it arrives; the folded response (or the stream's failure) at the end."""
    fold = StreamFold()
    async for item in client.stream(model, messages, **options):
        match item:
            case Success(chunk):
                fold.add(chunk)
                if chunk.text:
                    _Line.open = True
                    out.write(chunk.text)
                    out.flush()
            case Failure(e):
                if _Line.open:  # end the partial answer's line before the error line
                    out.write("\n")
                    _Line.open = False
                return Failure(e)
    out.write("\n")
    _Line.open = False
    return Success(fold.response(""))


async def _chat(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = ([Message.system(args.system)] if args.system else []) + [Message.user(prompt)]
    options: dict[str, Any] = {} if args.max_tokens is None else {"max_tokens": args.max_tokens}
    match _chat_config(args):
        case Failure(e):
            return _report(args, e)
        case Success(cfg):
            pass
    started = time.perf_counter()
    async with Client(cfg, on_event=_narrator(sys.stderr, started) if args.verbose else None) as client:
        if args.no_stream or args.json:
            result = await client.chat(args.model, messages, **options)
        else:
            result = await _stream_to(sys.stdout, client, args.model, messages, options)
    elapsed = time.perf_counter() - started
    match result:
        case Success(r):
            if args.json:
                cost = _cost(args.model, r.usage, cfg.catalog)
                payload = {"response": r, "latency_ms": round(elapsed * 1000, 1),
                           "cost_usd": None if cost is None else str(cost)}
                sys.stdout.write(msgspec.json.encode(payload).decode() + "\n")
            else:
                if args.no_stream:
                    sys.stdout.write(r.text + "\n")
                sys.stderr.write(_footer(r, args.model, elapsed, cfg.catalog) + "\n")
            return 0
        case Failure(e):
            return _report(args, e, elapsed)
    return 1


def _narrator(err: TextIO, started: float) -> Hook:
    """--verbose: each attempt, wait, breaker change and failover on stderr as it happens, from the
    client's own event records (secret-free by construction: :func:`~interlingua.effects.events.describe`)."""

    def say(ev: Event) -> None:
        err.write(f"[+{time.perf_counter() - started:.3f}s] {describe(ev)}\n")
        err.flush()

    return say


def _report(args: argparse.Namespace, err: LlmError, elapsed: float | None = None) -> int:
    """An expected failure: one line on stderr (or a JSON object with --json), exit status 1."""
    if getattr(args, "json", False):
        sys.stdout.write(msgspec.json.encode({"error": err}).decode() + "\n")
    else:
        sys.stderr.write(error_line(err, elapsed) + "\n")
    return 1


# -- wiring -----------------------------------------------------------------------------------------


def _number(kind: Callable[[str], Any], least: float, *, strict: bool = False) -> Callable[[str], Any]:
    """An argparse type: ``kind`` parsed, at least ``least`` (above it with ``strict``); else a usage error (exit 2)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")) or value < least or (strict and value == least):
            bound = f"greater than {least:g}" if strict else f"at least {least:g}"
            raise argparse.ArgumentTypeError(f"{text!r}: must be {bound}")
        return value

    return parse


POSITIVE_SECONDS = _number(float, 0, strict=True)
COUNT = _number(int, 0)
POSITIVE_COUNT = _number(int, 1)

Handler = Callable[[argparse.Namespace], int]


def _run_async(fn: Callable[[argparse.Namespace], Any]) -> Handler:
    return lambda args: event_loop_runner(os.environ)(_interruptible(fn(args)))


def event_loop_runner(env: Mapping[str, str]) -> Callable[[Coroutine[Any, Any, int]], int]:
    """``uvloop.run`` when ``INTERLINGUA_UVLOOP=1`` and uvloop is installed (``pip install
    'interlingua[uvloop]'``), else ``asyncio.run``. uvloop is an opt-in, never a requirement: it cuts
    the event loop's share of each call's CPU (benchmarks/RESULTS.md, the ``interlingua-uvloop``
    rows), and without it, or without the variable, the CLI runs on the stock loop.

    >>> event_loop_runner({}) is asyncio.run
    True
    """
    if env.get("INTERLINGUA_UVLOOP", "").strip().lower() in ("1", "true", "yes", "on"):
        try:
            import uvloop  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return asyncio.run
        return cast("Callable[[Coroutine[Any, Any, int]], int]", uvloop.run)
    return asyncio.run


async def _interruptible(work: Awaitable[int]) -> int:
    """Ctrl-C cancels the verb at once, even while the loop waits on a stalled stream.

    asyncio.run's own SIGINT handler is a plain ``signal.signal`` handler: when the signal lands on
    one of aiohttp's resolver threads, the main thread sleeps in epoll until the next event (a stalled
    stream: until the idle timeout). ``loop.add_signal_handler`` also sets the wakeup fd, so the loop
    wakes and cancels the verb; the cancellation then leaves as KeyboardInterrupt (exit status 130).
    A SIGINT the shell told us to ignore (``nohup``, a background job) stays ignored.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        if task is not None:
            task.cancel()

    installed = False
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, not the main thread
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            installed = True
    try:
        return await work
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


EXIT_RULE = ("exit status: 0 success; 1 the call failed (one 'error: …' line on stderr); "
             "2 usage error (bad arguments); 130 interrupted (Ctrl-C)")


def build_parser() -> argparse.ArgumentParser:
    from interlingua import __version__

    p = argparse.ArgumentParser(prog="interlingua", description="One typed client for every LLM provider.",
                                epilog=EXIT_RULE)
    p.add_argument("--version", action="version", version=f"interlingua {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the offline demo against the bundled fakes")
    demo.set_defaults(handler=_run_async(_demo))

    fakes = sub.add_parser("fakes", help="the bundled fake provider servers")
    fsub = fakes.add_subparsers(dest="fakes_command", required=True, metavar="ACTION")
    serve = fsub.add_parser("serve", help="serve every provider's fake, each on its own port")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_number(int, 0), default=8787,
                       help="the first provider's port (default 8787; the others take the next ones; 0 picks free ones)")
    serve.add_argument("--env-file", metavar="PATH",
                       help="also write the export lines to PATH once listening (`. PATH` in another shell)")
    serve.add_argument("--print-env", action="store_true",
                       help="print the export lines for a server on --host/--port and exit, for "
                            '`eval "$(interlingua fakes serve --print-env)"` in a second shell')
    serve.set_defaults(handler=_fakes_serve)

    chat = sub.add_parser(
        "chat", help="ask a model; streams the answer",
        description="Ask a model. The answer streams to stdout; a footer (tokens, cost, latency) goes to stderr. "
                    "Keys and base URLs come from the providers' env vars (see `interlingua fakes serve`).",
        epilog="example: interlingua chat openai:gpt-4o-mini 'Say hi' --max-tokens 50\n" + EXIT_RULE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    chat.add_argument("model", help="e.g. openai:gpt-4o-mini, claude-sonnet-4-5, ollama:llama3.2")
    chat.add_argument("prompt", help="the prompt, or - to read it from stdin")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=POSITIVE_COUNT, help="cap on output tokens (at least 1)")
    chat.add_argument("--base-url", help="override the provider's base URL")
    chat.add_argument("--api-key", help="override the provider's API key (prefer the env var)")
    chat.add_argument("--timeout", type=POSITIVE_SECONDS, default=120.0, help="seconds for the whole call (default 120)")
    chat.add_argument("--retries", type=COUNT, help="retries on transient failures (default 3; 0 turns them off)")
    chat.add_argument("--allow-insecure-http", action="store_true",
                      help="allow plain http to a non-loopback host (a LAN Ollama or vLLM box); "
                           "also INTERLINGUA_ALLOW_INSECURE_HTTP=1 or <PROVIDER>_ALLOW_INSECURE_HTTP=1")
    chat.add_argument("--no-stream", action="store_true", help="one request, no streaming")
    chat.add_argument("--json", action="store_true",
                      help="print one JSON object (response, latency_ms, cost_usd, or error); implies --no-stream")
    chat.add_argument("-v", "--verbose", action="store_true",
                      help="print each attempt, retry wait, circuit-breaker change and failover on stderr as it happens")
    chat.set_defaults(handler=_run_async(_chat))

    for register in EXTRA_COMMANDS:
        register(sub)
    return p


def _bench(args: argparse.Namespace) -> int:
    """Run ``python -m benchmarks`` from the source checkout (the suite is not shipped in the wheel)."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").exists():
        print("error: the benchmark suite lives in the source checkout (benchmarks/); run it from there "
              "with `python -m benchmarks`", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    passed = args.bench_args[1:] if args.bench_args[:1] == ["--"] else args.bench_args
    return subprocess.call([sys.executable, "-m", "benchmarks", *passed], cwd=root, env=env)


def _register_bench(sub: Any) -> None:
    # prefix_chars="+": every "-x"/"--x" argument goes through untouched to `python -m benchmarks`.
    b = sub.add_parser("bench", help="run the benchmark suite (python -m benchmarks --help for its options)",
                       prefix_chars="+", add_help=False)
    b.add_argument("bench_args", nargs=argparse.REMAINDER, help="e.g. --quick --parts clients,core")
    b.set_defaults(handler=_bench)


# Later verbs (models, tokens, bench, …) register themselves here: (subparsers) -> None.
EXTRA_COMMANDS: list[Callable[[Any], None]] = [_register_bench]

from .tokens_cli import register as _register_tokens  # noqa: E402

EXTRA_COMMANDS.append(_register_tokens)  # `tokens` and `models`

from .batch_cli import register as _register_batch  # noqa: E402  # hook: batch

EXTRA_COMMANDS.append(_register_batch)  # `batch submit|status|results|cancel|list|run`


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; exit status per :data:`EXIT_RULE`.

    A reader that goes away (``interlingua models | head``) ends the program quietly, as Unix tools
    do: stdout is pointed at /dev/null so the interpreter's final flush cannot fail again, and the
    status is 141 (128 + SIGPIPE), what a shell reports for a tool killed by SIGPIPE. SIGPIPE itself
    stays ignored (Python's default), so a server closing a socket is an EPIPE error, never a kill.
    """
    args = build_parser().parse_args(argv)
    try:
        code = int(args.handler(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        if _Line.open:
            with contextlib.suppress(OSError):
                sys.stdout.write("\n")
                sys.stdout.flush()
        return 130


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
