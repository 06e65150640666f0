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
from http.cookies import Morsel, SimpleCookie
from typing import Any, Protocol, cast

import aiohttp
import msgspec
import multidict
import yarl
from aiohttp.http_writer import _serialize_headers
from returns.result import Failure, Result

from interlingua.core import ErrorKind, Headers, HttpRequest, HttpResponse, LlmError
from interlingua.core._memo import remember
from interlingua.core._result import ok

__all__ = ["EXCEPTION_KINDS", "AiohttpTransport", "StreamItem", "Timeouts", "Transport", "map_exception", "never_sent"]


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds, ``None`` for no limit.

    ``connect``: establishing the TCP/TLS connection. ``first_byte``: from sending the request to
    the response headers. ``idle``: the longest gap between two body reads (for a stream, between
    the headers and the first chunk, and between chunks). ``total``: the whole exchange, body
    included; for a stream, until the last chunk is read.

    aiohttp's ``ClientTimeout.sock_read`` applies one number to every socket read, headers
    included, so it cannot tell a slow first byte from a stalled stream: only ``connect`` is left
    to aiohttp; the other three are one rescheduled deadline per request in this module.
    """

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

# The failures of the table above that happen before a request could reach the server (no
# connection, no TLS, no name): such an attempt cannot have been billed. Any other timeout or
# network failure may have been (the request was written, the answer was lost).
_NOT_SENT = ("timed out connecting", "could not connect", "DNS lookup failed", "TLS", "invalid URL")


def never_sent(err: LlmError) -> bool:
    """Whether a transport failure happened before the request could reach the server."""
    return err.message.startswith(_NOT_SENT)


def _detail(exc: BaseException) -> str:
    """What went wrong, in words. aiohttp's connector errors read "Cannot connect to host h:p
    ssl:default [Connect call failed ...]" even for plain http, where ``ssl:default`` only confuses;
    the address and the OS reason say it all."""
    if isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(exc, aiohttp.ClientSSLError):
        reason = exc.os_error.strerror or str(exc.os_error) if exc.os_error is not None else ""
        return f"{exc.host}:{exc.port}" + (f": {reason}" if reason else "")
    return str(exc).strip()


def map_exception(exc: BaseException, provider: str | None = None) -> LlmError:
    for exc_type, kind, what in EXCEPTION_KINDS:
        if isinstance(exc, exc_type):
            detail = _detail(exc)
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
        retryable=False,
    )


_ENCODED_URL = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*(%[0-9A-Fa-f]{2}[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*)*$")


def _url(url: str) -> yarl.URL:
    """Send an already percent-encoded URL byte for byte: yarl would otherwise normalise escapes
    such as ``%3A`` to ``:``, and a signed request (AWS SigV4 signs the path) must arrive as signed."""
    try:
        parsed = yarl.URL(url, encoded=True) if _ENCODED_URL.match(url) else yarl.URL(url)
        parsed.port  # noqa: B018  # an encoded URL's port is checked only when read: a bad one is an InvalidURL here
        return parsed
    except ValueError as e:  # what aiohttp itself raises for a URL it cannot parse
        raise aiohttp.InvalidURL(url) from e


class _Urls(dict[str, yarl.URL]):
    """Parsed URLs by string, bounded: a client sends to a handful of endpoints, and parsing one
    (regex check + yarl) costs more per request than the rest of the transport's own work."""

    def __missing__(self, url: str) -> yarl.URL:
        return remember(self, url, _url(url))


_INF = float("inf")
_RESOLUTION = time.get_clock_info("monotonic").resolution


class _Watchdog:
    """One timer for the deadlines of every exchange in flight on one event loop.

    An ``asyncio.timeout`` per request allocates a ``Timeout``, a ``TimerHandle`` and a context copy
    and pushes onto the loop's heap; at concurrency 32 that cost ~60k instructions per request, most
    of them in the garbage collector (issue 19: aiohttp's own ``ClientTimeout`` costs the same). Here
    an exchange enters its deadline in a dict; the one timer is armed at the earliest deadline and,
    when it comes due, expires every exchange past its deadline and re-arms at the next one. A deadline
    that moves later (a read made progress) touches no timer; one that moves earlier re-arms it.
    """

    __slots__ = ("due", "handle", "loop", "watched")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.watched: dict[_Deadlines, None] = {}
        self.handle: asyncio.TimerHandle | None = None
        self.due = _INF

    def watch(self, d: _Deadlines, at: float) -> None:
        self.watched[d] = None
        if at < self.due:
            if self.handle is not None:
                self.handle.cancel()
            self.due = at
            self.handle = self.loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self.handle = None
        self.due = _INF
        now = self.loop.time() + _RESOLUTION  # the loop runs a timer up to one resolution early
        nxt = _INF
        for d in list(self.watched):
            at = d.at
            if at <= now:
                del self.watched[d]
                d.expire()
            elif at < nxt:
                nxt = at
        if nxt != _INF:
            self.due = nxt
            self.handle = self.loop.call_at(nxt, self._fire)


class _Deadlines:
    """The first-byte, idle and total limits of one exchange, kept by the loop's :class:`_Watchdog`.

    The exchange awaits the socket inside its own ``try``; when a deadline passes, the watchdog
    records which one (``expired``) and cancels the task, and :meth:`settle` turns that cancellation
    back into a timeout, as ``asyncio.timeout`` would (a cancellation from anywhere else stays one).
    A stream's ``yield`` is never inside that region, so time the caller spends between chunks is not
    charged to the server.
    """

    __slots__ = ("at", "cancelling", "dog", "expired", "last", "loop", "phase", "t", "task", "total_at")

    def __init__(self, t: Timeouts, task: asyncio.Task[Any], dog: _Watchdog) -> None:
        self.task = task
        self.loop = loop = dog.loop
        self.dog = dog
        self.t = t
        self.cancelling = task.cancelling()
        self.expired: LlmError | None = None
        now = loop.time()
        self.total_at = None if t.total is None else now + t.total
        self.last = now
        self.phase = "first_byte"
        self.at = _INF
        self._set(self._at(t.first_byte))

    def _at(self, limit: float | None) -> float | None:
        at = None if limit is None else self.last + limit
        if self.total_at is not None and (at is None or self.total_at <= at):
            return self.total_at
        return at

    def _set(self, at: float | None) -> None:
        if at is None:
            self.at = _INF
            self.dog.watched.pop(self, None)
        elif at < self.at or self not in self.dog.watched:
            self.at = at
            self.dog.watch(self, at)
        else:
            self.at = at  # later: the armed timer finds it moved when it fires

    def idle(self) -> None:
        """The head arrived: from now on the idle limit (and the total one) applies."""
        self.phase = "idle"
        self.last = self.loop.time()
        self._set(self._at(self.t.idle))

    def progress(self) -> None:
        """A body read made progress: restart the idle clock."""
        if self.t.idle is not None:
            self.last = self.loop.time()
            self._set(self._at(self.t.idle))

    def expire(self) -> None:
        """The watchdog's call: this exchange's deadline passed (it is already out of the watch list)."""
        self.at = _INF
        self.expired = self._error()
        self.task.cancel()

    def settle(self) -> bool:
        """The exchange left its awaits: stop watching. True when its deadline cancelled the task —
        that cancellation is withdrawn and the caller reports :attr:`expired` instead."""
        if self.expired is None:
            if self.at != _INF:
                self.dog.watched.pop(self, None)
                self.at = _INF
            return False
        return self.task.uncancel() <= self.cancelling

    def _error(self) -> LlmError:
        """The limit that passed, named."""
        limit = self.t.first_byte if self.phase == "first_byte" else self.t.idle
        if limit is None or (self.total_at is not None and self.total_at <= self.last + limit):
            return self.total_error()
        what = "no response headers" if self.phase == "first_byte" else "no data"
        return LlmError(kind=ErrorKind.TIMEOUT, message=f"{what} within {limit:g}s ({self.phase} timeout)")

    def total_error(self) -> LlmError:
        return LlmError(kind=ErrorKind.TIMEOUT, message=f"the exchange exceeded the total timeout of {self.t.total:g}s")

    def idle_error(self) -> LlmError:
        return LlmError(kind=ErrorKind.TIMEOUT, message=f"no data within {self.t.idle:g}s (idle timeout)")


class _Expired(Exception):
    """Internal signal: a body read hit a deadline (the error is in ``_Watch.expired``); never leaves this module."""


class _Watch:
    """One lazy timer for a whole stream body (see ``AiohttpTransport.stream``). A read records when
    it started; the timer, when it comes due, works out the deadline that really applies — the total
    one, or ``idle`` after the start of a read in progress (time the caller spends between chunks is
    not charged) — and either moves itself there or expires: it cancels a read in progress, as
    ``asyncio.timeout`` would, or leaves ``expired`` for the next read to see. So a chunk costs one
    clock read instead of an ``asyncio.timeout`` (~10 Python calls, issue 19)."""

    __slots__ = ("cancelling", "clock", "d", "expired", "handle", "reading", "since", "task")

    def __init__(self, d: _Deadlines) -> None:
        task = d.task
        self.task, self.d, self.clock = task, d, d.loop.time
        self.cancelling = task.cancelling()
        self.expired: LlmError | None = None
        self.reading = False
        self.since = self.clock()
        self.handle: asyncio.TimerHandle | None = None
        self._arm(self.since)

    def _arm(self, now: float) -> None:
        idle, total_at = self.d.t.idle, self.d.total_at
        due = self.since + idle if self.reading and idle is not None else (None if idle is None else now + idle)
        if total_at is not None and (due is None or total_at <= due):
            due = total_at
        self.handle = None if due is None else self.d.loop.call_at(due, self._due)

    def _due(self) -> None:
        now = self.clock()
        idle, total_at = self.d.t.idle, self.d.total_at
        if total_at is not None and now >= total_at:
            self.expired = self.d.total_error()
        elif self.reading and idle is not None and now >= self.since + idle:
            self.expired = self.d.idle_error()
        else:
            self._arm(now)
            return
        self.handle = None
        if self.reading:
            self.task.cancel()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


async def _read_body(resp: aiohttp.ClientResponse, d: _Deadlines | None, max_bytes: int) -> bytes | None:
    """The whole body, or ``None`` once it passes ``max_bytes`` (the rest is never read). ``d``: the
    exchange's deadlines, whose idle clock restarts with every read (``None``: nothing to restart)."""
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        return None
    if (d is None or d.t.idle is None) and declared is not None and "Content-Encoding" not in resp.headers:
        # A declared, uncompressed length within the limit: aiohttp's parser never delivers
        # more than it, so one read is bounded (and cheaper than the piecewise loop).
        return await resp.read()
    pieces: list[bytes] = []
    size = 0
    while data := await resp.content.readany():
        size += len(data)
        if size > max_bytes:
            return None
        pieces.append(data)
        if d is not None:
            d.progress()
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


_AIOHTTP = tuple(int(x) for x in re.findall(r"\d+", aiohttp.__version__)[:2])
_LEAN_AIOHTTP = (3, 12) <= _AIOHTTP < (3, 15)
"""The aiohttp versions whose request internals :meth:`AiohttpTransport._lean` was checked against (their
``ClientRequest``, ``connector.connect``, ``set_response_params`` and cookie-jar calls); any other version
takes ``ClientSession.request`` for every exchange."""
_TIMER = aiohttp.helpers.TimerNoop()
_SKIP_AUTO = ("User-Agent",)

_DIRECT_AIOHTTP = _AIOHTTP == (3, 14)
"""The aiohttp versions whose ``ClientRequest`` :class:`_Target` writes as (the request head's headers, their
order, and what ``ClientRequest.send`` hands ``ClientResponse``); any other takes ``ClientRequest`` itself."""
if _DIRECT_AIOHTTP:
    from aiohttp._cookie_helpers import preserve_morsel_with_coded_value as _keep_coded
_DIRECT_MAX_BODY = 1 << 16
"""A larger body goes through ``ClientRequest``, whose writer waits for the socket to drain (backpressure)."""
_CLIENT_REQUEST_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "cookie", "connection", "expect",
                                     "content-encoding"})
"""Names ``ClientRequest`` merges or acts on: a request that sets one itself takes ``ClientRequest``."""
_ACCEPT_ENCODING = aiohttp.ClientRequest.DEFAULT_HEADERS[aiohttp.hdrs.ACCEPT_ENCODING]
"""What ``ClientRequest`` sends unless the request names its own (the decoders this aiohttp has)."""


class _HeadPairs(list[tuple[str, str]]):
    """A request head's (name, value) pairs in order, for aiohttp's header serializer (which reads ``items()``)."""

    items = list.__iter__


class _Sent:
    """What ``ClientResponse`` reads of a request's writer once the request is written: the bytes sent."""

    __slots__ = ("output_size",)

    def __init__(self, size: int) -> None:
        self.output_size = size


class _Target:
    """One URL's part of every request head, worked out once: the status line, ``Host``, and the template
    request the connector keys its pool by (it reads the URL's host, port and scheme from it)."""

    __slots__ = ("conn_req", "host", "info", "status_line", "url")

    def __init__(self, url: yarl.URL, lean: _Lean) -> None:
        self.url = url
        self.status_line = f"POST {url.raw_path_qs} HTTP/1.1"
        host = url.host_port_subcomponent
        assert host is not None
        self.host = host
        self.conn_req = aiohttp.ClientRequest("POST", url, loop=lean.loop, session=lean.session, ssl=True,
                                              traces=[], timer=_TIMER, skip_auto_headers=_SKIP_AUTO)
        # what aiohttp's errors about the answer carry (``ClientResponseError.request_info``): the URL and
        # method; no request headers (they hold the credentials)
        self.info = aiohttp.RequestInfo(url, "POST", multidict.CIMultiDictProxy(multidict.CIMultiDict()), url)


class _Lean:
    """What ``ClientSession._request`` works out per call and this transport knows once per session: the
    response parser's settings (the session's own) and the pieces of the request it reuses."""

    __slots__ = ("connector", "direct", "jar", "loop", "params", "session", "targets")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        connector = session.connector
        assert connector is not None
        self.session, self.connector, self.jar = session, connector, session.cookie_jar
        # the request heads this transport writes itself (``_Target``), by URL
        self.direct = _DIRECT_AIOHTTP and not connector.force_close
        self.targets: dict[yarl.URL, _Target] = {}
        # the session's loop, as ``_request`` passes it (``get_running_loop`` per call is a getpid on 3.11)
        self.loop = session._loop
        params: dict[str, Any] = {
            "timer": _TIMER, "skip_payload": False, "read_until_eof": True,
            "auto_decompress": session.auto_decompress, "read_timeout": None,
            "read_bufsize": session._read_bufsize,
            "timeout_ceil_threshold": connector._timeout_ceil_threshold,
            "max_line_size": session._max_line_size, "max_field_size": session._max_field_size,
        }
        if hasattr(session, "_max_headers"):  # aiohttp 3.14
            params["max_headers"] = session._max_headers
        self.params = params


# What ``_direct_head`` does with a request's own header, by name as given: 0 send it, 1-3 send it in
# place of the default ``Accept``, ``Accept-Encoding`` or ``Content-Type``, 4 leave the head to ``ClientRequest``.
_HEADER_ROLE: dict[str, int] = {}
_ROLE = {"accept": 1, "accept-encoding": 2, "content-type": 3}


def _role(name: str) -> int:
    low = name.lower()
    return remember(_HEADER_ROLE, name, _ROLE.get(low, 4 if low in _CLIENT_REQUEST_HEADERS else 0))


def _direct_head(t: _Target, pairs: tuple[tuple[str, str], ...], cookies: Any, size: int) -> _HeadPairs | None:
    """A POST's head as ``ClientRequest`` (aiohttp 3.14) builds it, in its order: ``Host``, the request's
    own headers, ``Accept`` and ``Accept-Encoding`` unless given, ``Cookie`` from the jar, ``Content-Length``,
    and ``Content-Type`` unless given (``tests/test_transport_lean.py`` compares the two byte for byte).
    ``None``: the request sets a header aiohttp acts on (``Host``, ``Cookie``, ``Content-Length``, …)."""
    head = _HeadPairs()
    head.append(("Host", t.host))
    given = 0  # bit 1: Accept, 2: Accept-Encoding, 4: Content-Type
    roles = _HEADER_ROLE
    for pair in pairs:
        name = pair[0]
        role = roles[name] if name in roles else _role(name)
        if role:
            if role == 4:
                return None
            given |= 1 << (role - 1)
        head.append(pair)
    if not given & 1:
        head.append(("Accept", "*/*"))
    if not given & 2:
        head.append(("Accept-Encoding", _ACCEPT_ENCODING))
    if cookies:
        jar = SimpleCookie()
        for name, value in cookies.items():
            jar[name] = _keep_coded(value) if isinstance(value, Morsel) else value
        head.append(("Cookie", jar.output(header="", sep=";").strip()))
    head.append(("Content-Length", str(size)))
    if not given & 4:
        head.append(("Content-Type", "application/octet-stream"))
    return head


def _write_direct(t: _Target, head: _HeadPairs, body: bytes, protocol: Any, lean: _Lean) -> aiohttp.ClientResponse:
    """Write the request on the connection at once (what ``ClientRequest.send`` and its writer task do for a
    small body on a connection whose writing is not paused) and make the response that reads the answer."""
    transport = protocol.transport
    if transport is None or transport.is_closing():
        # what aiohttp's writer task reports for a connection closed under it
        raise aiohttp.ClientOSError(None, f"Can not write request body for {t.url!s}")
    data = _serialize_headers(t.status_line, head)  # type: ignore[arg-type]  # it reads ``items()`` only
    if body:
        data += body
    transport.write(data)
    protocol.start_timeout()
    return aiohttp.ClientResponse(
        "POST", t.url, writer=None, continue100=None, timer=_TIMER, request_info=t.info, traces=[],
        loop=lean.loop, session=lean.session, stream_writer=_Sent(len(data)),  # type: ignore[arg-type]
    )


class AiohttpTransport:
    """One pooled ``aiohttp.ClientSession`` per transport, created inside the running loop on first use.

    ``limit`` bounds all open connections, ``limit_per_host`` those to one host (``0``: no
    per-host bound); a request waiting for a free connection is still bounded by its first-byte
    and total timeouts.
    """

    def __init__(
        self,
        *,
        limit: int = 100,
        limit_per_host: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = False,
        lean: bool = True,
    ) -> None:
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._timeout_for: tuple[Timeouts, aiohttp.ClientTimeout] | None = None
        self._urls = _Urls()
        self._dog: _Watchdog | None = None  # made on first use inside the running loop
        self._want_lean = lean
        self._lean_for: _Lean | None = None  # the current session's, when its POSTs may take the lean path

    def open(self) -> None:
        """Create the pooled session now (inside the running loop); a request creates it otherwise.
        Connections are still made on demand."""
        self._get_session()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit_per_host, ssl=self._ssl),
                trust_env=self._trust_env,
                auto_decompress=True,
                skip_auto_headers=_SKIP_AUTO,
            )
            # The lean path skips what this session would only do with options it was not given: it is
            # taken only when no proxy may apply (trust_env), no aiohttp tracing (e.g. OpenTelemetry's
            # aiohttp instrumentation) or client middleware is installed, on a checked aiohttp version.
            plain = (self._want_lean and _LEAN_AIOHTTP and not self._trust_env and not session.trace_configs
                     and not session._middlewares and session._default_proxy is None)
            self._lean_for = _Lean(session) if plain else None
        return self._session

    def _timeout(self, t: Timeouts) -> aiohttp.ClientTimeout:
        # Only the connect limit is aiohttp's; built once per Timeouts value, not per request.
        cached = self._timeout_for
        if cached is not None and cached[0] is t:
            return cached[1]
        ct = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=t.connect, sock_read=None)
        self._timeout_for = (t, ct)
        return ct

    def _deadlines(self, t: Timeouts) -> _Deadlines:
        """The exchange's deadlines, kept by this transport's watchdog on the running loop (a new
        loop gets a new one)."""
        task = asyncio.current_task()
        assert task is not None  # a transport runs inside a task
        dog = self._dog
        if dog is None or dog.loop is not task.get_loop():
            dog = self._dog = _Watchdog(task.get_loop())
        return _Deadlines(t, task, dog)

    def _request(self, request: HttpRequest, timeouts: Timeouts) -> Any:
        session = self._get_session()
        lean = self._lean_for
        if lean is not None and request.method == "POST":
            return self._lean(lean, request, self._timeout(timeouts))
        return session.request(
            request.method,
            self._urls[request.url],
            data=request.body or None,
            headers=request.headers.items_raw(),
            timeout=self._timeout(timeouts),
            allow_redirects=False,
        )

    async def _lean(self, lean: _Lean, request: HttpRequest, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """One POST exchange on the session's own connector, ``ClientRequest`` and response parser, without
        ``ClientSession._request``'s per-call setup for what this transport never uses: header merging
        (the session has no default headers), redirects (never followed), its own total timer (the
        deadlines are this module's), tracing, middlewares, proxies from the environment, and the
        stale-connection retry that aiohttp gives only idempotent methods (a POST is not retried there
        either). Issue 19: the session's request path is ~370k of the floor's ~480k instructions per
        request; this one saves ~80k of them. Cookies, the connect timeout, the connection's release on
        failure and aiohttp's exception types are kept as the session keeps them.

        On aiohttp 3.14 (:data:`_DIRECT_AIOHTTP`) a small POST does not build a ``ClientRequest`` either: its
        head is the bytes ``ClientRequest`` would write (:func:`_direct_head`, through aiohttp's own header
        serializer and its injection checks), written on the pooled connection at once, and aiohttp's
        ``ClientResponse`` reads the answer. That skips the request object's header, payload and writer set-up
        and, on Python 3.11, the task aiohttp starts per request to write the body (another ~155k instructions
        per request). The connector is handed one template request per URL, for the pool key and a new
        connection's address."""
        url = self._urls[request.url]
        # the session's own refusals of a URL it cannot send to, in its words
        if url.scheme not in lean.connector.allowed_protocol_schema_set:
            raise aiohttp.NonHttpUrlClientError(url)
        if not url.raw_host:
            raise aiohttp.InvalidUrlClientError(url)
        jar = lean.jar
        cookies = jar.filter_cookies(url) if len(jar) else None
        body = request.body
        target: _Target | None = None
        head: _HeadPairs | None = None
        if lean.direct and len(body) <= _DIRECT_MAX_BODY and not url.raw_user and not url.raw_password:
            targets = lean.targets
            target = targets[url] if url in targets else remember(targets, url, _Target(url, lean))
            head = _direct_head(target, request.headers.items_raw(), cookies, len(body))
        req: aiohttp.ClientRequest | None = None
        if head is None:
            req = keyed = self._client_request(lean, url, request, cookies)
        else:
            assert target is not None
            keyed = target.conn_req  # the pool's key and a new connection's address: the URL's alone
        try:
            try:
                conn = await lean.connector.connect(keyed, traces=[], timeout=timeout)
            except TimeoutError as exc:
                raise aiohttp.ConnectionTimeoutError(f"Connection timeout to host {keyed.url}") from exc
            protocol = conn.protocol
            assert protocol is not None
            protocol.set_response_params(**lean.params)
            try:
                if head is not None and not protocol.writing_paused:
                    assert target is not None
                    resp = _write_direct(target, head, body, protocol, lean)
                else:
                    resp = await (req or self._client_request(lean, url, request, cookies)).send(conn)
                try:
                    await resp.start(conn)
                except BaseException:
                    resp.close()
                    raise
            except BaseException:
                conn.close()
                raise
        except aiohttp.ClientError:
            raise
        except OSError as exc:  # as the session maps a bare socket error (a timeout stays one)
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise aiohttp.ClientOSError(*exc.args) from exc
        if resp._raw_cookie_headers:
            jar.update_cookies_from_headers(resp._raw_cookie_headers, resp.url)
        return resp

    @staticmethod
    def _client_request(lean: _Lean, url: yarl.URL, request: HttpRequest, cookies: Any) -> aiohttp.ClientRequest:
        """aiohttp's own request object: every aiohttp version but :data:`_DIRECT_AIOHTTP`, a request that sets
        a header aiohttp acts on, credentials in the URL, or a body large enough to wait on the socket."""
        return aiohttp.ClientRequest(
            "POST", url, headers=request.headers.items_raw(), skip_auto_headers=_SKIP_AUTO, data=request.body or None,
            cookies=cookies, loop=lean.loop, response_class=aiohttp.ClientResponse, timer=_TIMER,
            session=lean.session, ssl=True, traces=[],
        )

    async def send(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> Result[HttpResponse, LlmError]:
        d = self._deadlines(timeouts)
        resp: aiohttp.ClientResponse | None = None
        complete = timed_out = False
        try:
            try:
                resp = await self._request(request, timeouts)
                if resp.content.is_eof():
                    # A small reply usually arrives whole with its head: nothing is left to wait for.
                    body = await _read_body(resp, None, max_bytes)
                else:
                    d.idle()
                    body = await _read_body(resp, d, max_bytes)
            finally:
                timed_out = d.settle()
            if body is None:
                return Failure(_too_large(None, max_bytes))
            complete = True
            return ok(HttpResponse(resp.status, Headers.received(resp.headers), body, time.time()))
        except asyncio.CancelledError:
            if timed_out:
                return Failure(cast(LlmError, d.expired))
            raise
        except _EXPECTED as e:
            return Failure(cast(LlmError, d.expired) if timed_out else map_exception(e))
        finally:
            if resp is not None:
                # A connection with unread body bytes cannot be reused: close it, never pool it.
                resp.release() if complete else resp.close()

    async def stream(self, request: HttpRequest, *, timeouts: Timeouts, max_bytes: int) -> AsyncIterator[StreamItem]:
        d = self._deadlines(timeouts)
        resp: aiohttp.ClientResponse | None = None
        complete = timed_out = False
        try:
            error: LlmError | None = None
            body: bytes | None = b""
            try:
                try:
                    resp = await self._request(request, timeouts)
                    if not 200 <= resp.status < 300:
                        d.idle()
                        body = await _read_body(resp, d, max_bytes)
                finally:
                    timed_out = d.settle()
            except asyncio.CancelledError:
                if not timed_out:
                    raise
                error = d.expired
            except _EXPECTED as e:
                error = d.expired if timed_out else map_exception(e)
            if error is not None:
                yield error
                return
            assert resp is not None
            head = HttpResponse(resp.status, Headers.received(resp.headers), b"", time.time())
            if not 200 <= resp.status < 300:
                if body is None:
                    yield _too_large(None, max_bytes)
                    return
                complete = True
                yield msgspec.structs.replace(head, body=body)
                return
            yield head
            seen = 0
            content = resp.content
            # One lazy timer bounds every body read (idle and total), not an asyncio.timeout per read.
            watch = _Watch(d)
            try:
                while True:
                    if watch.expired is not None:
                        raise _Expired
                    watch.since = watch.clock()
                    watch.reading = True
                    try:
                        data = await content.readany()
                    except asyncio.CancelledError:
                        if watch.expired is not None and watch.task.uncancel() <= watch.cancelling:
                            raise _Expired from None
                        raise
                    finally:
                        watch.reading = False
                    if not data:
                        complete = True
                        return
                    seen += len(data)
                    if seen > max_bytes:
                        yield _too_large(None, max_bytes)
                        return
                    yield data
            finally:
                watch.stop()
        except _Expired:
            yield watch.expired or d.total_error()
        except _EXPECTED as e:
            yield map_exception(e)
        finally:
            if resp is not None:
                resp.release() if complete else resp.close()

    async def close(self) -> None:
        dog = self._dog
        if dog is not None and dog.handle is not None and not dog.watched:
            dog.handle.cancel()  # nothing in flight: the armed timer has nothing left to bound
            dog.handle, dog.due = None, _INF
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
