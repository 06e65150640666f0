"""The only code that touches sockets: a Transport protocol and its aiohttp implementation.

Exceptions become :class:`LlmError` values at exactly one boundary, :func:`map_exception`, through a
table ordered most specific first (httpcore's ``map_exceptions``).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
import msgspec
import yarl
from returns.result import Failure, Result, Success

from interlingua.core import ErrorKind, Headers, HttpRequest, HttpResponse, LlmError

__all__ = ["EXCEPTION_KINDS", "AiohttpTransport", "StreamItem", "Timeouts", "Transport", "map_exception"]


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    total: float | None = 600.0
    connect: float | None = 10.0
    first_byte: float | None = None
    idle: float | None = None


StreamItem = HttpResponse | bytes | LlmError
"""A stream yields the response head first (an ``HttpResponse`` with an empty body when the status is
2xx, or with the whole error body otherwise), then body bytes; an ``LlmError`` item ends it."""


class Transport(Protocol):
    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Result[HttpResponse, LlmError]: ...

    def stream(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> AsyncIterator[StreamItem]: ...

    async def close(self) -> None: ...


# Most specific first: the first isinstance() match wins.
EXCEPTION_KINDS: tuple[tuple[type[BaseException], ErrorKind, str], ...] = (
    (aiohttp.ConnectionTimeoutError, ErrorKind.TIMEOUT, "timed out connecting"),
    (aiohttp.SocketTimeoutError, ErrorKind.TIMEOUT, "timed out waiting for data"),
    (aiohttp.ServerTimeoutError, ErrorKind.TIMEOUT, "timed out waiting for the server"),
    (asyncio.TimeoutError, ErrorKind.TIMEOUT, "timed out"),
    (aiohttp.ClientConnectorCertificateError, ErrorKind.NETWORK, "TLS certificate verification failed"),
    (aiohttp.ClientSSLError, ErrorKind.NETWORK, "TLS error"),
    (aiohttp.ClientConnectorDNSError, ErrorKind.NETWORK, "DNS lookup failed"),
    (aiohttp.ClientConnectorError, ErrorKind.NETWORK, "could not connect"),
    (aiohttp.ServerDisconnectedError, ErrorKind.NETWORK, "server closed the connection"),
    (aiohttp.ClientPayloadError, ErrorKind.NETWORK, "response body cut short"),
    (aiohttp.ClientOSError, ErrorKind.NETWORK, "connection error"),
    (aiohttp.InvalidURL, ErrorKind.INVALID_REQUEST, "invalid URL"),
    (aiohttp.ClientError, ErrorKind.NETWORK, "HTTP client error"),
    (ssl.SSLError, ErrorKind.NETWORK, "TLS error"),
    (ConnectionError, ErrorKind.NETWORK, "connection error"),
    (OSError, ErrorKind.NETWORK, "network error"),
)
_EXPECTED = tuple(exc for exc, _, _ in EXCEPTION_KINDS)


def map_exception(exc: BaseException, provider: str | None = None) -> LlmError:
    for exc_type, kind, what in EXCEPTION_KINDS:
        if isinstance(exc, exc_type):
            detail = str(exc).strip()
            return LlmError(
                kind=kind,
                message=f"{what}: {type(exc).__name__}" + (f": {detail[:300]}" if detail else ""),
                provider=provider,
            )
    raise exc  # not an expected failure: a bug, let it surface


def _too_large(provider: str | None, limit: int) -> LlmError:
    return LlmError(
        kind=ErrorKind.DECODE,
        message=f"response body exceeded the {limit}-byte limit (max_response_bytes)",
        provider=provider,
    )


_ENCODED_URL = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*(%[0-9A-Fa-f]{2}[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*)*$")


def _url(url: str) -> str | yarl.URL:
    """Send an already percent-encoded URL byte for byte: yarl would otherwise normalise escapes
    such as ``%3A`` to ``:``, and a signed request (AWS SigV4 signs the path) must arrive as signed."""
    return yarl.URL(url, encoded=True) if _ENCODED_URL.match(url) else url


class AiohttpTransport:
    """One pooled ``aiohttp.ClientSession`` per transport, created inside the running loop on first use."""

    def __init__(
        self,
        *,
        limit: int = 100,
        limit_per_host: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = False,
        provider: str | None = None,
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit_per_host, ssl=self._ssl),
                trust_env=self._trust_env,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    @staticmethod
    def _timeout(t: Timeouts) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.first_byte or t.idle)

    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Result[HttpResponse, LlmError]:
        session = self._get_session()
        try:
            async with session.request(
                request.method,
                _url(request.url),
                data=request.body or None,
                headers=request.headers.items_raw(),
                timeout=self._timeout(timeouts),
                allow_redirects=False,
            ) as resp:
                declared = resp.content_length
                if declared is not None:
                    if declared > max_bytes:
                        return Failure(_too_large(None, max_bytes))
                    body = await resp.read()
                else:
                    pieces: list[bytes] = []
                    size = 0
                    async for data in resp.content.iter_any():
                        size += len(data)
                        if size > max_bytes:
                            return Failure(_too_large(None, max_bytes))
                        pieces.append(data)
                    body = b"".join(pieces)
                return Success(HttpResponse(resp.status, Headers(resp.headers.items()), body, time.time()))
        except _EXPECTED as e:
            return Failure(map_exception(e))

    async def stream(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> AsyncIterator[StreamItem]:
        session = self._get_session()
        t = aiohttp.ClientTimeout(total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.idle)
        try:
            async with session.request(
                request.method,
                _url(request.url),
                data=request.body or None,
                headers=request.headers.items_raw(),
                timeout=t,
                allow_redirects=False,
            ) as resp:
                head = HttpResponse(resp.status, Headers(resp.headers.items()), b"", time.time())
                if not 200 <= resp.status < 300:
                    body = await resp.content.read(max_bytes)
                    yield msgspec.structs.replace(head, body=body)
                    return
                yield head
                seen = 0
                # sock_read (set from timeouts.idle) bounds the wait for each piece: an idle cap.
                async for data in resp.content.iter_any():
                    seen += len(data)
                    if seen > max_bytes:
                        yield _too_large(None, max_bytes)
                        return
                    yield data
        except _EXPECTED as e:
            yield map_exception(e)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
