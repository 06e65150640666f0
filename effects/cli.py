"""The ``interlingua`` command line.

Verbs: ``demo`` (the README's main job: chat, stream, a tool call and an injected 429 against the
bundled fakes — no keys, no network), ``fakes serve`` (every provider's fake, each on its own port), ``chat``.
Expected failures print one line — kind, provider, status, hint — and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TextIO

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import ChatResponse, LlmError, Message, ToolSpec, Usage, parse_model
from interlingua.core.catalog import default_catalog
from interlingua.core.fold import Accumulator, accumulate, to_response

from .client import Client
from .config import ENV, LlmConfig

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


def _hint(err: LlmError) -> str | None:
    """The hint for ``err``, naming the provider's env var where that is what the user must fix."""
    spec = ENV.get(err.provider or "")
    if err.kind.value == "authentication" and spec is not None and spec.api_key:
        return f"set {spec.api_key[0]} or pass --api-key"
    if err.kind.value == "network" and spec is not None and spec.base_url:
        return f"is the server up? check {spec.base_url[0]} or --base-url"
    return HINTS.get(err.kind.value)


def error_line(err: LlmError) -> str:
    """One line: ``error: KIND provider=P status=S: message (hint: …)`` — never a traceback."""
    parts = [f"error: {err.kind.value}"]
    if err.provider:
        parts.append(f"provider={err.provider}")
    if err.status is not None:
        parts.append(f"status={err.status}")
    line = " ".join(parts) + ": " + " ".join(err.message.split())
    hint = _hint(err)
    return line + (f" (hint: {hint})" if hint else "")


# -- demo -------------------------------------------------------------------------------------------

# One model per provider the fakes serve, for the demo's last step.
DEMO_MODELS: tuple[str, ...] = (
    "openai:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "gemini:gemini-2.5-flash",
    "ollama:llama3.2",
    "azure:gpt-4o-mini",
    "xai:grok-3-mini",
    "docker:ai/smollm2",
    "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
)


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
                    out.write(f"   → Failure(kind={e.kind.value}): {e.message[:90]}…\n")
                case Success(_):
                    out.write("   → unexpected success\n")
        out.write("\n7. one question, every provider (config from the env vars `fakes serve` prints)\n")
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
    out.write("\ndone: no keys, no network — everything above ran against the bundled fakes.\n")
    return 0


# -- fakes serve ------------------------------------------------------------------------------------


def _fakes_serve(args: argparse.Namespace) -> int:
    from interlingua.fakes._env import fake_env
    from interlingua.fakes._server import run_forever

    def ready(fake: Any) -> None:
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
    if not (args.base_url or args.api_key):
        return Success(cfg)
    fields = {k: v for k, v in (("base_url", args.base_url), ("api_key", args.api_key)) if v}
    return parse_model(args.model).map(lambda ref: cfg.with_provider(ref.provider, **fields))


def _cost(model: str, usage: Usage) -> Decimal | None:
    """The catalog price of ``usage`` (``None`` when the model or its price is not in the catalog)."""
    info = default_catalog().resolve(model)
    return usage.calculate_cost(info) if info is not None else None


def _footer(r: ChatResponse, model: str, elapsed: float) -> str:
    u = r.usage
    cost = _cost(model, u)
    money = "cost unknown" if cost is None else "$0" if cost == 0 else f"${cost:.6f}"
    return (f"[{u.prompt_tokens} in / {u.completion_tokens} out tokens · {money} · {elapsed * 1000:.0f} ms"
            f" · {r.finish_reason.value} · {f'{r.provider}:{r.model}' if r.provider else model}]")


async def _stream_to(out: TextIO, client: Client, model: str, messages: list[Message],
                     options: dict[str, Any]) -> Result[ChatResponse, LlmError]:
    """Print each chunk's text as it arrives; the folded response (or the stream's failure) at the end."""
    acc, wrote = Accumulator(), False
    async for item in client.stream(model, messages, **options):
        match item:
            case Success(chunk):
                acc = accumulate(acc, chunk)
                if chunk.text:
                    out.write(chunk.text)
                    out.flush()
                    wrote = True
            case Failure(e):
                if wrote:  # end the partial answer's line before the error line
                    out.write("\n")
                return Failure(e)
    out.write("\n")
    return Success(to_response(acc, ""))


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
    async with Client(cfg) as client:
        if args.no_stream or args.json:
            result = await client.chat(args.model, messages, **options)
        else:
            result = await _stream_to(sys.stdout, client, args.model, messages, options)
    elapsed = time.perf_counter() - started
    match result:
        case Success(r):
            if args.json:
                cost = _cost(args.model, r.usage)
                payload = {"response": r, "latency_ms": round(elapsed * 1000, 1),
                           "cost_usd": None if cost is None else str(cost)}
                sys.stdout.write(msgspec.json.encode(payload).decode() + "\n")
            else:
                if args.no_stream:
                    sys.stdout.write(r.text + "\n")
                sys.stderr.write(_footer(r, args.model, elapsed) + "\n")
            return 0
        case Failure(e):
            return _report(args, e)
    return 1


def _report(args: argparse.Namespace, err: LlmError) -> int:
    """An expected failure: one line on stderr (or a JSON object with --json), exit status 1."""
    if getattr(args, "json", False):
        sys.stdout.write(msgspec.json.encode({"error": err}).decode() + "\n")
    else:
        sys.stderr.write(error_line(err) + "\n")
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
    serve = fsub.add_parser("serve", help="serve every provider's fake, each on its own port")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="the first provider's port (default 8787; the others take the next ones; 0 picks free ones)")
    serve.set_defaults(handler=_fakes_serve)

    chat = sub.add_parser(
        "chat", help="ask a model; streams the answer",
        description="Ask a model. The answer streams to stdout; a footer (tokens, cost, latency) goes to stderr. "
                    "Keys and base URLs come from the providers' env vars (see `interlingua fakes serve`).",
        epilog="example: interlingua chat openai:gpt-4o-mini 'Say hi' --max-tokens 50")
    chat.add_argument("model", help="e.g. openai:gpt-4o-mini, claude-sonnet-4-5, ollama:llama3.2")
    chat.add_argument("prompt", help="the prompt, or - to read it from stdin")
    chat.add_argument("--system", help="a system message")
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--base-url", help="override the provider's base URL")
    chat.add_argument("--api-key", help="override the provider's API key (prefer the env var)")
    chat.add_argument("--timeout", type=float, default=120.0, help="seconds for the whole call (default 120)")
    chat.add_argument("--retries", type=int, help="retries on transient failures (default 3; 0 turns them off)")
    chat.add_argument("--no-stream", action="store_true", help="one request, no streaming")
    chat.add_argument("--json", action="store_true",
                      help="print one JSON object (response, latency_ms, cost_usd, or error); implies --no-stream")
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
