"""Errors are values.

Every expected failure — anything the remote side, the network or the caller's input controls — is an
:class:`LlmError` carried in a ``returns`` ``Failure``. Exceptions are kept for our own bugs.

Taxonomy (``ErrorKind``)::

    LlmError
    ├── caller's side, never retried
    │   ├── invalid_model            the model string names no known provider/model
    │   ├── invalid_request          the request cannot be sent as is (400/413/422, validation)
    │   ├── context_length_exceeded  the prompt does not fit the model's context window
    │   ├── authentication           missing or wrong key (401)
    │   ├── permission               the key may not do this (403)
    │   ├── not_found                no such model/deployment/path (404)
    │   ├── content_filter           the provider's safety system blocked the prompt or answer
    │   └── budget_exceeded          a local spending or token cap would be exceeded
    ├── provider's side, retried
    │   ├── rate_limit               429 (retry_after says when)
    │   ├── overloaded               529 / 503 "overloaded"
    │   ├── provider                 5xx: the provider failed
    │   ├── timeout                  connect, first byte, idle or total deadline passed
    │   └── network                  connection refused/reset, DNS, TLS
    └── the exchange itself
        ├── api                      any other unexpected status
        ├── decode                   malformed or truncated body
        ├── streaming                the stream failed after it started
        └── circuit_open             the local circuit breaker rejected the call

>>> e = LlmError(kind=ErrorKind.RATE_LIMIT, message="slow down", status=429, retry_after=2.0)
>>> e.is_retryable(), e.is_rate_limit(), e.is_authentication()
(True, True, False)
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Mapping

import msgspec

__all__ = [
    "ErrorKind",
    "LlmError",
    "excerpt",
    "kind_for_status",
    "parse_retry_after",
]


class ErrorKind(enum.StrEnum):
    PROVIDER = "provider"
    INVALID_MODEL = "invalid_model"
    API = "api"
    AUTHENTICATION = "authentication"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    NETWORK = "network"
    STREAMING = "streaming"
    INVALID_REQUEST = "invalid_request"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    OVERLOADED = "overloaded"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    CONTENT_FILTER = "content_filter"
    DECODE = "decode"
    BUDGET_EXCEEDED = "budget_exceeded"
    CIRCUIT_OPEN = "circuit_open"


_RETRYABLE_KINDS = frozenset(
    {ErrorKind.RATE_LIMIT, ErrorKind.OVERLOADED, ErrorKind.PROVIDER, ErrorKind.TIMEOUT, ErrorKind.NETWORK}
)
_NEVER_RETRY = frozenset(
    {
        ErrorKind.AUTHENTICATION,
        ErrorKind.PERMISSION,
        ErrorKind.INVALID_REQUEST,
        ErrorKind.INVALID_MODEL,
        ErrorKind.NOT_FOUND,
        ErrorKind.CONTEXT_LENGTH_EXCEEDED,
        ErrorKind.CONTENT_FILTER,
        ErrorKind.BUDGET_EXCEEDED,
        ErrorKind.CIRCUIT_OPEN,
    }
)
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class LlmError(msgspec.Struct, frozen=True, kw_only=True):
    """One failed exchange, as data.

    ``retryable`` is the provider's own hint when it gives one (OpenAI's ``x-should-retry``,
    a quota error that no retry can fix); ``None`` means "decide from kind and status".
    ``raw`` holds a short, redacted excerpt of the body for diagnosis.
    """

    kind: ErrorKind
    message: str
    provider: str | None = None
    status: int | None = None
    retry_after: float | None = None
    code: str | None = None
    retryable: bool | None = None
    raw: str | None = None
    headers: dict[str, str] | None = None
    """Diagnostic response headers worth keeping (rate limits, request id, retry hints) — never credentials."""
    attempts: int | None = None
    """How many HTTP attempts the client made before returning this error (all models, when it
    failed over); ``None`` for errors that never reached the retry loop."""

    def is_retryable(self) -> bool:
        if self.kind in _NEVER_RETRY:
            return False
        if self.retryable is not None:
            return self.retryable
        return self.kind in _RETRYABLE_KINDS or self.status in RETRYABLE_STATUSES

    def is_rate_limit(self) -> bool:
        return self.kind is ErrorKind.RATE_LIMIT

    def is_authentication(self) -> bool:
        return self.kind is ErrorKind.AUTHENTICATION

    def __str__(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        wait = f"; retry after {self.retry_after:g}s" if self.retry_after is not None else ""
        return f"{where}{self.kind.value}{status}: {self.message}{wait}"

    def to_exception(self) -> LlmException:
        """For callers who prefer ``raise``: an exception carrying this value."""
        return LlmException(self)


class LlmException(Exception):
    """Raised only when a caller asks for it (``err.to_exception()``); carries the :class:`LlmError`."""

    def __init__(self, error: LlmError) -> None:
        super().__init__(str(error))
        self.error = error


_STATUS_KINDS: Mapping[int, ErrorKind] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    409: ErrorKind.API,
    413: ErrorKind.INVALID_REQUEST,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.PROVIDER,
    502: ErrorKind.PROVIDER,
    503: ErrorKind.OVERLOADED,
    504: ErrorKind.TIMEOUT,
    529: ErrorKind.OVERLOADED,
}


def kind_for_status(status: int) -> ErrorKind:
    """The kind an HTTP status implies before the body is read; dialects refine it from the body.

    >>> kind_for_status(429), kind_for_status(418), kind_for_status(599)
    (<ErrorKind.RATE_LIMIT: 'rate_limit'>, <ErrorKind.INVALID_REQUEST: 'invalid_request'>, <ErrorKind.PROVIDER: 'provider'>)
    """
    kind = _STATUS_KINDS.get(status)
    if kind is not None:
        return kind
    if status >= 500:
        return ErrorKind.PROVIDER
    if status >= 400:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.API


def parse_retry_after(headers: Mapping[str, str], received_at: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms``, ``retry-after`` (seconds or HTTP-date) — in that order.

    An HTTP-date is measured against the response's own ``Date`` header when present (the server's
    clock), else against ``received_at``; with neither there is no "now", so no answer.

    >>> parse_retry_after({"retry-after": "2"})
    2.0
    >>> parse_retry_after({"retry-after-ms": "150"})
    0.15
    >>> parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT", "date": "Wed, 21 Oct 2015 07:28:00 GMT"})
    10.0
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
            if _believable(value):
                return value
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    ra = ra.strip()
    try:
        value = float(ra)
        return value if _believable(value) else None
    except ValueError:
        pass
    # Imported here: the email package costs ~40 ms at import and only the HTTP-date form needs it.
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(ra).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    now: float | None = received_at
    date = headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
            now = email.utils.parsedate_to_datetime(date).timestamp()
    if now is None:
        return None
    wait = max(0.0, when - now)
    return wait if _believable(wait) else None


MAX_RETRY_AFTER = 86_400.0
"""A wait hint longer than a day (or ``inf``, ``nan``, negative) is not believed: it is ignored, as
rate-limit resets are (:data:`interlingua.core.ratelimit.MAX_RESET_SECONDS`), so no error ever
carries ``retry_after=inf`` and no caller sleeps on it."""


def _believable(seconds: float) -> bool:
    return 0.0 <= seconds <= MAX_RETRY_AFTER


# LlmError.headers is an allow-list of exact names: what a caller needs to act on an error (wait
# hints, quota, request ids to quote to support, the body's type, the server's clock). Anything
# else — cookies, echoed request headers, a proxy's "x-forwarded-authorization" — is dropped.
KEPT_HEADERS = frozenset({
    "retry-after", "retry-after-ms", "x-should-retry", "content-type", "date",
    "x-request-id", "request-id", "x-amzn-requestid", "x-amzn-request-id", "x-amz-request-id", "x-amzn-errortype",
    "apim-request-id", "x-ms-request-id", "x-ms-region", "x-goog-request-id", "cf-ray",
    *(f"x-ratelimit-{what}-{unit}" for what in ("limit", "remaining", "reset") for unit in ("requests", "tokens")),
    *(f"anthropic-ratelimit-{unit}-{what}" for what in ("limit", "remaining", "reset")
      for unit in ("requests", "tokens", "input-tokens", "output-tokens")),
})  # fmt: skip
_MAX_HEADER_VALUE = 256


def kept_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The diagnostic subset of response headers an error keeps (see ``LlmError.headers``): the
    names in :data:`KEPT_HEADERS`, each value cut to 256 characters (callers redact secrets).

    >>> kept_headers({"Retry-After": "2", "Set-Cookie": "s=1", "X-Echo-Authorization": "Bearer sk-x"})
    {'retry-after': '2'}
    """
    kept = {k.lower(): v[:_MAX_HEADER_VALUE] for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    return kept or None


def excerpt(body: bytes | str, limit: int = 2048) -> str:
    """A printable, bounded piece of a body for ``LlmError.raw`` (callers redact secrets first)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"
