"""Many requests: fan-out now (:func:`chat_many`), and the providers' batch jobs (half price, within 24 h).

Fan-out calls the client's public ``chat`` once per request, so every request meets what a single
call meets: validation, budgets and the context window, the rate limiter (which *waits for a turn*
rather than letting a request fail with 429), retries, the circuit breaker, failover and any cache.
At most ``concurrency`` requests are in flight and at most that many are drawn from the input, so
an iterator of 100,000 requests is never held whole.

Batch jobs (:mod:`interlingua.core.batch` encodes and decodes every exchange) go through the client's
transport with its retry policy for the control calls; results stream from the result files and
are decoded line by line as the bytes arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
    Sized,
)
from typing import TYPE_CHECKING, Any, TypeAlias

from returns.result import Failure, Result, Success

from interlingua.core import (
    ChatRequest,
    ChatResponse,
    ErrorKind,
    HttpRequest,
    HttpResponse,
    LlmError,
    Message,
)
from interlingua.core import batch as B
from interlingua.core.dialect import malformed
from interlingua.core.retry import GiveUp, decide

from .events import LOGGER
from .transport import never_sent

if TYPE_CHECKING:
    from .client import Client

__all__ = ["BatchRef", "Progress", "batch_results", "batch_status", "cancel_batch", "chat_many", "iter_chat_many",
           "list_batches", "submit_batch"]

Messages: TypeAlias = "str | Message | Sequence[Message] | ChatRequest"
Progress = Callable[[int, "int | None"], object]
"""``on_progress(done, total)``; ``total`` is ``None`` when the requests came as an iterator."""
BatchRef = B.BatchJob | str
"""A job, or its ``"provider:id"`` string (what the CLI prints and takes)."""
Outcome = tuple[str, Result[ChatResponse, LlmError]]

# Result files can be far larger than a chat reply; they stream, so the cap is only a safety net.
_RESULTS_MAX_BYTES = 1 << 40


# -- fan-out now -------------------------------------------------------------------------------------


def _timed_out(deadline: float) -> LlmError:
    return LlmError(kind=ErrorKind.TIMEOUT, message=f"chat_many deadline of {deadline:g}s passed before this "
                    "request finished", retryable=False)


Emit = Callable[[int, Result[ChatResponse, LlmError]], Awaitable[None]]


async def _fan_out(
    client: Client,
    model: str,
    requests: Iterable[Messages] | AsyncIterable[Messages],
    concurrency: int,
    deadline: float | None,
    options: dict[str, Any],
    emit: Emit,
) -> None:
    """``concurrency`` workers, each drawing the next request, calling ``chat`` and emitting the result."""
    env = client._env  # hook: batch (the client's injected clock)
    ends = env.clock() + deadline if deadline is not None else None
    counter = 0
    exhausted = False
    if isinstance(requests, AsyncIterable):
        source = aiter(requests)
        draw = asyncio.Lock()

        async def take() -> tuple[int, Messages] | None:
            nonlocal counter, exhausted
            async with draw:  # an async iterator must not be entered by two workers at once
                if exhausted:
                    return None
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    exhausted = True
                    return None
                i, counter = counter, counter + 1
                return i, item
    else:
        plain = iter(requests)

        async def take() -> tuple[int, Messages] | None:
            nonlocal counter, exhausted
            # no await between the check and the draw: one worker at a time, without a lock
            if exhausted:
                return None
            try:
                item = next(plain)
            except StopIteration:
                exhausted = True
                return None
            i, counter = counter, counter + 1
            return i, item

    async def one(req: Messages) -> Result[ChatResponse, LlmError]:
        try:
            if ends is None:
                return await client.chat(model, req, **options)
            remaining = ends - env.clock()
            if remaining <= 0:
                return Failure(_timed_out(deadline or 0.0))
            # What is left of the fan-out's deadline is this call's own (the client's deadline hook).
            return await client.chat(model, req, deadline=remaining, **options)
        except Exception as e:  # a bug in one call must not cancel the others; it is logged as one
            LOGGER.exception("chat_many: request raised instead of returning a Result")
            return Failure(LlmError(kind=ErrorKind.API, message=f"internal error: {type(e).__name__}: {e}"))

    async def worker() -> None:
        while (got := await take()) is not None:
            i, req = got
            await emit(i, await one(req))

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))


async def iter_chat_many(
    client: Client,
    model: str,
    requests: Iterable[Messages] | AsyncIterable[Messages],
    *,
    concurrency: int = 16,
    deadline: float | None = None,
    **options: Any,
) -> AsyncGenerator[tuple[int, Result[ChatResponse, LlmError]], None]:
    """``(index, result)`` per request, in completion order, ``concurrency`` at a time.

    Memory holds at most ``concurrency`` requests and as many finished results as the consumer has
    not taken yet (the queue is bounded: workers wait for a slow consumer). ``deadline`` (seconds,
    for the whole fan-out, on the client's clock) fails every request not finished by then with
    ``timeout``; nothing is sent after it.
    """
    queue: asyncio.Queue[tuple[int, Result[ChatResponse, LlmError]] | None] = asyncio.Queue(maxsize=max(1, concurrency))

    async def put(i: int, r: Result[ChatResponse, LlmError]) -> None:
        await queue.put((i, r))

    async def run() -> None:
        try:
            await _fan_out(client, model, requests, concurrency, deadline, options, put)
        except asyncio.CancelledError:
            raise  # the consumer left: nobody reads the queue any more
        except BaseException:
            await queue.put(None)
            raise
        await queue.put(None)

    runner = asyncio.ensure_future(run())
    try:
        while (item := await queue.get()) is not None:
            yield item
        await runner  # a raising input iterator surfaces here, as the caller's own exception
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


async def chat_many(
    client: Client,
    model: str,
    requests: Iterable[Messages] | AsyncIterable[Messages],
    *,
    concurrency: int = 16,
    on_progress: Progress | None = None,
    deadline: float | None = None,
    **options: Any,
) -> list[Result[ChatResponse, LlmError]]:
    """One ``Result`` per request, in input order; a failure never cancels the others."""
    total = len(requests) if isinstance(requests, Sized) else None
    results: list[Result[ChatResponse, LlmError] | None] = [None] * total if total is not None else []
    done = 0

    async def put(i: int, r: Result[ChatResponse, LlmError]) -> None:
        nonlocal done
        if i >= len(results):
            results.extend([None] * (i + 1 - len(results)))
        results[i] = r
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    await _fan_out(client, model, requests, concurrency, deadline, options, put)
    return [r for r in results if r is not None]


# -- provider batch jobs -----------------------------------------------------------------------------


def _ref(job: BatchRef) -> Result[tuple[str, str, B.BatchJob | None], LlmError]:
    if isinstance(job, B.BatchJob):
        return Success((job.provider, job.id, job))
    provider, sep, job_id = str(job).partition(":")
    provider = {"google": "gemini"}.get(provider, provider)
    if not sep or not job_id or provider not in B.BATCH_PROVIDERS:
        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"not a batch job reference: {job!r} "
                                f"(expected 'provider:id' with provider one of {', '.join(B.BATCH_PROVIDERS)})"))
    return Success((provider, job_id, None))


# Statuses that say the server did not act on the request: safe to repeat even a create.
_NOT_ACTED = frozenset({429, 503, 529})


def _replayable(req: HttpRequest, err: LlmError) -> bool:
    """A read is always safe to repeat; a POST (upload, create, cancel) only when it never took effect,
    or a retry could create a second job (and pay twice)."""
    return req.method == "GET" or err.status in _NOT_ACTED or (err.status is None and never_sent(err))


async def _exchange(client: Client, provider: str, req: HttpRequest) -> Result[HttpResponse, LlmError]:
    """Send one control call with the client's retry policy; a non-2xx answer is the dialect's error."""
    env = client._env  # hook: batch
    started = env.clock()
    attempt = 0
    while True:
        attempt += 1
        sent = await client._transport.send(req, timeouts=client._timeouts, max_bytes=client.config.max_response_bytes)
        if type(sent) is Success:
            resp = sent.unwrap()
            if 200 <= resp.status < 300:
                return Success(resp)
            err = B.decode_http_error(provider, resp)
        else:
            err = sent.failure()
        err = _owned(err, provider, client)
        if not _replayable(req, err):
            return Failure(err)
        decision = decide(client._retry, attempt, err, env.clock(), started, env.rng())
        if isinstance(decision, GiveUp):
            return Failure(err)
        await env.sleep(decision.delay)


def _owned(err: LlmError, provider: str, client: Client) -> LlmError:
    from .client import _with_provider

    return _with_provider(err, provider, client.config.provider(provider))


async def _job_call(client: Client, provider: str, req: Result[HttpRequest, LlmError]) -> Result[B.BatchJob, LlmError]:
    if type(req) is Failure:
        return req
    sent = await _exchange(client, provider, req.unwrap())
    if type(sent) is Failure:
        return sent
    return B.decode_job(provider, sent.unwrap().body)


async def submit_batch(
    client: Client,
    model: str,
    requests: Mapping[str, Messages],
    *,
    display_name: str | None = None,
    inline_limit: int = B.GEMINI_INLINE_LIMIT,
    **options: Any,
) -> Result[B.BatchJob, LlmError]:
    """Hand ``requests`` (``custom_id`` → anything ``chat`` accepts) to the provider's batch API.

    Gemini takes the requests inline up to ``inline_limit`` bytes, and through an uploaded JSONL
    file (the Files API's resumable upload) above it."""
    prepared: list[tuple[str, ChatRequest]] = []
    provider = ""
    cfg = None
    resolved = model
    for cid, value in requests.items():
        p = client.prepare(model, value, **options)
        if type(p) is Failure:
            err = p.failure()
            return Failure(LlmError(kind=err.kind, message=f"request {cid!r}: {err.message}", provider=err.provider))
        q = p.unwrap()
        provider, cfg, resolved = q.ref.provider, q.config, q.ref.model
        prepared.append((cid, q.request))
    if cfg is None:
        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message="a batch needs at least one request"))
    upload = B.encode_upload(provider, prepared, cfg, boundary="interlingua-" + secrets.token_hex(16))
    if type(upload) is Failure:
        return upload
    file_id = None
    up = upload.unwrap()
    if up is not None:
        sent = await _exchange(client, provider, up)
        if type(sent) is Failure:
            return sent
        fid = B.decode_uploaded_file(provider, sent.unwrap())
        if type(fid) is Failure:
            return fid
        file_id = fid.unwrap()
    elif provider == "gemini":
        uploaded = await _gemini_file_if_large(client, prepared, cfg, display_name, inline_limit)
        if type(uploaded) is Failure:
            return uploaded
        file_id = uploaded.unwrap()
    create = B.encode_create(provider, prepared, cfg, model=resolved, input_file_id=file_id, display_name=display_name)
    return await _job_call(client, provider, create)


async def _gemini_file_if_large(
    client: Client, prepared: list[tuple[str, ChatRequest]], cfg: Any, display_name: str | None, inline_limit: int
) -> Result[str | None, LlmError]:
    data = B.gemini_input_file(prepared, cfg)
    if type(data) is Failure:
        return data
    raw = data.unwrap()
    if len(raw) <= inline_limit:
        return Success(None)
    start = B.encode_gemini_upload_start(cfg, len(raw), display_name or "interlingua-batch")
    if type(start) is Failure:
        return start
    started = await _exchange(client, "gemini", start.unwrap())
    if type(started) is Failure:
        return started
    finish = B.encode_gemini_upload_finish(started.unwrap(), raw, cfg)
    if type(finish) is Failure:
        return finish
    # One attempt: an upload session is not safely replayed by a blind retry.
    sent = await client._transport.send(finish.unwrap(), timeouts=client._timeouts, max_bytes=client.config.max_response_bytes)
    if type(sent) is Failure:
        return Failure(_owned(sent.failure(), "gemini", client))
    return B.decode_gemini_file(sent.unwrap()).map(lambda name: name)


async def batch_status(client: Client, job: BatchRef) -> Result[B.BatchJob, LlmError]:
    ref = _ref(job)
    if type(ref) is Failure:
        return ref
    provider, job_id, _ = ref.unwrap()
    return await _job_call(client, provider, B.encode_retrieve(provider, job_id, client.config.provider(provider)))


async def cancel_batch(client: Client, job: BatchRef) -> Result[B.BatchJob, LlmError]:
    """Ask the provider to cancel; the job as it stands after the request (``cancelling`` usually)."""
    ref = _ref(job)
    if type(ref) is Failure:
        return ref
    provider, job_id, _ = ref.unwrap()
    req = B.encode_cancel(provider, job_id, client.config.provider(provider))
    if provider != "gemini":
        return await _job_call(client, provider, req)
    # Gemini's cancel answers an empty object: read the job back.
    if type(req) is Failure:
        return req
    sent = await _exchange(client, provider, req.unwrap())
    if type(sent) is Failure:
        return sent
    return await batch_status(client, job)


LIST_MAX_PAGES = 1000
"""A listing that has not ended after this many pages is refused rather than followed further."""


async def list_batches(client: Client, provider: str, *, limit: int | None = None) -> Result[tuple[B.BatchJob, ...], LlmError]:
    """The provider's batch jobs, newest first as it lists them, page after page: all of them, or
    the newest ``limit``. A page that cannot be fetched or read fails the whole listing (never a
    list silently cut short), as does a listing that comes back to a page it already gave."""
    provider = {"google": "gemini"}.get(provider, provider)
    if limit is not None and limit < 1:
        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"limit must be at least 1, not {limit}",
                                provider=provider))
    cfg = client.config.provider(provider)
    jobs: list[B.BatchJob] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(LIST_MAX_PAGES):
        size = B.LIST_PAGE_SIZE if limit is None else min(B.LIST_PAGE_SIZE, limit - len(jobs))
        req = B.encode_list(provider, cfg, cursor=cursor, page_size=size)
        if type(req) is Failure:
            return req
        sent = await _exchange(client, provider, req.unwrap())
        if type(sent) is Failure:
            return sent
        page = B.decode_job_page(provider, sent.unwrap().body)
        if type(page) is Failure:
            return page
        got = page.unwrap()
        jobs.extend(got.jobs)
        if limit is not None and len(jobs) >= limit:
            return Success(tuple(jobs[:limit]))
        if got.cursor is None:
            return Success(tuple(jobs))
        if got.cursor in seen:
            return Failure(malformed(provider, f"the batch job list came back to a page it already gave (cursor {got.cursor!r})"))
        seen.add(got.cursor)
        cursor = got.cursor
    return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, provider=provider,
                            message=f"the batch job list runs past {LIST_MAX_PAGES} pages; pass a limit"))


async def batch_results(client: Client, job: BatchRef) -> AsyncIterator[Outcome]:
    """``(custom_id, result)`` per request, in the provider's order, decoded as the result files stream.

    The job is read afresh first (a stale :class:`BatchJob` has no result files yet). A job that has
    not ended yields nothing. A failure to fetch or read a file ends the iteration with one
    ``("", Failure(error))`` item.
    """
    status = await batch_status(client, job)
    if type(status) is Failure:
        yield "", status
        return
    current = status.unwrap()
    if not current.done:
        return
    provider = current.provider
    reqs = B.encode_result_requests(current, client.config.provider(provider))
    if type(reqs) is Failure:
        yield "", reqs
        return
    for req in reqs.unwrap():
        async for item in _stream_results(client, provider, req):
            yield item


async def _stream_results(client: Client, provider: str, req: HttpRequest) -> AsyncIterator[Outcome]:
    inline = provider == "gemini" and req.url.split("?", 1)[0].rstrip("/").rsplit("/", 2)[-2] == "batches"
    st = B.results_start(provider)
    whole = bytearray()
    items = client._transport.stream(req, timeouts=client._timeouts, max_bytes=_RESULTS_MAX_BYTES)
    try:
        async for item in items:
            if isinstance(item, HttpResponse):
                if not 200 <= item.status < 300:
                    yield "", Failure(_owned(B.decode_http_error(provider, item), provider, client))
                    return
            elif isinstance(item, LlmError):
                yield "", Failure(_owned(item, provider, client))
                return
            elif inline:
                whole += item  # Gemini's inline output is one JSON operation, not lines
            else:
                st, out = B.results_feed(st, item)
                for o in out:
                    yield o
    finally:
        await items.aclose()  # type: ignore[attr-defined]
    if inline:
        for o in B.decode_results(provider, bytes(whole)):
            yield o
        return
    for o in B.results_finish(st):
        yield o

