"""What every provider dialect provides, and the config it is given.

A dialect is a value with pure methods (h11's shape: no sockets, no clock, no env)::

    encode_request(req, cfg, *, stream, now)  -> Result[HttpRequest, LlmError]
    decode_response(resp)                      -> Result[ChatResponse, LlmError]
    decode_error(resp)                         -> LlmError
    stream_start(max_event_bytes=8 MiB)        -> state
    stream_feed(state, bytes)                  -> (state, (ChatChunk | LlmError, ...))
    stream_finish(state)                       -> Result[(ChatChunk, ...), LlmError]

A stream is a left fold of ``stream_feed`` over the byte slices as they arrive, closed by
``stream_finish``, which reports a stream that ended before the provider's terminal event.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
from returns.result import Failure, Result, Success

from .errors import ErrorKind, LlmError, excerpt, kept_headers, kind_for_status, parse_retry_after
from .http import HttpRequest, HttpResponse
from .schema import ChatChunk, ChatRequest, ChatResponse
from .secret import Secret, redact
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = [
    "DECODE_ERRORS",
    "Dialect",
    "ProviderConfig",
    "StreamEvent",
    "close_stream",
    "error_from_response",
    "invalid_request",
    "join_url",
    "malformed",
    "stream_error",
]

StreamEvent = ChatChunk | LlmError

# What a msgspec decode of remote bytes may raise. msgspec has no nesting option: past its internal
# depth it raises RecursionError, which a hostile body (b'[' * 100_000) must not turn into an
# exception (tests/test_security.py).
DECODE_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
S = TypeVar("S")


_LINE_ENDS = "\r\n"
_ENDS = ("\r", "\n")
_TRIMMED = ("base_url", "api_version", "organization", "project", "region", "aws_access_key_id")


def hide_userinfo(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` (credentials in URLs end up in logs).

    >>> hide_userinfo("https://me:hunter2@proxy.example/v1")
    'https://***@proxy.example/v1'
    """
    if not url or "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a dialect needs to address one provider, resolved once by the caller.

    Dialects read only the fields that mean something to them. ``api_key`` and the AWS secrets
    are :class:`Secret` so they never print.
    """

    base_url: str | None = None
    api_key: Secret | None = None
    api_version: str | None = None
    organization: str | None = None
    project: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: Secret | None = None
    aws_session_token: Secret | None = None
    allow_insecure_http: bool = False
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    bearer_token: Secret | None = None
    """An OAuth 2 access token sent as ``Authorization: Bearer`` *instead of* the API key, for providers
    that accept one (a Microsoft Entra ID token for Azure OpenAI). The caller obtains and refreshes it."""
    api: str | None = None  # hook: responses
    """Which of the provider's APIs to speak: ``None`` for its default, ``"responses"`` for OpenAI's
    Responses API (``openai``, ``azure`` and ``openai_compatible``; see :mod:`.openai_responses`)."""

    def __post_init__(self) -> None:
        # A value read from a file or a secret mount usually ends in a newline: strip it here, once
        # (keys are stripped by Secret). Any other control character is refused before sending.
        for name in _TRIMMED:
            value = getattr(self, name)
            if value and value.endswith(_ENDS):
                msgspec.structs.force_setattr(self, name, value.rstrip(_LINE_ENDS))
        if any(v.endswith(_ENDS) or n.endswith(_ENDS) for n, v in self.headers):
            trimmed = tuple((n.rstrip(_LINE_ENDS), v.rstrip(_LINE_ENDS)) for n, v in self.headers)
            msgspec.structs.force_setattr(self, "headers", trimmed)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "unset"
        return f"ProviderConfig(base_url={hide_userinfo(self.base_url)!r}, api_key={key})"

    def secrets(self) -> tuple[Secret, ...]:
        return tuple(
            s
            for s in (self.api_key, self.aws_secret_access_key, self.aws_session_token, self.bearer_token)
            if s
        )


class Dialect(Protocol[S]):
    @property
    def name(self) -> str: ...

    @property
    def default_base_url(self) -> str: ...

    def encode_request(
        self, req: ChatRequest, cfg: ProviderConfig, *, stream: bool = False, now: float | None = None
    ) -> Result[HttpRequest, LlmError]: ...

    def decode_response(self, resp: HttpResponse) -> Result[ChatResponse, LlmError]: ...

    def decode_error(self, resp: HttpResponse) -> LlmError: ...

    def stream_start(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> S:
        """A stream's first state. ``max_event_bytes``: the longest single event (SSE) or line (NDJSON)
        the decoder holds; a longer one is a ``streaming`` error (``LlmConfig.max_event_bytes``)."""
        ...

    def stream_feed(self, state: S, data: bytes) -> tuple[S, tuple[StreamEvent, ...]]: ...

    def stream_finish(self, state: S) -> Result[tuple[ChatChunk, ...], LlmError]: ...


def stream_error(provider: str, message: str, data: bytes = b"") -> LlmError:
    """A stream that failed after it started (bad event, cut short), with a bounded excerpt."""
    return LlmError(
        kind=ErrorKind.STREAMING,
        message=message,
        provider=provider,
        raw=data[:512].decode("utf-8", "replace") if data else None,
    )


def too_long_error(provider: str, limit: int) -> LlmError:
    """A stream line or event longer than the decoder holds (``max_event_bytes``): refused, not
    buffered without end, so a hostile or broken server cannot make the client hold gigabytes."""
    return stream_error(provider, f"a stream event is longer than max_event_bytes ({limit} bytes)")


_STATUS_OF_KIND = {
    ErrorKind.PROVIDER: 500,
    ErrorKind.OVERLOADED: 529,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.TIMEOUT: 504,
}


def before_output(err: LlmError) -> LlmError:
    """A provider's error *event* that came before any output, classified as the same error sent
    with its HTTP status would be (OpenAI ``server_error`` → a retryable 500, Anthropic
    ``overloaded_error`` → overloaded 529): nothing reached the caller, so the client may retry.

    >>> e = before_output(LlmError(kind=ErrorKind.PROVIDER, message="The server had an error"))
    >>> e.kind, e.status, e.is_retryable()
    (<ErrorKind.PROVIDER: 'provider'>, 500, True)
    """
    return msgspec.structs.replace(
        err,
        status=err.status if err.status and err.status >= 400 else _STATUS_OF_KIND.get(err.kind),
        message=f"error event before any output: {err.message}",
    )


def close_stream(
    provider: str, events: tuple[StreamEvent, ...], *, complete: bool, missing: str
) -> Result[tuple[ChatChunk, ...], LlmError]:
    """The common end of every ``stream_finish``: the flushed events' first error wins; a stream
    that never reached its terminal event is a streaming error naming what was ``missing``."""
    for e in events:
        if isinstance(e, LlmError):
            return Failure(e)
    if not complete:
        return Failure(stream_error(provider, f"stream ended before the provider finished ({missing})"))
    return Success(tuple(e for e in events if isinstance(e, ChatChunk)))


def join_url(base: str, path: str) -> str:
    """``base`` + ``path`` with exactly one slash between them.

    >>> join_url("https://api.openai.com/v1/", "/chat/completions")
    'https://api.openai.com/v1/chat/completions'
    """
    return base.rstrip("/") + "/" + path.lstrip("/")


def invalid_request(provider: str, message: str) -> Failure[LlmError]:
    return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=message, provider=provider))


def malformed(provider: str, what: str, body: bytes | str = b"", *, status: int | None = None) -> LlmError:
    """A body we could not understand (not JSON, wrong shape, cut short)."""
    return LlmError(
        kind=ErrorKind.DECODE,
        message=f"malformed {provider} response: {what}",
        provider=provider,
        status=status,
        raw=excerpt(body, 512) if body else None,
    )


def error_from_response(
    provider: str,
    resp: HttpResponse,
    *,
    message: str | None = None,
    kind: ErrorKind | None = None,
    code: str | None = None,
    retryable: bool | None = None,
    retry_after: float | None = None,
    secrets: tuple[Secret, ...] = (),
) -> LlmError:
    """The common tail of every dialect's ``decode_error``: status defaults, Retry-After, a redacted excerpt."""
    hinted = parse_retry_after(resp.headers, resp.received_at)
    body_text = resp.body.decode("utf-8", "replace")
    msg = message or _fallback_message(resp.status, body_text)
    if 300 <= resp.status < 400:
        # A redirect is the provider (or a proxy) saying the base URL is wrong. The transport never
        # follows one (it would carry the key to another host); retrying cannot help, and it is no
        # sign the service is down, so it is not retryable and does not open the circuit.
        kind, retryable, msg = ErrorKind.API, False, _redirect_message(resp)
    return LlmError(
        kind=kind or kind_for_status(resp.status),
        message=redact(msg, *secrets),
        provider=provider,
        status=resp.status,
        retry_after=hinted if hinted is not None else retry_after,
        code=code,
        retryable=retryable,
        raw=redact(excerpt(body_text), *secrets) if body_text else None,
        headers=kept_headers(resp.headers),
    )


def _redirect_message(resp: HttpResponse) -> str:
    location = next((v for k, v in resp.headers.items() if k.lower() == "location"), "")
    try:
        host = urlsplit(location).hostname
    except ValueError:
        host = None
    target = f"to host {host!r}" if host else "with no usable Location"
    return (f"HTTP {resp.status} redirect {target}: interlingua does not follow redirects; "
            "check the provider's base_url")


def _fallback_message(status: int, body: str) -> str:
    snippet = " ".join(body.split())[:200]
    if snippet.startswith("<"):
        snippet = "an HTML error page"
    return f"HTTP {status}" + (f": {snippet}" if snippet else " with an empty body")


def should_retry_hint(headers: Mapping[str, str]) -> bool | None:
    """OpenAI and Anthropic send ``x-should-retry: true|false`` to override the client's guess."""
    v = headers.get("x-should-retry")
    if v == "true":
        return True
    if v == "false":
        return False
    return None


@functools.lru_cache(maxsize=256)  # pure, and called on every request with the same few URLs
def check_base_url(provider: str, base_url: str, allow_insecure_http: bool) -> Result[str, LlmError]:
    """Refuse plain http to anything but loopback unless the caller opted in for this provider.

    >>> check_base_url("ollama", "http://192.168.1.20:11434", False).failure().message[:40]
    'refusing plain http to non-loopback host'
    >>> check_base_url("ollama", "http://[::1]:11434", False).unwrap()
    'http://[::1]:11434'
    """
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
        parts.port  # noqa: B018  # read to be checked: urlsplit refuses a port past 65535 or not a number only here
    except ValueError:  # "http://[::1", "http://host:99999" and friends
        return invalid_request(provider, "base URL is not a valid URL")
    if parts.scheme not in ("http", "https") or not host:
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # never echo user:password@
        return invalid_request(provider, f"base URL {shown!r} is not an http(s) URL with a host")
    if "@" in parts.netloc:
        # Credentials in a URL leak into logs, proxies and error messages; send them as headers.
        return invalid_request(
            provider, "base URL carries credentials (user:password@): remove them and pass api_key= or headers="
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        return Failure(
            LlmError(
                kind=ErrorKind.INVALID_REQUEST,
                message=f"refusing plain http to non-loopback host {host!r}: use https, or set "
                "allow_insecure_http=True for this provider if the network is trusted",
                provider=provider,
                code="insecure_http",
            )
        )
    return Success(base_url)


def _is_loopback(host: str) -> bool:
    """``localhost`` (and ``*.localhost``, RFC 6761), ``127.0.0.0/8``, ``::1`` and IPv4-mapped loopback.

    >>> [_is_loopback(h) for h in ("localhost", "127.8.9.10", "::1", "::ffff:127.0.0.1", "10.0.0.1", "127.example.com")]
    [True, True, True, True, False, False]
    """
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        return False  # a name other than localhost: DNS could point it anywhere
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)
