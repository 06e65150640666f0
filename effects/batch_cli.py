"""``interlingua batch …``: provider batch jobs, and fan-out now.

``batch submit MODEL FILE`` hands a JSONL file to the provider's batch API (one request a line:
``{"custom_id": "a", "prompt": "…"}`` or ``{"custom_id": "a", "messages": [...]}``, plus any
``ChatRequest`` option such as ``"max_tokens"``) and prints the job's reference (``provider:id``);
``batch status REF``, ``batch results REF [-o out.jsonl]``, ``batch cancel REF``, ``batch list PROVIDER``.
``batch run MODEL FILE --concurrency N [-o out.jsonl]`` sends the same file now, N at a time.

Result lines are ``{"custom_id", "response"}`` or ``{"custom_id", "error"}``. Progress goes to stderr:
a bar on a terminal, a plain line every few seconds otherwise; a summary (successes, failures,
cost) ends every run. Expected failures print one line and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import IO, Any

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import ChatRequest, ChatResponse, LlmError, Message
from interlingua.core.batch import BatchJob
from interlingua.core.catalog import default_catalog

from .client import Client
from .config import LlmConfig

__all__ = ["Progress", "read_requests", "register"]


class _Line(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    custom_id: str | None = None
    prompt: str | None = None
    messages: list[Message] | None = None


def read_requests(lines: Iterator[bytes], model: str) -> Iterator[tuple[str, ChatRequest] | LlmError]:
    """``(custom_id, request)`` per JSONL line (blank lines skipped); a bad line is an ``LlmError`` naming it."""
    from interlingua.core import ErrorKind

    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue

        def bad(why: str, n: int = n) -> LlmError:
            return LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"line {n}: {why}")

        try:
            obj = msgspec.json.decode(raw)
            line = msgspec.convert(obj, _Line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as e:
            yield bad(f"not a request object ({e})")
            continue
        if not isinstance(obj, dict):
            yield bad("not a JSON object")
            continue
        if (line.prompt is None) == (line.messages is None):
            yield bad('give exactly one of "prompt" and "messages"')
            continue
        msgs = [Message.user(line.prompt)] if line.prompt is not None else line.messages or []
        options = {k: v for k, v in obj.items() if k not in ("custom_id", "prompt", "messages", "model")}
        try:
            req = msgspec.convert({**options, "model": model, "messages": msgspec.to_builtins(msgs)}, ChatRequest)
        except (msgspec.ValidationError, TypeError) as e:
            yield bad(f"invalid request option: {e}")
            continue
        yield (line.custom_id if line.custom_id is not None else str(n)), req


def _lines(path: str) -> Iterator[bytes]:
    if path == "-":
        yield from sys.stdin.buffer
        return
    with open(path, "rb") as f:
        yield from f


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, a plain line every ``every`` seconds otherwise."""

    def __init__(self, out: IO[str], total: int | None, *, tty: bool | None = None, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.total, self.every, self.clock = out, total, every, clock
        self.tty = out.isatty() if tty is None else tty
        self.ok = self.failed = 0
        self._last = clock()

    def update(self, ok: bool) -> None:
        if ok:
            self.ok += 1
        else:
            self.failed += 1
        done = self.ok + self.failed
        if self.tty:
            if self.total:
                filled = int(30 * done / self.total)
                bar = "#" * filled + "-" * (30 - filled)
                self.out.write(f"\r[{bar}] {done}/{self.total} ok {self.ok} failed {self.failed}")
            else:
                self.out.write(f"\r{done} done, ok {self.ok} failed {self.failed}")
            self.out.flush()
        elif self.clock() - self._last >= self.every or done == self.total:
            self._last = self.clock()
            of = f"/{self.total}" if self.total else ""
            self.out.write(f"progress: {done}{of} done ({self.ok} ok, {self.failed} failed)\n")
            self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")


def _money(cost: Decimal | None) -> str:
    return "cost unknown" if cost is None else f"${cost:.6f}"


def _cost(r: ChatResponse) -> Decimal | None:
    info = default_catalog().lookup(r.provider, r.model) if r.provider else None
    return r.usage.calculate_cost(info) if info is not None else None


def _summary(ok: int, failed: int, cost: Decimal | None, *, batch_discount: bool = False) -> str:
    note = " (list price; batch jobs are billed at the provider's batch discount)" if batch_discount else ""
    return f"summary: {ok} succeeded, {failed} failed, {_money(cost)}{note}\n"


def _result_line(cid: str, r: Result[ChatResponse, LlmError]) -> bytes:
    payload = {"custom_id": cid, "response": r.unwrap()} if isinstance(r, Success) else {
        "custom_id": cid, "error": r.failure()}
    return msgspec.json.encode(payload) + b"\n"


def _fail(err: LlmError) -> int:
    from .cli import error_line

    sys.stderr.write(error_line(err) + "\n")
    return 1


def _job_text(job: BatchJob) -> str:
    c = job.counts
    return (f"{job.ref}  {job.status.value} ({job.raw_status})  total {c.total}: {c.succeeded} succeeded, "
            f"{c.errored} errored, {c.expired} expired, {c.cancelled} cancelled, {c.processing} pending\n")


def _config(args: argparse.Namespace) -> LlmConfig:
    return LlmConfig.from_env(timeout=args.timeout)


def _load(args: argparse.Namespace) -> Result[list[tuple[str, ChatRequest]], LlmError]:
    out: list[tuple[str, ChatRequest]] = []
    try:
        for item in read_requests(_lines(args.file), args.model):
            if isinstance(item, LlmError):
                return Failure(item)
            out.append(item)
    except OSError as e:
        from interlingua.core import ErrorKind

        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"cannot read {args.file}: {e.strerror or e}"))
    return Success(out)


async def _submit(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, Failure):
        return _fail(loaded.failure())
    async with Client(_config(args)) as client:
        result = await client.submit_batch(args.model, dict(loaded.unwrap()))
    if isinstance(result, Failure):
        return _fail(result.failure())
    sys.stdout.write(_job_text(result.unwrap()))
    return 0


async def _status(args: argparse.Namespace) -> int:
    async with Client(_config(args)) as client:
        result = await client.batch_status(args.ref)
    if isinstance(result, Failure):
        return _fail(result.failure())
    sys.stdout.write(_job_text(result.unwrap()))
    return 0


async def _cancel(args: argparse.Namespace) -> int:
    async with Client(_config(args)) as client:
        result = await client.cancel_batch(args.ref)
    if isinstance(result, Failure):
        return _fail(result.failure())
    sys.stdout.write(_job_text(result.unwrap()))
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with Client(_config(args)) as client:
        result = await client.list_batches(args.provider, limit=args.limit)
    if isinstance(result, Failure):
        return _fail(result.failure())
    for job in result.unwrap():
        sys.stdout.write(_job_text(job))
    return 0


async def _results(args: argparse.Namespace) -> int:
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115 (closed below)
    ok = failed = 0
    cost: Decimal | None = Decimal(0)
    try:
        async with Client(_config(args)) as client:
            status = await client.batch_status(args.ref)
            if isinstance(status, Failure):
                return _fail(status.failure())
            job = status.unwrap()
            if not job.done:
                sys.stderr.write(f"{job.ref} is {job.status.value}: results come once it has ended\n")
                return 1
            progress = Progress(sys.stderr, job.counts.total or None)
            async for cid, r in client.batch_results(job):
                if not cid and isinstance(r, Failure):
                    progress.close()
                    return _fail(r.failure())
                out.write(_result_line(cid, r))
                progress.update(isinstance(r, Success))
                if isinstance(r, Success):
                    ok += 1
                    c = _cost(r.unwrap())
                    cost = None if cost is None or c is None else cost + c
                else:
                    failed += 1
            progress.close()
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    sys.stderr.write(_summary(ok, failed, cost, batch_discount=True))
    return 0 if failed == 0 else 1


async def _run(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if isinstance(loaded, Failure):
        return _fail(loaded.failure())
    named = loaded.unwrap()
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115 (closed below)
    progress = Progress(sys.stderr, len(named))
    try:
        async with Client(_config(args)) as client:
            async for i, r in client.iter_chat_many(args.model, (req for _, req in named), concurrency=args.concurrency):
                out.write(_result_line(named[i][0], r))
                progress.update(isinstance(r, Success))
            cost = client.total_cost
    finally:
        progress.close()
        if args.output:
            out.close()
        else:
            out.flush()
    sys.stderr.write(_summary(progress.ok, progress.failed, cost))
    return 0 if progress.failed == 0 else 1


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return n


def register(sub: Any) -> None:
    def run_async(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
        return lambda args: int(asyncio.run(fn(args)))

    b = sub.add_parser("batch", help="provider batch jobs (submit/status/results/cancel/list) and fan-out now (run)",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    bsub = b.add_subparsers(dest="batch_command", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--timeout", type=float, default=600.0, help="seconds per HTTP exchange (default 600)")

    s = bsub.add_parser("submit", help="hand a JSONL file of requests to the provider's batch API")
    s.add_argument("model", help="openai:…, azure:<deployment>, anthropic:…, gemini:…")
    s.add_argument("file", help='JSONL: {"custom_id": …, "prompt": … | "messages": [...]} per line; - reads stdin')
    common(s)
    s.set_defaults(handler=run_async(_submit))
    st = bsub.add_parser("status", help="a job's status and request counts")
    st.add_argument("ref", help="the job, as printed by submit (provider:id)")
    common(st)
    st.set_defaults(handler=run_async(_status))
    r = bsub.add_parser("results", help="an ended job's results as JSONL")
    r.add_argument("ref", help="provider:id")
    r.add_argument("-o", "--output", help="write the JSONL here (default stdout)")
    common(r)
    r.set_defaults(handler=run_async(_results))
    c = bsub.add_parser("cancel", help="cancel a job")
    c.add_argument("ref", help="provider:id")
    common(c)
    c.set_defaults(handler=run_async(_cancel))
    ls = bsub.add_parser("list", help="a provider's batch jobs, newest first (every page)")
    ls.add_argument("provider", help="openai, azure, anthropic or gemini")
    ls.add_argument("--limit", type=_positive_int, default=None, help="only the newest N jobs")
    common(ls)
    ls.set_defaults(handler=run_async(_list))
    run = bsub.add_parser("run", help="send every request now, N at a time (no batch discount, no 24 h wait)")
    run.add_argument("model")
    run.add_argument("file", help="the same JSONL as submit; - reads stdin")
    run.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    run.add_argument("-o", "--output", help="write the JSONL here (default stdout), in completion order")
    common(run)
    run.set_defaults(handler=run_async(_run))

