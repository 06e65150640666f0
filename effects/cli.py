"""The ``interlingua`` command line.

Verbs: ``demo`` (the README's main job: chat, stream, a tool call and an injected 429 against the
bundled fakes — no keys, no network), ``fakes serve`` (every provider's fake on one port), ``chat``.
Expected failures print one line — kind, provider, status, hint — and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from returns.result import Failure, Success

from interlingua.core import LlmError, Message, ToolSpec

from .client import Client
from .config import LlmConfig

__all__ = ["main"]

HINTS: dict[str, str] = {
    "authentication": "check the API key (env var or --api-key)",
    "invalid_model": "use provider:model, e.g. openai:gpt-4o-mini",
    "rate_limit": "slow down or retry later",
    "network": "is the base URL reachable?",
    "timeout": "raise --timeout or check the server",
    "not_found": "check the model name",
}


def error_line(err: LlmError) -> str:
    parts = [f"error: {err.kind.value}"]
    if err.provider:
        parts.append(f"provider={err.provider}")
    if err.status is not None:
        parts.append(f"status={err.status}")
    line = " ".join(parts) + f": {err.message}"
    hint = HINTS.get(err.kind.value)
    return line + (f" (hint: {hint})" if hint else "")


# -- demo -------------------------------------------------------------------------------------------


async def _demo(args: argparse.Namespace) -> int:
    from interlingua.fakes import serve

    out = sys.stdout
    async with serve() as fake:
        out.write(f"fake providers listening on {fake.base_url}\n\n")
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
                    out.write(f"   → Failure(kind={e.kind.value}): {e.message[:90]}…\n")
                case Success(_):
                    out.write("   → unexpected success\n")
    out.write("\ndone: no keys, no network — everything above ran against the bundled fakes.\n")
    return 0


# -- fakes serve ------------------------------------------------------------------------------------


def _fakes_serve(args: argparse.Namespace) -> int:
    from interlingua.fakes._server import run_forever

    def ready(fake: Any) -> None:
        print(f"interlingua fakes listening on {fake.base_url}  (API key: {fake.api_key})")
        for spec in fake.specs:
            print(f"  {spec.name:<10} {fake.url_for(spec.name)}")
        print("\nexport for the official SDKs / interlingua:")
        print(f"  export OPENAI_BASE_URL={fake.url_for('openai')} OPENAI_API_KEY={fake.api_key}")
        print("Ctrl-C stops.", flush=True)

    run_forever(args.host, args.port, ready=ready)
    return 0


# -- chat -------------------------------------------------------------------------------------------


async def _chat(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = ([Message.system(args.system)] if args.system else []) + [Message.user(prompt)]
    cfg = LlmConfig.from_env(timeout=args.timeout)
    options: dict[str, Any] = {}
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if args.base_url or args.api_key:
        from interlingua.core import parse_model

        ref = parse_model(args.model)
        if isinstance(ref, Failure):
            print(error_line(ref.failure()), file=sys.stderr)
            return 2
        fields: dict[str, Any] = {}
        if args.base_url:
            fields["base_url"] = args.base_url
        if args.api_key:
            fields["api_key"] = args.api_key
        cfg = cfg.with_provider(ref.unwrap().provider, **fields)
    started = time.perf_counter()
    async with Client(cfg) as client:
        if args.no_stream or args.json:
            result = await client.chat(args.model, messages, **options)
        else:
            from interlingua.core.fold import Accumulator, accumulate, to_response

            acc = Accumulator()
            failed: LlmError | None = None
            async for item in client.stream(args.model, messages, **options):
                match item:
                    case Success(chunk):
                        acc = accumulate(acc, chunk)
                        sys.stdout.write(chunk.text)
                        sys.stdout.flush()
                    case Failure(e):
                        failed = e
            sys.stdout.write("\n")
            result = Failure(failed) if failed else Success(to_response(acc, ""))
    elapsed = time.perf_counter() - started
    match result:
        case Success(r):
            if args.json:
                sys.stdout.write(msgspec.json.encode({"response": r, "latency_s": round(elapsed, 4)}).decode() + "\n")
            else:
                if args.no_stream:
                    sys.stdout.write(r.text + "\n")
                u = r.usage
                sys.stderr.write(f"[{u.prompt_tokens} in / {u.completion_tokens} out tokens · {elapsed * 1000:.0f} ms · {r.finish_reason.value}]\n")
            return 0
        case Failure(e):
            if args.json:
                sys.stdout.write(msgspec.json.encode({"error": e}).decode() + "\n")
            else:
                sys.stderr.write(error_line(e) + "\n")
            return 1
    return 1


# -- wiring -----------------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def _run_async(fn: Callable[[argparse.Namespace], Any]) -> Handler:
    return lambda args: asyncio.run(fn(args))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="interlingua", description="One typed client for every LLM provider.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the offline demo against the bundled fakes")
    demo.set_defaults(handler=_run_async(_demo))

    fakes = sub.add_parser("fakes", help="the bundled fake provider servers")
    fsub = fakes.add_subparsers(dest="fakes_command", required=True, metavar="ACTION")
    serve = fsub.add_parser("serve", help="serve every provider's fake on one port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.set_defaults(handler=_fakes_serve)

    chat = sub.add_parser("chat", help="ask a model; streams the answer")
    chat.add_argument("model", help="e.g. openai:gpt-4o-mini, claude-sonnet-4-5, ollama:llama3:8b")
    chat.add_argument("prompt", help="the prompt, or - to read it from stdin")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--base-url", help="override the provider's base URL")
    chat.add_argument("--api-key", help="override the provider's API key (prefer the env var)")
    chat.add_argument("--timeout", type=float, default=120.0)
    chat.add_argument("--no-stream", action="store_true", help="one request, no streaming")
    chat.add_argument("--json", action="store_true", help="print a machine-readable result")
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
