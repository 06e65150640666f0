"""The providers' batch APIs, as the fakes play them: jobs that advance on a schedule the test controls.

Written from the API references, never from :mod:`interlingua.core.batch`:

* OpenAI (https://platform.openai.com/docs/api-reference/batch, …/files): ``POST /v1/files``
  (multipart, ``purpose=batch``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``,
  ``POST /v1/batches``, ``GET /v1/batches[/{id}]``, ``POST /v1/batches/{id}/cancel``. Azure OpenAI
  serves the same under ``/openai/…?api-version=…`` and ``/openai/v1/…``.
* Anthropic (https://docs.anthropic.com/en/api/creating-message-batches): ``POST
  /v1/messages/batches``, ``GET /v1/messages/batches[/{id}]``, ``GET …/{id}/results`` (JSONL,
  once ``ended``), ``POST …/{id}/cancel``.
* Gemini (https://ai.google.dev/api/batch-mode): ``POST /v1beta/models/{model}:batchGenerateContent``
  → a long-running operation, ``GET /v1beta/batches[/{id}]``, ``POST /v1beta/batches/{id}:cancel``,
  ``DELETE /v1beta/batches/{id}``; results inline in the finished operation, or — for a job read
  from an uploaded file (``POST /upload/v1beta/files``, the resumable protocol) — in a responses
  file (``GET /download/v1beta/files/{id}:download?alt=media``).

**Schedule.** Nothing moves on its own: ``await fake.advance_batches()`` moves every unfinished job
one step (OpenAI ``validating → in_progress → finalizing → completed``; Anthropic ``in_progress →
ended``; Gemini ``PENDING → RUNNING → SUCCEEDED``; a cancelled job ``cancelling → cancelled``), and
``max_requests=N`` lets the running step answer only N more requests (the job stays running).
``fake.batches.expire(job_id)`` ends a job's window: requests not yet run are expired.
``fake.batches.auto_advance = True`` makes every status read advance its job one step (for SDK
pollers and the CLI).

**Answers.** Each request of a job is answered by the fake's own chat endpoint, over HTTP on the
same origin, with the credentials the job was created with: the content rule, the validation and
the error bodies are exactly chat's. ``fake.batches.fail_request(custom_id, "500")`` makes that one
request fail as that fault (``interlingua.fakes._faults``) would.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from ._content import stable_id
from ._faults import FAULT_HEADER
from ._server import open_request, state_of
from ._shapes import ANY, MapOf

__all__ = ["BatchBook", "FakeBatch", "add_anthropic_routes", "add_azure_routes", "add_gemini_routes", "add_openai_routes"]

# A no-op fault on each self-call: without a header, ``record`` would hand the request a fault queued
# for a later direct call (``fake.fail_next``), and a batch must not eat those.
_NO_FAULT = "slow=0"
_DAY = 24 * 3600
_PHASES_OPENAI = ("validating", "in_progress", "finalizing", "completed")


@dataclass
class _Line:
    custom_id: str
    body: Any
    outcome: tuple[int, bytes] | str | None = None
    """(status, body) once answered; ``"expired"`` / ``"cancelled"`` when never run; ``None``: pending."""


@dataclass
class FakeBatch:
    provider: str
    id: str
    origin: str
    call_path: Callable[[Any], str]
    """The chat path a line's body is answered at (per provider)."""
    headers: dict[str, str] = field(repr=False)
    """The creator's credentials, to answer its requests with (never shown)."""
    lines: list[_Line]
    phase: str
    created: float
    model: str = ""
    input_file_id: str = ""
    endpoint: str = ""
    display_name: str = ""
    times: dict[str, float] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False

    @property
    def pending(self) -> list[_Line]:
        return [ln for ln in self.lines if ln.outcome is None]

    def count(self, kind: str) -> int:
        n = 0
        for ln in self.lines:
            o = ln.outcome
            if (kind == "ok" and isinstance(o, tuple) and 200 <= o[0] < 300) or (kind == "error" and isinstance(o, tuple) and not 200 <= o[0] < 300) or kind == o:
                n += 1
        return n


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created: int


@dataclass
class BatchBook:
    """Every batch job and file the fakes hold (one per fake server)."""

    jobs: dict[str, FakeBatch] = field(default_factory=dict)
    files: dict[str, _File] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)
    """Gemini resumable uploads started and not yet finalized: upload id → display name."""
    auto_advance: bool = False
    concurrency: int = 16
    page_max: int | None = None
    """At most this many jobs on a listing page, whatever the request asks (``None``: each provider's own
    bound). A server may always give fewer than asked; clients follow ``has_more`` / ``nextPageToken``."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return prefix + stable_id(next(self._ids), time.time_ns(), n=24)

    def fail_request(self, custom_id: str, fault: str = "500") -> None:
        """Answer the request ``custom_id`` (of any job) as the fault ``fault`` would."""
        self.failures[custom_id] = fault

    def expire(self, job_id: str) -> None:
        """The job's completion window ends now: every request not yet run is expired."""
        j = self.jobs[job_id]
        if j.phase in _FINAL:
            return
        for ln in j.pending:
            ln.outcome = "expired"
        _finish(self, j, "expired")

    async def advance(self, steps: int = 1, *, max_requests: int | None = None) -> None:
        """Move every unfinished job ``steps`` steps along its provider's states."""
        for _ in range(steps):
            for j in list(self.jobs.values()):
                await self.step(j, max_requests=max_requests)

    async def step(self, j: FakeBatch, *, max_requests: int | None = None) -> None:
        now = time.time()
        if j.phase in _FINAL:
            return
        if j.phase == "cancelling":
            for ln in j.pending:
                ln.outcome = "cancelled"
            _finish(self, j, "cancelled")
        elif j.phase == "validating":
            j.phase = "in_progress"
            j.times["in_progress"] = now
        elif j.phase == "in_progress":
            todo = j.pending[:max_requests] if max_requests is not None else j.pending
            await self._run(j, todo)
            if not j.pending:
                if j.provider in ("openai", "azure"):
                    j.phase = "finalizing"
                    j.times["finalizing"] = time.time()
                else:
                    _finish(self, j, "completed")
        elif j.phase == "finalizing":
            _finish(self, j, "completed")

    async def _run(self, j: FakeBatch, lines: list[_Line]) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        async with aiohttp.ClientSession() as session:

            async def one(ln: _Line) -> None:
                async with gate:
                    headers = {**j.headers, "Content-Type": "application/json",
                               FAULT_HEADER: self.failures.get(ln.custom_id, _NO_FAULT)}
                    try:
                        async with session.post(j.origin + j.call_path(ln.body), data=json.dumps(ln.body),
                                                headers=headers) as resp:
                            ln.outcome = (resp.status, await resp.read())
                    except aiohttp.ClientError:
                        ln.outcome = (500, b'{"error":{"message":"the fake lost the request"}}')

            await asyncio.gather(*(one(ln) for ln in lines))


_FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def _finish(book: BatchBook, j: FakeBatch, phase: str) -> None:
    j.phase = phase
    j.times[phase] = time.time()
    if j.provider == "gemini" and j.input_file_id:
        # A job read from a file answers in a file: {"key", "response" | "error"} a line.
        lines = [_g_file_line(ln) for ln in j.lines]
        fid = "files/batch-" + j.id.removeprefix("batches/")
        book.files[fid] = _File(fid, fid, "batch_output", b"".join(x for x in lines if x), int(time.time()))
        j.output_file_id = fid
    if j.provider in ("openai", "azure"):
        ok = [ln for ln in j.lines if isinstance(ln.outcome, tuple) and 200 <= ln.outcome[0] < 300]
        bad = [ln for ln in j.lines if ln.outcome is not None and ln not in ok]
        if ok:
            j.output_file_id = _store(book, "batch_output.jsonl", "batch_output", b"".join(_oa_line(j, ln) for ln in ok))
        if bad:
            j.error_file_id = _store(book, "batch_error.jsonl", "batch_output", b"".join(_oa_line(j, ln) for ln in bad))


def _store(book: BatchBook, filename: str, purpose: str, data: bytes) -> str:
    fid = book.new_id("file-")
    book.files[fid] = _File(fid, filename, purpose, data, int(time.time()))
    return fid


def _limit_param(raw: str | None, default: int) -> int | str:
    """A listing's page-size parameter as given (its default when absent), or the text that is no integer."""
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return raw


def _capped(n: int, book: BatchBook) -> int:
    return n if book.page_max is None else min(n, book.page_max)


def _page_token(offset: int) -> str:
    # opaque to clients, as Google's are: where the next page starts
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _token_offset(token: str, size: int) -> int | None:
    try:
        kind, _, n = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        offset = int(n)
    except (ValueError, UnicodeDecodeError):
        return None
    return offset if kind == "o" and 0 <= offset <= size else None


def book_of(request: web.Request) -> BatchBook:
    book: BatchBook = state_of(request).batches
    return book


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda o: json.dumps(o, separators=(",", ":")))


async def _read(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except (ValueError, RecursionError):
        return None


# -- OpenAI and Azure --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpenAISite:
    provider: str
    auth: Callable[[web.Request], web.Response | None]
    error: Callable[..., web.Response]
    chat_path: Callable[[web.Request, Any], str]
    endpoints: frozenset[str]


_EXPIRED = {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
_CANCELLED = {"code": "batch_cancelled", "message": "This request was not executed because the batch was cancelled."}


def _oa_line(j: FakeBatch, ln: _Line) -> bytes:
    o = ln.outcome
    line: dict[str, Any] = {"id": "batch_req_" + stable_id(j.id, ln.custom_id), "custom_id": ln.custom_id}
    if isinstance(o, tuple):
        try:
            body = json.loads(o[1])
        except (ValueError, RecursionError):
            body = {"error": {"message": o[1].decode("utf-8", "replace"), "type": "server_error"}}
        line["response"] = {"status_code": o[0], "request_id": stable_id(ln.custom_id, n=32), "body": body}
        line["error"] = None
    else:
        line["response"] = None
        line["error"] = _EXPIRED if o == "expired" else _CANCELLED
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def _oa_batch(j: FakeBatch) -> dict[str, Any]:
    t = j.times
    return {
        "id": j.id, "object": "batch", "endpoint": j.endpoint,
        "errors": {"object": "list", "data": j.errors} if j.errors else None,
        "input_file_id": j.input_file_id, "completion_window": "24h", "status": j.phase,
        "output_file_id": j.output_file_id, "error_file_id": j.error_file_id,
        "created_at": int(j.created), "in_progress_at": _int(t.get("in_progress")),
        "expires_at": int(j.created + _DAY), "finalizing_at": _int(t.get("finalizing")),
        "completed_at": _int(t.get("completed")), "failed_at": _int(t.get("failed")),
        "expired_at": _int(t.get("expired")), "cancelling_at": _int(t.get("cancelling")),
        "cancelled_at": _int(t.get("cancelled")),
        "request_counts": {"total": len(j.lines), "completed": j.count("ok"),
                           "failed": j.count("error")},
        "metadata": None,
    }


def _int(v: float | None) -> int | None:
    return int(v) if v is not None else None


def _multipart(request: web.Request, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name → (filename, bytes) of a multipart/form-data body (RFC 7578), read with the stdlib."""
    ctype = request.headers.get("Content-Type", "")
    if not ctype.startswith("multipart/form-data"):
        return {}
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
    )
    out: dict[str, tuple[str | None, bytes]] = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            out[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return out


async def _open(
    request: web.Request, auth: Callable[[web.Request], web.Response | None]
) -> tuple[bytes, web.StreamResponse | None]:
    """The opening every batch handler shares (:func:`._server.open_request`). Recorded as endpoint ``batch``
    (``fail_next(..., endpoint="batch")`` aims at it) and as generating no content, so a scripted chat
    answer stays queued for the chat call it was written for. The spec is the app's own (one origin each).
    """
    raw, _, early = await open_request(request, "batch", lambda r, _raw: auth(r), content=False)
    return raw, early


def _openai_handlers(site: _OpenAISite) -> dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    spec_error = site.error

    async def guard(request: web.Request) -> tuple[bytes, web.StreamResponse | None]:
        return await _open(request, site.auth)

    async def upload(request: web.Request) -> web.StreamResponse:
        raw, denied = await guard(request)
        if denied is not None:
            return denied
        parts = _multipart(request, raw)
        if "file" not in parts or "purpose" not in parts:
            missing = "file" if "file" not in parts else "purpose"
            return spec_error(400, f"Missing required parameter: '{missing}'.", param=missing)
        purpose = parts["purpose"][1].decode()
        if purpose not in ("batch", "fine-tune", "assistants", "vision", "user_data", "evals"):
            return spec_error(400, f"'{purpose}' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', "
                              "'vision', 'evals'] - 'purpose'", param="purpose")
        filename, data = parts["file"]
        book = book_of(request)
        fid = _store(book, filename or "upload.jsonl", purpose, data)
        return _json(_file_obj(book.files[fid]))

    async def file_get(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        f = book_of(request).files.get(request.match_info["file_id"])
        if f is None:
            return spec_error(404, f"No such File object: {request.match_info['file_id']}", param="id")
        return _json(_file_obj(f))

    async def file_content(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        f = book_of(request).files.get(request.match_info["file_id"])
        if f is None:
            return spec_error(404, f"No such File object: {request.match_info['file_id']}", param="id")
        return web.Response(body=f.data, content_type="application/octet-stream")

    async def create(request: web.Request) -> web.StreamResponse:
        raw, denied = await guard(request)
        if denied is not None:
            return denied
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            return spec_error(400, "We could not parse the JSON body of your request.")
        for p in ("input_file_id", "endpoint", "completion_window"):
            if p not in body:
                return spec_error(400, f"Missing required parameter: '{p}'.", param=p)
        if body["endpoint"] not in site.endpoints:
            return spec_error(400, f"Invalid value: '{body['endpoint']}'. Supported values are: "
                              f"{', '.join(repr(e) for e in sorted(site.endpoints))}.", param="endpoint")
        if body["completion_window"] != "24h":
            return spec_error(400, f"Invalid value: '{body['completion_window']}'. Supported values are: '24h'.",
                              param="completion_window")
        book = book_of(request)
        f = book.files.get(body["input_file_id"])
        if f is None:
            return spec_error(404, f"No such File object: {body['input_file_id']}", param="input_file_id")
        lines, errors = _parse_input(f.data, body["endpoint"], site)

        def call_path(line_body: Any) -> str:
            return site.chat_path(request, line_body)

        job = FakeBatch(
            provider=site.provider, id=book.new_id("batch_"), origin=str(request.url.origin()),
            call_path=call_path,
            headers=_auth_headers(request), lines=lines, phase="validating", created=time.time(),
            input_file_id=f.id, endpoint=body["endpoint"], errors=errors,
        )
        if errors:
            job.phase = "failed"
            job.times["failed"] = job.created
        book.jobs[job.id] = job
        return _json(_oa_batch(job))

    async def get(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        book = book_of(request)
        j = book.jobs.get(request.match_info["batch_id"])
        if j is None or j.provider != site.provider:
            return spec_error(404, f"No batch found with id '{request.match_info['batch_id']}'.")
        if book.auto_advance:
            await book.step(j)
        return _json(_oa_batch(j))

    async def cancel(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j = book_of(request).jobs.get(request.match_info["batch_id"])
        if j is None or j.provider != site.provider:
            return spec_error(404, f"No batch found with id '{request.match_info['batch_id']}'.")
        if j.phase in _FINAL or j.phase == "finalizing":
            return spec_error(400, f"Cannot cancel a batch with status '{j.phase}'.")
        j.phase = "cancelling"
        j.times["cancelling"] = time.time()
        return _json(_oa_batch(j))

    async def listing(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        book = book_of(request)
        jobs = [j for j in reversed(book.jobs.values()) if j.provider == site.provider]
        after = request.query.get("after")
        if after:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1:] if after in ids else []
        limit = _limit_param(request.query.get("limit"), 20)
        if isinstance(limit, str):
            return spec_error(400, f"Invalid 'limit': {limit}", param="limit")
        if not 1 <= limit <= 100:
            side, bound = ("below minimum", ">= 1") if limit < 1 else ("above maximum", "<= 100")
            return spec_error(400, f"Invalid 'limit': integer {side} value. Expected a value {bound}, but got "
                                   f"{limit} instead.", param="limit")
        page = jobs[:_capped(limit, book)]
        return _json({"object": "list", "data": [_oa_batch(j) for j in page],
                      "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                      "has_more": len(jobs) > len(page)})

    return {"upload": upload, "file_get": file_get, "file_content": file_content, "create": create,
            "get": get, "cancel": cancel, "list": listing}


def _file_obj(f: _File) -> dict[str, Any]:
    return {"id": f.id, "object": "file", "bytes": len(f.data), "created_at": f.created, "filename": f.filename,
            "purpose": f.purpose, "status": "processed", "status_details": None, "expires_at": None}


def _auth_headers(request: web.Request) -> dict[str, str]:
    keep = ("authorization", "api-key", "x-api-key", "x-goog-api-key", "anthropic-version", "anthropic-beta")
    return {k: v for k, v in request.headers.items() if k.lower() in keep}


def _parse_input(data: bytes, endpoint: str, site: _OpenAISite) -> tuple[list[_Line], list[dict[str, Any]]]:
    """The lines of an input file, or the validation errors that fail the batch (as OpenAI lists them)."""
    lines: list[_Line] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            errors.append({"code": "invalid_json_line", "message": "This line is not parseable as valid JSON.",
                           "param": None, "line": n})
            continue
        cid = obj.get("custom_id") if isinstance(obj, dict) else None
        if not isinstance(cid, str):
            errors.append({"code": "missing_required_parameter", "message": "Missing required parameter: 'custom_id'.",
                           "param": "custom_id", "line": n})
            continue
        if cid in seen:
            errors.append({"code": "duplicate_custom_id", "message": "The custom_id for this request is a duplicate "
                           "of another request. The custom_id parameter must be unique for each request in a batch.",
                           "param": "custom_id", "line": n})
            continue
        if obj.get("url") != endpoint or obj.get("method") != "POST":
            errors.append({"code": "invalid_url", "message": f"The URL provided for this request does not match "
                           f"the batch endpoint {endpoint}.", "param": "url", "line": n})
            continue
        seen.add(cid)
        lines.append(_Line(cid, obj.get("body")))
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "The batch input file is empty.", "param": None, "line": None})
    return lines, errors


def add_openai_routes(app: web.Application) -> None:
    from . import openai as oa

    def err(status: int, message: str, param: str | None = None) -> web.Response:
        return oa._error(status, message, param=param)

    site = _OpenAISite("openai", oa._auth, err, lambda r, b: "/v1/chat/completions", frozenset({"/v1/chat/completions"}))
    h = _openai_handlers(site)
    app.router.add_post("/v1/files", h["upload"])
    app.router.add_get("/v1/files/{file_id}", h["file_get"])
    app.router.add_get("/v1/files/{file_id}/content", h["file_content"])
    app.router.add_post("/v1/batches", h["create"])
    app.router.add_get("/v1/batches", h["list"])
    app.router.add_get("/v1/batches/{batch_id}", h["get"])
    app.router.add_post("/v1/batches/{batch_id}/cancel", h["cancel"])


def add_azure_routes(app: web.Application) -> None:
    from . import azure as az

    def err(status: int, message: str, param: str | None = None) -> web.Response:
        return az._error(status, "invalid_request_error" if status == 400 else str(status), message)

    def auth(request: web.Request) -> web.Response | None:
        # Files and batches take the dated versions on /openai/… and v1's on /openai/v1/…
        version = request.query.get("api-version")
        if "/openai/v1/" in request.path:
            return az._check(request)
        if version is None:
            return az._error(404, "404", "Resource not found")
        if version not in az.API_VERSIONS:
            return az._error(400, "BadRequest", "API version not supported")
        key = state_of(request).api_key
        if request.headers.get("api-key") == key or request.headers.get("Authorization", "") == f"Bearer {key}":
            return None
        return az._error(401, "401", az._DENIED)

    def chat_path(request: web.Request, body: Any) -> str:
        # The line's "model" is the deployment; the job's own API version answers it.
        if "/openai/v1/" in request.path:
            return "/openai/v1/chat/completions"
        model = body.get("model", "") if isinstance(body, dict) else ""
        return f"/openai/deployments/{model}/chat/completions?api-version={request.query.get('api-version', '')}"

    site = _OpenAISite("azure", auth, err, chat_path, frozenset({"/chat/completions", "/v1/chat/completions"}))
    h = _openai_handlers(site)
    for prefix in ("/openai", "/openai/v1"):
        app.router.add_post(prefix + "/files", h["upload"])
        app.router.add_get(prefix + "/files/{file_id}", h["file_get"])
        app.router.add_get(prefix + "/files/{file_id}/content", h["file_content"])
        app.router.add_post(prefix + "/batches", h["create"])
        app.router.add_get(prefix + "/batches", h["list"])
        app.router.add_get(prefix + "/batches/{batch_id}", h["get"])
        app.router.add_post(prefix + "/batches/{batch_id}/cancel", h["cancel"])


# -- Anthropic ---------------------------------------------------------------------------------------

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 1_000_000:06d}Z"


def _an_batch(j: FakeBatch) -> dict[str, Any]:
    ended = j.phase in _FINAL
    return {
        "id": j.id, "type": "message_batch",
        "processing_status": "ended" if ended else ("canceling" if j.phase == "cancelling" else "in_progress"),
        "request_counts": {"processing": len(j.pending), "succeeded": j.count("ok"), "errored": j.count("error"),
                           "canceled": j.count("cancelled"), "expired": j.count("expired")},
        "ended_at": _iso(j.times.get(j.phase)) if ended else None,
        "created_at": _iso(j.created), "expires_at": _iso(j.created + _DAY), "archived_at": None,
        "cancel_initiated_at": _iso(j.times.get("cancelling")),
        "results_url": f"{j.origin}/v1/messages/batches/{j.id}/results" if ended else None,
    }


def _an_result(ln: _Line) -> bytes:
    o = ln.outcome
    if isinstance(o, tuple) and 200 <= o[0] < 300:
        result: dict[str, Any] = {"type": "succeeded", "message": json.loads(o[1])}
    elif isinstance(o, tuple):
        try:
            err = json.loads(o[1])
        except (ValueError, RecursionError):
            err = {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}
        err.pop("request_id", None)
        result = {"type": "errored", "error": err}
    else:
        result = {"type": "canceled" if o == "cancelled" else "expired"}
    return json.dumps({"custom_id": ln.custom_id, "result": result}, separators=(",", ":")).encode() + b"\n"


def add_anthropic_routes(app: web.Application) -> None:
    from . import anthropic as an

    async def guard(request: web.Request) -> tuple[bytes, web.StreamResponse | None]:
        return await _open(request, an._check_headers)

    def missing(job_id: str) -> web.Response:
        return an._error(404, "not_found_error", f"No batch found with id '{job_id}'")

    async def create(request: web.Request) -> web.StreamResponse:
        raw, denied = await guard(request)
        if denied is not None:
            return denied
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        reqs = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not reqs:
            return an._error(400, "invalid_request_error", "requests: Field required" if not isinstance(reqs, list)
                             else "requests: List should have at least 1 item after validation, not 0")
        seen: set[str] = set()
        lines = []
        for i, r in enumerate(reqs):
            cid = r.get("custom_id") if isinstance(r, dict) else None
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid):
                return an._error(400, "invalid_request_error", f"requests.{i}.custom_id: String should match pattern "
                                 "'^[a-zA-Z0-9_-]{1,64}$'")
            if cid in seen:
                return an._error(400, "invalid_request_error", f"Duplicate custom_id: '{cid}'. Each request in a "
                                 "batch must have a unique custom_id.")
            if not isinstance(r.get("params"), dict):
                return an._error(400, "invalid_request_error", f"requests.{i}.params: Field required")
            seen.add(cid)
            lines.append(_Line(cid, r["params"]))
        book = book_of(request)
        job = FakeBatch(provider="anthropic", id=book.new_id("msgbatch_01"), origin=str(request.url.origin()),
                        call_path=lambda b: "/v1/messages", headers=_auth_headers(request), lines=lines,
                        phase="in_progress", created=time.time())
        book.jobs[job.id] = job
        return _json(_an_batch(job))

    def find(request: web.Request) -> FakeBatch | None:
        j = book_of(request).jobs.get(request.match_info["batch_id"])
        return j if j is not None and j.provider == "anthropic" else None

    async def get(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j = find(request)
        if j is None:
            return missing(request.match_info["batch_id"])
        book = book_of(request)
        if book.auto_advance:
            await book.step(j)
        return _json(_an_batch(j))

    async def results(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j = find(request)
        if j is None:
            return missing(request.match_info["batch_id"])
        if j.phase not in _FINAL:
            return an._error(400, "invalid_request_error", f"Batch '{j.id}' has not ended: results are available "
                             "once processing_status is 'ended'.")
        resp = web.StreamResponse(headers={"Content-Type": "application/binary"})
        await resp.prepare(request)
        for ln in j.lines:  # written line by line, as a large file streams
            await resp.write(_an_result(ln))
        await resp.write_eof()
        return resp

    async def cancel(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j = find(request)
        if j is None:
            return missing(request.match_info["batch_id"])
        if j.phase in _FINAL:
            return an._error(400, "invalid_request_error", f"Batch '{j.id}' has already ended and cannot be canceled.")
        j.phase = "cancelling"
        j.times["cancelling"] = time.time()
        return _json(_an_batch(j))

    async def listing(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        # newest first; after_id pages on to older jobs, before_id back to newer ones (the page just
        # before that job), as the API reference and the SDK's paginator use them
        book = book_of(request)
        jobs = [j for j in reversed(book.jobs.values()) if j.provider == "anthropic"]
        limit = _limit_param(request.query.get("limit"), 20)
        if isinstance(limit, str) or not 1 <= limit <= 1000:
            what = "Input should be a valid integer" if isinstance(limit, str) else (
                "Input should be greater than or equal to 1" if limit < 1 else "Input should be less than or equal to 1000")
            return an._error(400, "invalid_request_error", f"limit: {what}")
        after, before = request.query.get("after_id"), request.query.get("before_id")
        if after and before:
            return an._error(400, "invalid_request_error", "Cannot specify both before_id and after_id")
        ids = [j.id for j in jobs]
        n = _capped(limit, book)
        if before:
            end = ids.index(before) if before in ids else 0
            page, more = jobs[max(0, end - n):end], end - n > 0
        else:
            start = ids.index(after) + 1 if after and after in ids else (len(jobs) if after else 0)
            page, more = jobs[start:start + n], len(jobs) > start + n
        return _json({"data": [_an_batch(j) for j in page], "has_more": more,
                      "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None})

    app.router.add_post("/v1/messages/batches", create)
    app.router.add_get("/v1/messages/batches", listing)
    app.router.add_get("/v1/messages/batches/{batch_id}", get)
    app.router.add_get("/v1/messages/batches/{batch_id}/results", results)
    app.router.add_post("/v1/messages/batches/{batch_id}/cancel", cancel)


# -- Gemini ------------------------------------------------------------------------------------------

_G_STATE = {"validating": "BATCH_STATE_PENDING", "in_progress": "BATCH_STATE_RUNNING",
            "cancelling": "BATCH_STATE_RUNNING", "completed": "BATCH_STATE_SUCCEEDED",
            "failed": "BATCH_STATE_FAILED", "cancelled": "BATCH_STATE_CANCELLED", "expired": "BATCH_STATE_EXPIRED"}


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e9) % 1_000_000_000:09d}Z"


def _g_inline(ln: _Line) -> dict[str, Any] | None:
    o = ln.outcome
    if not isinstance(o, tuple):
        return None  # never ran: nothing is reported for it
    meta = {"key": ln.custom_id}
    try:
        body = json.loads(o[1])
    except (ValueError, RecursionError):
        body = {"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}
    if 200 <= o[0] < 300:
        return {"response": body, "metadata": meta}
    return {"error": body.get("error", body) if isinstance(body, dict) else body, "metadata": meta}


def _g_file_line(ln: _Line) -> bytes:
    entry = _g_inline(ln)
    if entry is None:
        return b""
    meta = entry.pop("metadata")
    return json.dumps({"key": meta["key"], **entry}, separators=(",", ":")).encode() + b"\n"


def _g_operation(j: FakeBatch) -> dict[str, Any]:
    now = j.times.get(j.phase, j.created)
    version = "v1beta"
    meta: dict[str, Any] = {
        "@type": f"type.googleapis.com/google.ai.generativelanguage.{version}.GenerateContentBatch",
        "model": f"models/{j.model}", "displayName": j.display_name, "name": j.id,
        "createTime": _rfc3339(j.created), "updateTime": _rfc3339(now),
        "batchStats": {"requestCount": str(len(j.lines)), "successfulRequestCount": str(j.count("ok")),
                       "failedRequestCount": str(j.count("error")), "pendingRequestCount": str(len(j.pending))},
        "state": _G_STATE[j.phase],
    }
    op: dict[str, Any] = {"name": j.id, "metadata": meta}
    if j.phase in _FINAL:
        meta["endTime"] = _rfc3339(now)
        output: dict[str, Any]
        if j.output_file_id:
            output = {"responsesFile": j.output_file_id}
        else:
            inline = [r for r in (_g_inline(ln) for ln in j.lines) if r is not None]
            output = {"inlinedResponses": {"inlinedResponses": inline}}
        meta["output"] = output
        op["done"] = True
        op["response"] = {"@type": f"type.googleapis.com/google.ai.generativelanguage.{version}.GenerateContentBatchOutput",
                          **output}
    return op


def add_gemini_routes(app: web.Application) -> None:
    """Registered before Gemini's ``models/{target}`` route, which would otherwise take ``:batchGenerateContent``."""
    from . import gemini as ge

    async def guard(request: web.Request) -> tuple[bytes, web.StreamResponse | None]:
        return await _open(request, ge._auth)

    async def create(request: web.Request) -> web.StreamResponse:
        raw, denied = await guard(request)
        if denied is not None:
            return denied
        model = request.match_info["model"]
        version = request.match_info["version"]
        if not ge._known(model):
            return ge._not_found(model, version, "batchGenerateContent")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        batch = body.get("batch") if isinstance(body, dict) else None
        config = (batch or {}).get("inputConfig") or (batch or {}).get("input_config") or {}
        reqs = config.get("requests") or {}
        items = reqs.get("requests") if isinstance(reqs, dict) else None
        file_name = config.get("fileName") or config.get("file_name")
        if isinstance(file_name, str):
            f = book_of(request).files.get(file_name)
            if f is None:
                return ge._error(404, f"File {file_name} not found.")
            items = []
            for raw_line in f.data.splitlines():
                try:
                    obj = json.loads(raw_line) if raw_line.strip() else None
                except ValueError:
                    obj = None
                if isinstance(obj, dict):
                    items.append({"request": obj.get("request"), "metadata": {"key": obj.get("key")}})
        if not isinstance(items, list) or not items:
            return ge._error(400, "* BatchGenerateContentRequest.batch.input_config: input_config must have one of "
                             "file_name or requests set.\n")
        lines = []
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not isinstance(it.get("request"), dict):
                return ge._error(400, f"* BatchGenerateContentRequest.batch.input_config.requests.requests[{i}]."
                                 "request: required field not set.\n")
            key = (it.get("metadata") or {}).get("key") if isinstance(it.get("metadata"), dict) else None
            lines.append(_Line(str(key) if key is not None else str(i), it["request"]))
        book = book_of(request)

        def call_path(line_body: Any) -> str:
            return f"/{version}/models/{model}:generateContent"

        job = FakeBatch(provider="gemini", id="batches/" + book.new_id(""), origin=str(request.url.origin()),
                        call_path=call_path,
                        headers=_auth_headers(request), lines=lines, phase="validating", created=time.time(),
                        model=model, display_name=str((batch or {}).get("displayName") or ""),
                        input_file_id=file_name if isinstance(file_name, str) else "")
        book.jobs[job.id] = job
        return _json(_g_operation(job))

    def find(request: web.Request) -> tuple[FakeBatch | None, str]:
        name, _, method = request.match_info["name"].partition(":")
        j = book_of(request).jobs.get("batches/" + name)
        return (j if j is not None and j.provider == "gemini" else None), method

    def missing() -> web.Response:
        return ge._error(404, "Requested entity was not found.")

    async def get(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j, method = find(request)
        if j is None or method:
            return missing()
        book = book_of(request)
        if book.auto_advance:
            await book.step(j)
        return _json(_g_operation(j))

    async def post(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j, method = find(request)
        if j is None:
            return missing()
        if method != "cancel":
            return ge._error(404, f"Method not found: {method or '(none)'}.")
        if j.phase not in _FINAL:
            j.phase = "cancelling"
            j.times["cancelling"] = time.time()
        return _json({})

    async def delete(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        j, _ = find(request)
        if j is None:
            return missing()
        del book_of(request).jobs[j.id]
        return _json({})

    async def listing(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        book = book_of(request)
        jobs = [j for j in reversed(book.jobs.values()) if j.provider == "gemini"]
        size = _limit_param(request.query.get("pageSize"), 50)
        if isinstance(size, str) or size < 0:
            return ge._error(400, f"Invalid value at 'page_size' (TYPE_INT32), \"{request.query.get('pageSize')}\"")
        token = request.query.get("pageToken")
        start = _token_offset(token, len(jobs)) if token else 0
        if start is None:
            return ge._error(400, "Invalid page token.")
        n = _capped(size or 50, book)  # 0: the server's default
        out: dict[str, Any] = {"operations": [_g_operation(j) for j in jobs[start:start + n]]}
        if len(jobs) > start + n:
            out["nextPageToken"] = _page_token(start + n)
        return _json(out)

    async def upload(request: web.Request) -> web.StreamResponse:
        # The Files API's resumable protocol: "start" answers the upload URL; "upload, finalize" takes the
        # bytes there. The session id in that URL is the credential (the SDK sends no key with the bytes).
        raw, denied = await guard(request)
        book = book_of(request)
        if request.query.get("upload_id") in book.uploads:
            denied = None
        if denied is not None:
            return denied
        command = request.headers.get("X-Goog-Upload-Command", "")
        if command == "start":
            try:
                start = json.loads(raw or b"{}")
            except (ValueError, RecursionError):
                start = None
            if not isinstance(start, dict):
                return ge._error(400, "Invalid JSON payload received. Unexpected token.")
            meta = start.get("file") or {}
            refused = ge._shape_refusal({"file": meta}, {"file": MapOf(ANY)})  # a File is an object
            if refused is not None:
                return refused
            upload_id = book.new_id("")
            book.uploads[upload_id] = str(meta.get("displayName") or "")
            url = f"{request.url.origin()}{request.path}?upload_id={upload_id}&upload_protocol=resumable"
            return web.Response(status=200, headers={"x-goog-upload-url": url, "x-goog-upload-status": "active",
                                                     "x-goog-upload-chunk-granularity": "8388608"})
        upload_id = request.query.get("upload_id", "")
        if "finalize" not in command or upload_id not in book.uploads:
            return ge._error(400, "Invalid upload request.")
        display = book.uploads.pop(upload_id)
        fid = "files/" + book.new_id("")[:12]
        book.files[fid] = _File(fid, display, "batch", raw, int(time.time()))
        now = _rfc3339(time.time())
        info = {"name": fid, "displayName": display, "mimeType": "application/jsonl", "sizeBytes": str(len(raw)),
                "createTime": now, "updateTime": now, "state": "ACTIVE", "source": "UPLOADED",
                "uri": f"{request.url.origin()}/v1beta/{fid}"}
        return web.json_response({"file": info}, headers={"x-goog-upload-status": "final"})

    async def file_get(request: web.Request) -> web.StreamResponse:
        _, denied = await guard(request)
        if denied is not None:
            return denied
        name, _, method = request.match_info["name"].partition(":")
        f = book_of(request).files.get("files/" + name)
        if f is None:
            return ge._error(404, f"File files/{name} not found.")
        if method == "download":
            return web.Response(body=f.data, content_type="application/octet-stream")
        return _json({"name": f.id, "displayName": f.filename, "mimeType": "application/jsonl",
                      "sizeBytes": str(len(f.data)), "state": "ACTIVE"})

    for version in ("v1beta", "v1"):
        app.router.add_post(f"/upload/{version}/files", upload)
        app.router.add_get(f"/{version}/files/{{name}}", file_get)
        app.router.add_get(f"/download/{version}/files/{{name}}", file_get)
        app.router.add_post(f"/{{version:{version}}}/models/{{model}}:batchGenerateContent", create)
        app.router.add_get(f"/{version}/batches", listing)
        app.router.add_get(f"/{version}/batches/{{name}}", get)
        app.router.add_post(f"/{version}/batches/{{name}}", post)
        app.router.add_delete(f"/{version}/batches/{{name}}", delete)

