"""Provider batch APIs as pure values: encode the job's requests, decode the job and its results.

Three providers run batch jobs behind one shape (:class:`BatchJob`); each request of a job is the
very request ``chat`` would send, encoded by the provider's own dialect, and each result line is
decoded by that dialect's own response (or error) decoder, so a batch answer equals the same
request answered by ``chat``.

* **OpenAI** (https://platform.openai.com/docs/api-reference/batch): upload a JSONL file
  (``POST /v1/files``, multipart, ``purpose=batch``; one ``{custom_id, method, url, body}`` a line),
  ``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window: "24h"``),
  ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, ``GET /v1/batches``; results are the
  files ``output_file_id`` and ``error_file_id`` (``GET /v1/files/{id}/content``), lines
  ``{id, custom_id, response: {status_code, request_id, body} | null, error}`` "in no guaranteed
  order". **Azure OpenAI** serves the same shapes under ``{endpoint}/openai/…?api-version=…`` (or
  ``/openai/v1/…``), the deployment as the line's ``model``.
* **Anthropic** (https://docs.anthropic.com/en/api/creating-message-batches):
  ``POST /v1/messages/batches`` with ``requests: [{custom_id, params}]``, ``GET …/{id}``
  (``processing_status`` ``in_progress | canceling | ended``, ``request_counts``), results JSONL at
  ``…/{id}/results`` once ended, ``result.type`` ``succeeded | errored | canceled | expired``
  (the error at ``result.error.error``), ``POST …/{id}/cancel``.
* **Gemini** (https://ai.google.dev/gemini-api/docs/batch-mode): ``POST
  models/{model}:batchGenerateContent`` with ``batch.inputConfig.requests.requests: [{request,
  metadata: {key}}]``; the answer and ``GET batches/{id}`` are a long-running operation whose
  ``metadata`` is the ``GenerateContentBatch`` (``state`` ``BATCH_STATE_*``, ``batchStats``); the
  output is inline (``inlinedResponses.inlinedResponses``) or a file (``responsesFile``, JSONL of
  ``{key, response | error}``). google-genai reads ``metadata.output``; the REST docs show
  ``response`` once ``done``: both are read, ``response`` first.

Bedrock's batch inference reads its input from S3 and writes to S3 (CreateModelInvocationJob):
out of scope here (see the README).

Result files may be large: :func:`results_start` / :func:`results_feed` / :func:`results_finish`
decode them as a left fold over byte slices, linear in the bytes fed whatever the split.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import msgspec
from returns.result import Failure, Result, Success

from .dialect import DECODE_ERRORS, Dialect, ProviderConfig, malformed
from .errors import ErrorKind, LlmError
from .http import Headers, HttpRequest, HttpResponse
from .registry import get_dialect
from .schema import ChatRequest, ChatResponse, Message

__all__ = [
    "BATCH_CANCELLED",
    "BATCH_EXPIRED",
    "BATCH_PROVIDERS",
    "GEMINI_INLINE_LIMIT",
    "LIST_PAGE_SIZE",
    "BatchJob",
    "BatchStatus",
    "JobPage",
    "RequestCounts",
    "ResultsState",
    "decode_gemini_file",
    "decode_job",
    "decode_job_list",
    "decode_job_page",
    "decode_results",
    "decode_uploaded_file",
    "encode_cancel",
    "encode_create",
    "encode_gemini_upload_finish",
    "encode_gemini_upload_start",
    "encode_list",
    "encode_result_requests",
    "encode_retrieve",
    "encode_upload",
    "gemini_input_file",
    "multipart_body",
    "results_feed",
    "results_finish",
    "results_start",
]

BATCH_PROVIDERS: tuple[str, ...] = ("openai", "azure", "anthropic", "gemini")
BATCH_EXPIRED = "batch_expired"
"""``LlmError.code`` of a request the provider never ran before the job's window closed (OpenAI's code)."""
BATCH_CANCELLED = "batch_cancelled"
"""``LlmError.code`` of a request the provider never ran because the job was cancelled (OpenAI's code)."""

_OPENAI_LIKE = frozenset({"openai", "azure"})


class BatchStatus(enum.StrEnum):
    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


TERMINAL = frozenset({BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})


class RequestCounts(msgspec.Struct, frozen=True, kw_only=True):
    total: int = 0
    succeeded: int = 0
    errored: int = 0
    expired: int = 0
    cancelled: int = 0

    @property
    def processing(self) -> int:
        return max(0, self.total - self.succeeded - self.errored - self.expired - self.cancelled)


class BatchJob(msgspec.Struct, frozen=True, kw_only=True):
    """One provider batch job, normalised. Times are Unix seconds; ``raw_status`` is the provider's word."""

    provider: str
    id: str
    status: BatchStatus
    raw_status: str
    counts: RequestCounts = RequestCounts()
    created_at: float | None = None
    expires_at: float | None = None
    ended_at: float | None = None
    model: str | None = None
    output_file_id: str | None = None
    """OpenAI/Azure: the file of answered lines; Gemini: the ``responsesFile`` when not inline."""
    error_file_id: str | None = None
    """OpenAI/Azure: the file of failed, expired and cancelled lines."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def ref(self) -> str:
        """``"provider:id"``: how the client and the CLI name the job later."""
        return f"{self.provider}:{self.id}"


Outcome = tuple[str, Result[ChatResponse, LlmError]]


# -- encoding ----------------------------------------------------------------------------------------


class _Line(msgspec.Struct):
    custom_id: str
    method: str
    url: str
    body: msgspec.Raw


class _AnthropicItem(msgspec.Struct):
    custom_id: str
    params: msgspec.Raw


class _GeminiItem(msgspec.Struct):
    request: msgspec.Raw
    metadata: dict[str, str]


_ENC = msgspec.json.Encoder()
# msgspec cannot decode ``Raw | None``: an absent field is this empty Raw, a JSON null is Raw(b"null").
_ABSENT = msgspec.Raw(b"")


def _given(r: msgspec.Raw) -> bool:
    return bool(r) and bytes(r) != b"null"



def _unsupported(provider: str) -> Failure[LlmError]:
    return Failure(
        LlmError(
            kind=ErrorKind.INVALID_REQUEST,
            message=f"{provider} has no batch API here (batch jobs: {', '.join(BATCH_PROVIDERS)}); "
            "use chat_many for fan-out",
            provider=provider,
        )
    )


class _Site(msgspec.Struct, frozen=True):
    """Where a provider's batch paths hang and the headers every call carries (auth, version)."""

    dialect: Any
    prefix: str
    query: str
    headers: Headers

    def url(self, path: str, params: Iterable[tuple[str, str]] = ()) -> str:
        query = "&".join(q for q in (self.query, urlencode(tuple(params))) if q)
        return self.prefix + path + (("?" + query) if query else "")

    def get(self, path: str, params: Iterable[tuple[str, str]] = ()) -> HttpRequest:
        return HttpRequest("GET", self.url(path, params), _without(self.headers, "content-type"))

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> HttpRequest:
        return HttpRequest("POST", self.url(path), self.headers.merged({"Content-Type": content_type}), body)


def _without(h: Headers, *names: str) -> Headers:
    drop = set(names)
    return Headers(tuple((k, v) for k, v in h.items_raw() if k.lower() not in drop))


_ANCHOR = (Message.user("batch"),)


def _site(provider: str, cfg: ProviderConfig, model: str = "batch") -> Result[_Site, LlmError]:
    """The batch site, read off the chat request the dialect would send (so base URL, API version,
    auth and version headers are the dialect's own, never a second copy of that logic)."""
    if provider not in BATCH_PROVIDERS:
        return _unsupported(provider)
    found = get_dialect(provider)
    if type(found) is Failure:
        return found
    d: Dialect[Any] = found.unwrap()
    encoded = d.encode_request(ChatRequest(model=model, messages=_ANCHOR), cfg)
    if type(encoded) is Failure:
        return encoded
    req = encoded.unwrap()
    parts = urlsplit(req.url)
    path = parts.path
    if provider == "anthropic":
        path = path.removesuffix("/messages")  # …/v1
    elif provider == "gemini":
        path = path[: path.rfind("/models/")]  # …/v1beta
    elif provider == "azure" and "/openai/deployments/" in path:
        path = path[: path.index("/deployments/")]  # {endpoint}/openai (the dated API versions)
    else:
        path = path.removesuffix("/chat/completions")  # …/v1, or Azure's …/openai/v1
    prefix = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    headers = _without(req.headers, "content-length", "accept")
    return Success(_Site(d, prefix, parts.query, headers))


def _encoded_bodies(
    site: _Site, requests: Iterable[tuple[str, ChatRequest]], cfg: ProviderConfig
) -> Result[list[tuple[str, bytes, str]], LlmError]:
    """(custom_id, the dialect's JSON body, its URL path) per request; a duplicate id is an error."""
    out: list[tuple[str, bytes, str]] = []
    seen: set[str] = set()
    d: Dialect[Any] = site.dialect
    for cid, req in requests:
        if not isinstance(cid, str) or not cid:
            return _invalid(site, "every batch request needs a non-empty string custom_id")
        if cid in seen:
            return _invalid(site, f"custom_id {cid!r} appears twice: ids must be unique within a batch")
        seen.add(cid)
        encoded = d.encode_request(req, cfg)
        if type(encoded) is Failure:
            return encoded
        r = encoded.unwrap()
        out.append((cid, r.body, urlsplit(r.url).path))
    if not out:
        return _invalid(site, "a batch needs at least one request")
    return Success(out)


def _invalid(site: _Site, message: str) -> Failure[LlmError]:
    return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=message, provider=site.dialect.name))


def multipart_body(boundary: str, fields: Mapping[str, str], file_field: str, filename: str, data: bytes,
                   content_type: str = "application/jsonl") -> bytes:
    """A ``multipart/form-data`` body (RFC 7578) with text ``fields`` then one file part.

    >>> multipart_body("B", {"purpose": "batch"}, "file", "x.jsonl", b"{}")
    b'--B\\r\\nContent-Disposition: form-data; name="purpose"\\r\\n\\r\\nbatch\\r\\n--B\\r\\nContent-Disposition: form-data; name="file"; filename="x.jsonl"\\r\\nContent-Type: application/jsonl\\r\\n\\r\\n{}\\r\\n--B--\\r\\n'
    """
    sep = b"--" + boundary.encode() + b"\r\n"
    out = bytearray()
    for name, value in fields.items():
        out += sep + f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
    out += sep + f'Content-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'.encode()
    out += f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n--" + boundary.encode() + b"--\r\n"
    return bytes(out)


def encode_upload(
    provider: str, requests: Iterable[tuple[str, ChatRequest]], cfg: ProviderConfig, *, boundary: str
) -> Result[HttpRequest | None, LlmError]:
    """OpenAI/Azure: the ``POST /files`` upload of the job's JSONL; ``None`` for providers that take
    the requests inline. ``boundary`` comes from the caller (randomness is an effect)."""
    site_r = _site(provider, cfg)
    if type(site_r) is Failure:
        return site_r
    site = site_r.unwrap()
    if provider not in _OPENAI_LIKE:
        return Success(None)
    bodies = _encoded_bodies(site, requests, cfg)
    if type(bodies) is Failure:
        return bodies
    # Azure's batch lines name the endpoint without the version prefix ("url": "/chat/completions")
    # and the deployment as "model"; OpenAI's name the full path ("/v1/chat/completions").
    lines = bytearray()
    for cid, body, path in bodies.unwrap():
        url = "/chat/completions" if provider == "azure" else path
        if provider == "azure" and b'"model"' not in body:
            model = path.split("/deployments/", 1)[1].split("/", 1)[0] if "/deployments/" in path else ""
            body = body[:-1] + (b"," if len(body) > 2 else b"") + b'"model":' + _ENC.encode(model) + b"}"
        lines += _ENC.encode(_Line(cid, "POST", url, msgspec.Raw(body))) + b"\n"
    data = bytes(lines)
    if boundary.encode() in data:
        return _invalid(site, "the multipart boundary occurs in the data: draw another")
    body = multipart_body(boundary, {"purpose": "batch"}, "file", "batch.jsonl", data)
    return Success(site.post("/files", body, f"multipart/form-data; boundary={boundary}"))


def decode_uploaded_file(provider: str, resp: HttpResponse) -> Result[str, LlmError]:
    """The id of the uploaded file (OpenAI's ``File`` object)."""
    if not 200 <= resp.status < 300:
        return Failure(decode_http_error(provider, resp))
    try:
        f = msgspec.json.decode(resp.body, type=_FileObject)
    except DECODE_ERRORS:
        return Failure(malformed(provider, "file object without an id", resp.body, status=resp.status))
    return Success(f.id)


class _FileObject(msgspec.Struct):
    id: str


GEMINI_INLINE_LIMIT = 20_000_000
"""Bytes of inline requests above which a Gemini job goes through an uploaded file (the docs: inline
requests "for smaller batches" whose total request size stays under 20MB; a file for larger ones)."""


class _GeminiFileLine(msgspec.Struct):
    key: str
    request: msgspec.Raw


def gemini_input_file(requests: Iterable[tuple[str, ChatRequest]], cfg: ProviderConfig) -> Result[bytes, LlmError]:
    """The JSONL a large Gemini job reads: ``{"key", "request"}`` a line, each request as chat sends it."""
    site_r = _site("gemini", cfg)
    if type(site_r) is Failure:
        return site_r
    bodies = _encoded_bodies(site_r.unwrap(), requests, cfg)
    if type(bodies) is Failure:
        return bodies
    return Success(b"".join(_ENC.encode(_GeminiFileLine(cid, msgspec.Raw(b))) + b"\n" for cid, b, _ in bodies.unwrap()))


def encode_gemini_upload_start(cfg: ProviderConfig, size: int, display_name: str) -> Result[HttpRequest, LlmError]:
    """Start a resumable upload (``POST /upload/v1beta/files``); the answer's ``x-goog-upload-url`` takes the bytes."""
    def start(site: _Site) -> HttpRequest:
        parts = urlsplit(site.prefix)
        url = urlunsplit((parts.scheme, parts.netloc, "/upload" + parts.path + "/files", "", ""))
        headers = site.headers.merged({
            "Content-Type": "application/json", "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(size), "X-Goog-Upload-Header-Content-Type": "application/jsonl",
        })
        body = _ENC.encode({"file": {"displayName": display_name, "mimeType": "application/jsonl"}})
        return HttpRequest("POST", url, headers, body)

    return _site("gemini", cfg).map(start)


def encode_gemini_upload_finish(start: HttpResponse, data: bytes, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
    """Send the file's bytes to the upload URL the start answered, in one ``upload, finalize`` call.

    The key goes only to the origin the upload was started at: a URL from a response header never
    receives it anywhere else."""
    site_r = _site("gemini", cfg)
    if type(site_r) is Failure:
        return site_r
    site = site_r.unwrap()
    if not 200 <= start.status < 300:
        return Failure(decode_http_error("gemini", start))
    url = start.headers.get("x-goog-upload-url")
    if not url:
        return Failure(malformed("gemini", "upload start without x-goog-upload-url", start.body, status=start.status))
    ours, theirs = urlsplit(site.prefix), urlsplit(url)
    if (ours.scheme, ours.netloc) != (theirs.scheme, theirs.netloc):
        return Failure(malformed("gemini", f"upload URL on another origin ({theirs.netloc})", status=start.status))
    headers = site.headers.merged({"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0",
                                   "Content-Type": "application/jsonl"})
    return Success(HttpRequest("POST", url, headers, data))


class _GFile(msgspec.Struct):
    name: str


class _GFileAnswer(msgspec.Struct):
    file: _GFile


def decode_gemini_file(resp: HttpResponse) -> Result[str, LlmError]:
    """The uploaded file's name (``files/…``)."""
    if not 200 <= resp.status < 300:
        return Failure(decode_http_error("gemini", resp))
    try:
        return Success(msgspec.json.decode(resp.body, type=_GFileAnswer).file.name)
    except DECODE_ERRORS:
        return Failure(malformed("gemini", "upload answer without a file name", resp.body, status=resp.status))


def encode_create(
    provider: str,
    requests: Iterable[tuple[str, ChatRequest]],
    cfg: ProviderConfig,
    *,
    model: str,
    input_file_id: str | None = None,
    display_name: str | None = None,
) -> Result[HttpRequest, LlmError]:
    """The request that creates the job. OpenAI/Azure need ``input_file_id`` (from the upload) and
    ignore ``requests``; Anthropic carries the requests inline; Gemini inline, or from the uploaded
    file ``input_file_id`` (``files/…``) when one is given."""
    site_r = _site(provider, cfg, model)
    if type(site_r) is Failure:
        return site_r
    site = site_r.unwrap()
    if provider in _OPENAI_LIKE:
        if not input_file_id:
            return _invalid(site, "an OpenAI batch is created from an uploaded input file: upload first")
        body = {"input_file_id": input_file_id, "endpoint": "/v1/chat/completions" if provider == "openai"
                else "/chat/completions", "completion_window": "24h"}
        return Success(site.post("/batches", _ENC.encode(body)))
    bodies = _encoded_bodies(site, requests, cfg) if not input_file_id else Success([])
    if type(bodies) is Failure:
        return bodies
    if provider == "anthropic":
        items = [_AnthropicItem(cid, msgspec.Raw(b)) for cid, b, _ in bodies.unwrap()]
        return Success(site.post("/messages/batches", _ENC.encode({"requests": items})))
    # Gemini: the key of each request comes back in its response's metadata; a large job names the
    # uploaded JSONL instead (see encode_gemini_upload).
    batch: dict[str, Any]
    if input_file_id:
        batch = {"inputConfig": {"fileName": input_file_id}}
    else:
        reqs = [_GeminiItem(msgspec.Raw(b), {"key": cid}) for cid, b, _ in bodies.unwrap()]
        batch = {"inputConfig": {"requests": {"requests": reqs}}}
    batch["displayName"] = display_name or "interlingua-batch"
    model_id = model.removeprefix("models/")
    return Success(site.post(f"/models/{quote(model_id, safe='-._~')}:batchGenerateContent", _ENC.encode({"batch": batch})))


def _job_path(provider: str, job_id: str) -> str:
    if provider == "anthropic":
        return "/messages/batches/" + quote(job_id, safe="")
    if provider == "gemini":
        return "/batches/" + quote(job_id.removeprefix("batches/"), safe="")
    return "/batches/" + quote(job_id, safe="")


def encode_retrieve(provider: str, job_id: str, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
    return _site(provider, cfg).map(lambda s: s.get(_job_path(provider, job_id)))


def encode_cancel(provider: str, job_id: str, cfg: ProviderConfig) -> Result[HttpRequest, LlmError]:
    # Gemini's is a custom method (``batches/{id}:cancel``); the others a sub-resource.
    suffix = ":cancel" if provider == "gemini" else "/cancel"
    return _site(provider, cfg).map(lambda s: s.post(_job_path(provider, job_id) + suffix, b"{}" if provider != "gemini" else b""))


LIST_PAGE_SIZE = 100
"""Jobs asked for per page of a listing: the most OpenAI's ``limit`` takes (1-100); Anthropic's
takes up to 1000 and Gemini's ``pageSize`` has no documented bound, so 100 suits all three."""

# (path, page-size parameter, cursor parameter) of each provider's listing
_LISTING = {
    "anthropic": ("/messages/batches", "limit", "after_id"),
    "gemini": ("/batches", "pageSize", "pageToken"),
}
_OPENAI_LISTING = ("/batches", "limit", "after")


def encode_list(
    provider: str, cfg: ProviderConfig, *, cursor: str | None = None, page_size: int | None = None
) -> Result[HttpRequest, LlmError]:
    """One page of the provider's job list: the first, or the one ``cursor`` (a :class:`JobPage`'s)
    starts; at most ``page_size`` jobs (``None``: the provider's default page)."""
    path, size_name, cursor_name = _LISTING.get(provider, _OPENAI_LISTING)
    params = [] if page_size is None else [(size_name, str(page_size))]
    if cursor is not None:
        params.append((cursor_name, cursor))
    return _site(provider, cfg).map(lambda s: s.get(path, params))


def encode_result_requests(job: BatchJob, cfg: ProviderConfig) -> Result[tuple[HttpRequest, ...], LlmError]:
    """What to fetch for the job's results, in order: OpenAI's output then error file; Anthropic's
    results; Gemini's responses file, or the operation itself when the output is inline."""
    site_r = _site(job.provider, cfg)
    if type(site_r) is Failure:
        return site_r
    site = site_r.unwrap()
    p = job.provider
    if p in _OPENAI_LIKE:
        ids = [i for i in (job.output_file_id, job.error_file_id) if i]
        return Success(tuple(site.get(f"/files/{quote(i, safe='')}/content") for i in ids))
    if p == "anthropic":
        # Always our own path for the documented ``results_url``: the key never goes to a URL a body named.
        return Success((site.get(_job_path(p, job.id) + "/results"),))
    if job.output_file_id:
        # Files download through the upload host's ``/download/`` path (google-genai's files.download).
        parts = urlsplit(site.prefix)
        dl = urlunsplit((parts.scheme, parts.netloc, "/download" + parts.path, "", ""))
        url = f"{dl}/{quote(job.output_file_id, safe='/')}:download?alt=media"
        return Success((HttpRequest("GET", url, _without(site.headers, "content-type")),))
    return Success((site.get(_job_path(p, job.id)),))


def decode_http_error(provider: str, resp: HttpResponse) -> LlmError:
    """A failed batch call, read by the provider's dialect like any failed call."""
    found = get_dialect(provider)
    if type(found) is Failure:
        err: LlmError = found.failure()
        return err
    d: Dialect[Any] = found.unwrap()
    return d.decode_error(resp)


# -- jobs --------------------------------------------------------------------------------------------


class _OACounts(msgspec.Struct):
    total: int = 0
    completed: int = 0
    failed: int = 0


class _OABatch(msgspec.Struct):
    id: str
    status: str
    created_at: float | None = None
    expires_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: _OACounts | None = None
    model: str | None = None


class _ACounts(msgspec.Struct):
    processing: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0


class _ABatch(msgspec.Struct):
    id: str
    processing_status: str
    request_counts: _ACounts = msgspec.field(default_factory=_ACounts)
    created_at: str | None = None
    expires_at: str | None = None
    ended_at: str | None = None
    cancel_initiated_at: str | None = None


class _GStats(msgspec.Struct, rename="camel"):
    # int64 fields travel as JSON strings in proto3 JSON
    request_count: int | str = 0
    successful_request_count: int | str = 0
    failed_request_count: int | str = 0
    pending_request_count: int | str = 0


class _GOutput(msgspec.Struct, rename="camel"):
    responses_file: str | None = None
    inlined_responses: msgspec.Raw = _ABSENT


class _GMeta(msgspec.Struct, rename="camel"):
    name: str | None = None
    model: str | None = None
    state: str = "BATCH_STATE_UNSPECIFIED"
    create_time: str | None = None
    end_time: str | None = None
    update_time: str | None = None
    batch_stats: _GStats | None = None
    output: _GOutput | None = None


class _GOperation(msgspec.Struct):
    name: str
    metadata: _GMeta | None = None
    done: bool = False
    response: _GOutput | None = None


_OA_STATUS = {s.value: s for s in BatchStatus}
_GEMINI_STATUS = {
    "BATCH_STATE_PENDING": BatchStatus.VALIDATING,
    "JOB_STATE_PENDING": BatchStatus.VALIDATING,
    "JOB_STATE_QUEUED": BatchStatus.VALIDATING,
    "BATCH_STATE_RUNNING": BatchStatus.IN_PROGRESS,
    "JOB_STATE_RUNNING": BatchStatus.IN_PROGRESS,
    "BATCH_STATE_SUCCEEDED": BatchStatus.COMPLETED,
    "JOB_STATE_SUCCEEDED": BatchStatus.COMPLETED,
    "BATCH_STATE_FAILED": BatchStatus.FAILED,
    "JOB_STATE_FAILED": BatchStatus.FAILED,
    "BATCH_STATE_CANCELLED": BatchStatus.CANCELLED,
    "JOB_STATE_CANCELLED": BatchStatus.CANCELLED,
    "JOB_STATE_CANCELLING": BatchStatus.CANCELLING,
    "BATCH_STATE_EXPIRED": BatchStatus.EXPIRED,
    "JOB_STATE_EXPIRED": BatchStatus.EXPIRED,
}


def _rfc3339(s: str | None) -> float | None:
    """Unix seconds of an RFC 3339 time (Google sends up to nanoseconds; Python reads microseconds).

    >>> _rfc3339("2024-09-24T18:37:24.100435Z"), _rfc3339("2025-07-01T00:00:00.123456789Z"), _rfc3339("soon")
    (1727203044.100435, 1751328000.123456, None)
    """
    if not s:
        return None
    head, dot, frac = s.partition(".")
    if dot:
        digits = len(frac) - len(frac.lstrip("0123456789"))
        s = head + "." + frac[: min(digits, 6)] + frac[digits:]
    try:
        t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.timestamp()


def _int(v: int | str) -> int:
    try:
        return int(v)
    except ValueError:
        return 0


def _job_openai(provider: str, b: _OABatch) -> BatchJob:
    status = _OA_STATUS.get(b.status, BatchStatus.IN_PROGRESS)
    c = b.request_counts or _OACounts()
    # OpenAI counts "completed" and "failed"; the lines never run are in neither, and the batch's
    # own status says why (expired, cancelled).
    rest = max(0, c.total - c.completed - c.failed)
    counts = RequestCounts(
        total=c.total,
        succeeded=c.completed,
        errored=c.failed,
        expired=rest if status is BatchStatus.EXPIRED else 0,
        cancelled=rest if status is BatchStatus.CANCELLED else 0,
    )
    ended = b.completed_at or b.failed_at or b.expired_at or b.cancelled_at
    return BatchJob(
        provider=provider, id=b.id, status=status, raw_status=b.status, counts=counts,
        created_at=b.created_at, expires_at=b.expires_at, ended_at=ended, model=b.model,
        output_file_id=b.output_file_id, error_file_id=b.error_file_id,
    )


def _job_anthropic(b: _ABatch) -> BatchJob:
    c = b.request_counts
    if b.processing_status == "in_progress":
        status = BatchStatus.IN_PROGRESS
    elif b.processing_status == "canceling":
        status = BatchStatus.CANCELLING
    elif b.cancel_initiated_at:
        status = BatchStatus.CANCELLED
    elif c.expired:
        status = BatchStatus.EXPIRED
    else:
        status = BatchStatus.COMPLETED
    counts = RequestCounts(
        total=c.processing + c.succeeded + c.errored + c.canceled + c.expired,
        succeeded=c.succeeded, errored=c.errored, expired=c.expired, cancelled=c.canceled,
    )
    return BatchJob(
        provider="anthropic", id=b.id, status=status, raw_status=b.processing_status, counts=counts,
        created_at=_rfc3339(b.created_at), expires_at=_rfc3339(b.expires_at), ended_at=_rfc3339(b.ended_at),
    )


def _job_gemini(op: _GOperation) -> BatchJob:
    m = op.metadata or _GMeta()
    status = _GEMINI_STATUS.get(m.state, BatchStatus.IN_PROGRESS)
    s = m.batch_stats or _GStats()
    total, ok, bad, pending = (_int(s.request_count), _int(s.successful_request_count),
                               _int(s.failed_request_count), _int(s.pending_request_count))
    left = pending or max(0, total - ok - bad)
    counts = RequestCounts(
        total=total, succeeded=ok, errored=bad,
        expired=left if status is BatchStatus.EXPIRED else 0,
        cancelled=left if status is BatchStatus.CANCELLED else 0,
    )
    out = op.response or m.output
    created = _rfc3339(m.create_time)
    # Gemini batches expire 48 hours after creation (docs: "Jobs ... pending or running for more than 48 hours").
    return BatchJob(
        provider="gemini", id=op.name, status=status, raw_status=m.state, counts=counts,
        created_at=created, expires_at=created + 48 * 3600 if created is not None else None,
        ended_at=_rfc3339(m.end_time) if status in TERMINAL else None,
        model=m.model, output_file_id=out.responses_file if out else None,
    )


_OA_BATCH = msgspec.json.Decoder(_OABatch)
_A_BATCH = msgspec.json.Decoder(_ABatch)
_G_OP = msgspec.json.Decoder(_GOperation)


def decode_job(provider: str, body: bytes) -> Result[BatchJob, LlmError]:
    """A job from the provider's job object (OpenAI ``Batch``, Anthropic ``MessageBatch``, Gemini operation)."""
    try:
        if provider in _OPENAI_LIKE:
            return Success(_job_openai(provider, _OA_BATCH.decode(body)))
        if provider == "anthropic":
            return Success(_job_anthropic(_A_BATCH.decode(body)))
        if provider == "gemini":
            return Success(_job_gemini(_G_OP.decode(body)))
    except DECODE_ERRORS:
        return Failure(malformed(provider, "not a batch job object", body))
    return _unsupported(provider)


class _OAList(msgspec.Struct):
    data: list[_OABatch]
    has_more: bool = False
    last_id: str | None = None


class _AList(msgspec.Struct):
    data: list[_ABatch]
    has_more: bool = False
    last_id: str | None = None


class _GList(msgspec.Struct):
    operations: list[_GOperation] = msgspec.field(default_factory=list)
    nextPageToken: str | None = None  # the wire's name


class JobPage(msgspec.Struct, frozen=True):
    """One page of a provider's job list, newest first as the provider orders it."""

    jobs: tuple[BatchJob, ...]
    cursor: str | None
    """Where the next page starts (for :func:`encode_list`); ``None``: this page is the last."""


def decode_job_page(provider: str, body: bytes) -> Result[JobPage, LlmError]:
    """A page of the job list and where the next one starts: OpenAI's and Anthropic's ``has_more``
    with the page's last id (``after`` / ``after_id``, as their SDKs page), Gemini's ``nextPageToken``.
    A page that says more follow but names no place to go on from is malformed: the rest of the list
    could not be read, and a listing that silently stopped there would lose it."""
    try:
        if provider in _OPENAI_LIKE or provider == "anthropic":
            if provider == "anthropic":
                a = msgspec.json.decode(body, type=_AList)
                jobs = tuple(_job_anthropic(b) for b in a.data)
                more, last = a.has_more, a.last_id
            else:
                o = msgspec.json.decode(body, type=_OAList)
                jobs = tuple(_job_openai(provider, b) for b in o.data)
                more, last = o.has_more, o.last_id
            if not more:
                return Success(JobPage(jobs, None))
            cursor = last or (jobs[-1].id if jobs else None)
            if not cursor:
                return Failure(malformed(provider, "a batch job list page says more follow but names no last id", body))
            return Success(JobPage(jobs, cursor))
        if provider == "gemini":
            g = msgspec.json.decode(body, type=_GList)
            return Success(JobPage(tuple(_job_gemini(op) for op in g.operations), g.nextPageToken or None))
    except DECODE_ERRORS:
        return Failure(malformed(provider, "not a batch job list", body))
    return _unsupported(provider)


def decode_job_list(provider: str, body: bytes) -> Result[tuple[BatchJob, ...], LlmError]:
    """The jobs of one page of the provider's job list (:func:`decode_job_page` without the cursor)."""
    return decode_job_page(provider, body).map(lambda page: page.jobs)


# -- results -----------------------------------------------------------------------------------------


class _OAResponse(msgspec.Struct):
    status_code: int
    body: msgspec.Raw = msgspec.Raw(b"null")
    request_id: str | None = None


class _OAError(msgspec.Struct):
    code: str | None = None
    message: str | None = None


class _OALine(msgspec.Struct):
    custom_id: str
    response: _OAResponse | None = None
    error: _OAError | None = None


class _AError(msgspec.Struct):
    type: str | None = None


class _AErrorBody(msgspec.Struct):
    error: _AError | None = None


class _AResult(msgspec.Struct):
    type: str
    message: msgspec.Raw = _ABSENT
    error: msgspec.Raw = _ABSENT


class _ALine(msgspec.Struct):
    custom_id: str
    result: _AResult


class _GStatus(msgspec.Struct):
    code: int = 0
    message: str | None = None
    status: str | None = None


class _GMetadata(msgspec.Struct):
    key: str | None = None


class _GLine(msgspec.Struct):
    """A responses-file line ``{key, response | error}`` or an inline ``{metadata: {key}, response | error}``."""

    key: str | None = None
    metadata: _GMetadata | None = None
    response: msgspec.Raw = _ABSENT
    error: msgspec.Raw = _ABSENT


class _GInline(msgspec.Struct, rename="camel"):
    inlined_responses: list[_GLine] = msgspec.field(default_factory=list)


class _GInlineOutput(msgspec.Struct, rename="camel"):
    inlined_responses: _GInline | None = None


class _GInlineMeta(msgspec.Struct):
    output: _GInlineOutput | None = None


class _GInlineOperation(msgspec.Struct):
    name: str | None = None
    metadata: _GInlineMeta | None = None
    response: _GInlineOutput | None = None


# Anthropic's documented error types and the statuses its API answers them with.
_ANTHROPIC_STATUS = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "timeout_error": 504, "overloaded_error": 529,
}
# google.rpc.Code → the HTTP status Google maps it to (https://cloud.google.com/apis/design/errors).
_RPC_HTTP = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400,
             12: 501, 13: 500, 14: 503, 15: 500, 16: 401}


def _never_ran(provider: str, cid: str, code: str) -> LlmError:
    expired = code == BATCH_EXPIRED
    return LlmError(
        kind=ErrorKind.TIMEOUT if expired else ErrorKind.API,
        message=(f"request {cid!r} was not run before the batch's completion window ended" if expired
                 else f"request {cid!r} was not run because the batch was cancelled"),
        provider=provider,
        code=code,
        retryable=expired,
    )


def _decode_line(provider: str, d: Dialect[Any], line: bytes) -> Outcome | None:
    """One result line → (custom_id, outcome); ``None`` for a line that is not a result at all."""
    if provider == "anthropic":
        a = msgspec.json.decode(line, type=_ALine)
        r = a.result
        if r.type == "succeeded" and _given(r.message):
            return a.custom_id, d.decode_response(HttpResponse(200, body=bytes(r.message)))
        if r.type == "errored":
            raw = bytes(r.error) if _given(r.error) else b""
            try:
                etype = (msgspec.json.decode(raw, type=_AErrorBody).error or _AError()).type if raw else None
            except DECODE_ERRORS:
                etype = None
            return a.custom_id, Failure(d.decode_error(HttpResponse(_ANTHROPIC_STATUS.get(etype or "", 500), body=raw)))
        if r.type in ("canceled", "expired"):
            return a.custom_id, Failure(_never_ran(provider, a.custom_id, BATCH_EXPIRED if r.type == "expired" else BATCH_CANCELLED))
        return a.custom_id, Failure(malformed(provider, f"result type {r.type!r}", line))
    if provider == "gemini":
        g = msgspec.json.decode(line, type=_GLine)
        return _gemini_outcome(d, g, g.key or "")
    o = msgspec.json.decode(line, type=_OALine)
    resp = o.response
    if resp is not None and 200 <= resp.status_code < 300:
        return o.custom_id, d.decode_response(HttpResponse(resp.status_code, body=bytes(resp.body)))
    if resp is not None:
        return o.custom_id, Failure(d.decode_error(HttpResponse(resp.status_code, body=bytes(resp.body))))
    err = o.error or _OAError()
    if err.code in (BATCH_EXPIRED, BATCH_CANCELLED):
        return o.custom_id, Failure(_never_ran(provider, o.custom_id, err.code))
    return o.custom_id, Failure(
        LlmError(kind=ErrorKind.API, message=err.message or "the batch request failed", provider=provider, code=err.code)
    )


def _gemini_outcome(d: Dialect[Any], g: _GLine, default_key: str) -> Outcome:
    key = g.key or (g.metadata.key if g.metadata and g.metadata.key else None) or default_key
    if _given(g.response):
        return key, d.decode_response(HttpResponse(200, body=bytes(g.response)))
    raw = bytes(g.error) if _given(g.error) else b"{}"
    try:
        code = msgspec.json.decode(raw, type=_GStatus).code
    except DECODE_ERRORS:
        code = 2
    # The dialect reads the REST error envelope ``{"error": Status}``.
    return key, Failure(d.decode_error(HttpResponse(_RPC_HTTP.get(code, 500), body=b'{"error":' + raw + b"}")))


class _Cons(msgspec.Struct, frozen=True):
    """A persistent list of pending pieces, newest first: appending is O(1) whatever the split."""

    head: bytes
    tail: _Cons | None


class ResultsState(msgspec.Struct, frozen=True):
    provider: str
    pending: _Cons | None = None
    """The pieces of the line not yet ended by LF, newest first."""
    lines: int = 0


def results_start(provider: str) -> ResultsState:
    return ResultsState(provider)


def _joined(c: _Cons | None) -> bytes:
    pieces: list[bytes] = []
    while c is not None:
        pieces.append(c.head)
        c = c.tail
    return b"".join(reversed(pieces))


def _line_outcome(provider: str, line: bytes, index: int) -> Outcome | None:
    if not line.strip():
        return None
    found = get_dialect(provider)
    if type(found) is Failure:
        return str(index), found
    try:
        return _decode_line(provider, found.unwrap(), line)
    except DECODE_ERRORS:
        return str(index), Failure(malformed(provider, f"batch result line {index + 1}", line))


def results_feed(st: ResultsState, data: bytes) -> tuple[ResultsState, tuple[Outcome, ...]]:
    """Feed a slice of a JSONL result file; returns the outcomes of the lines it completed."""
    if b"\n" not in data:
        return ResultsState(st.provider, _Cons(data, st.pending) if data else st.pending, st.lines), ()
    first, _, rest = data.partition(b"\n")
    lines = [_joined(_Cons(first, st.pending)), *rest.split(b"\n")]
    tail = lines.pop()
    out: list[Outcome] = []
    n = st.lines
    for line in lines:
        o = _line_outcome(st.provider, line, n)
        if o is not None:
            out.append(o)
            n += 1
    return ResultsState(st.provider, _Cons(tail, None) if tail else None, n), tuple(out)


def results_finish(st: ResultsState) -> tuple[Outcome, ...]:
    """End of the file: the last line, if it had no final LF."""
    o = _line_outcome(st.provider, _joined(st.pending), st.lines)
    return (o,) if o is not None else ()


def decode_results(provider: str, body: bytes) -> list[Outcome]:
    """Every outcome of a result body, in the provider's order: a JSONL results file (all three), or
    Gemini's operation with inline responses. Total: a bad line is a ``decode`` failure for it."""
    if provider == "gemini" and body.lstrip()[:1] == b"{" and b"\n" not in body.strip():
        inline = _gemini_inline(body)
        if inline is not None:
            return inline
    st = results_start(provider)
    st, out = results_feed(st, body)
    return [*out, *results_finish(st)]


def _gemini_inline(body: bytes) -> list[Outcome] | None:
    try:
        op = msgspec.json.decode(body, type=_GInlineOperation)
    except DECODE_ERRORS:
        return None
    if op.name is None:
        return None  # a responses-file line, not an operation
    out = op.response if op.response is not None and op.response.inlined_responses else (
        op.metadata.output if op.metadata else None)
    if out is None or out.inlined_responses is None:
        return []  # not done yet, or its output is a file
    found = get_dialect("gemini")
    if type(found) is Failure:
        return None
    d: Dialect[Any] = found.unwrap()
    return [_gemini_outcome(d, g, str(i)) for i, g in enumerate(out.inlined_responses.inlined_responses)]
