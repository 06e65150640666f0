"""The transport's lean POST path (``AiohttpTransport._lean``: the session's connector, ``ClientRequest`` and
response parser without ``ClientSession._request``'s per-call setup) against the session's own path: the same
bytes on the wire, the same answers, the same errors, the same pool, cookies kept; and the session's path
wherever the lean one would drop something the session does (proxies from the environment, aiohttp
tracing, non-POST methods). Real aiohttp servers on loopback."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlingua.core import Headers, HttpRequest, HttpResponse, LlmError
from interlingua.effects import transport as tr
from interlingua.effects.transport import AiohttpTransport, Timeouts

pytestmark = pytest.mark.skipif(not tr._LEAN_AIOHTTP, reason="this aiohttp version always takes the session's path")

T = Timeouts(total=10)


async def _echo(request: web.Request) -> web.Response:
    """What arrived: method, path, the headers as sent (names in order), the body, the cookies."""
    body = await request.read()
    headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers]
    return web.json_response({"method": request.method, "path": request.path_qs, "headers": headers,
                              "body": body.decode("latin-1"), "cookies": dict(request.cookies)})


async def _gzip(request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(b'{"zipped": true}' * 50), headers={"Content-Encoding": "gzip",
                                                                               "Content-Type": "application/json"})


async def _chunked(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=201, headers={"Content-Type": "application/json", "X-Extra": "a"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for piece in (b'{"a":', b" 1", b"}"):
        await resp.write(piece)
    await resp.write_eof()
    return resp


async def _set_cookie(request: web.Request) -> web.Response:
    resp = web.json_response({"set": True})
    resp.set_cookie("affinity", "node-7")
    return resp


async def _status(request: web.Request) -> web.Response:
    return web.json_response({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "2"})


async def _close(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()  # the connection drops before any answer
    return web.Response()


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    for path, handler in (("/echo", _echo), ("/gzip", _gzip), ("/chunked", _chunked), ("/cookie", _set_cookie),
                          ("/429", _status), ("/close", _close)):
        app.router.add_route("*", path, handler)
    async with TestServer(app) as srv:
        yield srv


def _req(server: TestServer, path: str, body: bytes = b'{"x": 1}', method: str = "POST",
         headers: dict[str, str] | None = None) -> HttpRequest:
    h = {"Content-Type": "application/json", "Authorization": "Bearer sk-test", **(headers or {})}
    return HttpRequest(method, str(server.make_url(path)), Headers(h), body)


def _shape(resp: HttpResponse) -> tuple[Any, ...]:
    # everything but the Date header, which moves with the clock
    return resp.status, [(k, v) for k, v in resp.headers.items() if k.lower() != "date"], resp.body


def _outcome(r: Any) -> tuple[Any, ...]:
    value = r.value_or(None)
    if isinstance(value, HttpResponse):
        return ("ok", *_shape(value))
    err = r.failure()
    return ("error", err.kind, err.message)


async def _both(requests: list[HttpRequest], max_bytes: int = 1 << 20) -> tuple[list[Any], list[Any]]:
    """Each request's outcome through a lean transport and through one that takes the session's path."""
    out = []
    for lean in (True, False):
        t = AiohttpTransport(lean=lean)
        try:
            out.append([_outcome(await t.send(r, timeouts=T, max_bytes=max_bytes)) for r in requests])
            assert (t._lean_for is not None) == lean
        finally:
            await t.close()
    return out[0], out[1]


async def test_the_same_request_reaches_the_server_and_the_same_answer_comes_back(server: TestServer) -> None:
    """Headers (names, order, values, aiohttp's automatic ones), body and path arrive as the session's path
    sends them; status, headers and body come back the same, gzip decoded, chunked bodies joined, a 4xx a
    response like any other."""
    requests = [_req(server, "/echo"), _req(server, "/echo?q=1&r=%20", body=b""), _req(server, "/gzip"),
                _req(server, "/chunked"), _req(server, "/429"),
                _req(server, "/echo", headers={"Accept": "text/event-stream", "X-Custom": "ü".encode().decode("latin-1")})]
    lean, session = await _both(requests)
    assert lean == session
    echoed = json.loads(lean[0][3])
    names = [k for k, _ in echoed["headers"]]
    assert names[:2] == ["Host", "Content-Type"] and "User-Agent" not in names and echoed["body"] == '{"x": 1}'


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=3000), extra=st.dictionaries(
    st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True), st.from_regex(r"[ -~]{0,40}", fullmatch=True), max_size=4))
async def test_any_body_and_headers_arrive_as_the_session_sends_them(server: TestServer, body: bytes,
                                                                      extra: dict[str, str]) -> None:
    lean, session = await _both([_req(server, "/echo", body=body, headers=extra)])
    assert lean == session


async def test_the_pool_keeps_one_connection_for_sequential_posts(server: TestServer) -> None:
    t = AiohttpTransport()
    try:
        for _ in range(20):
            assert (await t.send(_req(server, "/echo"), timeouts=T, max_bytes=1 << 20)).unwrap().status == 200
        assert t._lean_for is not None
        connector = t._session.connector if t._session else None
        assert connector is not None and sum(len(v) for v in connector._conns.values()) == 1
    finally:
        await t.close()


async def test_cookies_a_server_sets_are_sent_back(server: TestServer) -> None:
    """As the session's own path does (a gateway's affinity cookie, say)."""
    for lean in (False, True):
        t = AiohttpTransport(lean=lean)
        try:
            # a host name: aiohttp's cookie jar keeps no cookie of a bare IP address, on either path
            cookie, echo = (HttpRequest("POST", f"http://localhost:{server.port}{path}", Headers({}), b"{}")
                            for path in ("/cookie", "/echo"))
            assert (await t.send(cookie, timeouts=T, max_bytes=1 << 20)).unwrap().status == 200
            echoed = (await t.send(echo, timeouts=T, max_bytes=1 << 20)).unwrap()
            assert json.loads(echoed.body)["cookies"] == {"affinity": "node-7"}, lean
        finally:
            await t.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("path", ["refused", "close", "ftp://127.0.0.1:1/x", "http:///x", "relative/x",
                                  "http://127.0.0.1:99999/x", "http://[::1/x"])
async def test_failures_are_the_same_errors(server: TestServer, path: str) -> None:
    """A refused connection, a connection dropped before the answer, and URLs the session will not send to (a
    scheme other than http(s)/ws(s), no host, a port past 65535, unparseable): the same LlmError either way,
    never an exception."""
    url = {"refused": f"http://127.0.0.1:{_free_port()}/x", "close": str(server.make_url("/close"))}.get(path, path)
    errors: list[LlmError] = []
    for lean in (True, False):
        t = AiohttpTransport(lean=lean)
        try:
            r = await t.send(HttpRequest("POST", url, Headers({}), b"{}"), timeouts=T, max_bytes=1 << 20)
            errors.append(r.failure())
        finally:
            await t.close()
    assert errors[0].kind == errors[1].kind and errors[0].message == errors[1].message


async def test_streams_take_the_lean_path_and_read_the_same_bytes(server: TestServer) -> None:
    got = []
    for lean in (True, False):
        t = AiohttpTransport(lean=lean)
        try:
            items = [i async for i in t.stream(_req(server, "/chunked"), timeouts=T, max_bytes=1 << 20)]
        finally:
            await t.close()
        head = items[0]
        assert isinstance(head, HttpResponse)
        got.append((head.status, b"".join(i for i in items[1:] if isinstance(i, bytes))))
    assert got[0] == got[1] == (201, b'{"a": 1}')


async def test_the_session_path_is_kept_where_the_lean_one_would_drop_something(server: TestServer) -> None:
    """trust_env (proxies from the environment), aiohttp tracing (OpenTelemetry's aiohttp instrumentation
    adds a TraceConfig to every new session) and non-POST methods go through ClientSession.request."""
    t = AiohttpTransport(trust_env=True)
    try:
        assert (await t.send(_req(server, "/echo"), timeouts=T, max_bytes=1 << 20)).unwrap().status == 200
        assert t._lean_for is None
    finally:
        await t.close()
    seen: list[str] = []

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        seen.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    original = aiohttp.ClientSession.__init__

    def traced(self: aiohttp.ClientSession, *a: Any, **kw: Any) -> None:
        original(self, *a, **{**kw, "trace_configs": [trace]})

    t = AiohttpTransport()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(aiohttp.ClientSession, "__init__", traced)
        try:
            assert (await t.send(_req(server, "/echo"), timeouts=T, max_bytes=1 << 20)).unwrap().status == 200
            assert t._lean_for is None and seen == [str(server.make_url("/echo"))]
        finally:
            await t.close()
    t = AiohttpTransport()
    try:
        got = (await t.send(_req(server, "/echo", method="GET", body=b""), timeouts=T, max_bytes=1 << 20)).unwrap()
        assert json.loads(got.body)["method"] == "GET"
    finally:
        await t.close()


# -- the request head written directly (aiohttp 3.14: ``_direct_head`` / ``_write_direct``) ------------------------

_SPECIAL = ["Accept", "accept", "Accept-Encoding", "ACCEPT-ENCODING", "Content-Type", "content-type", "Cookie",
            "Connection", "Host"]


def _special_value(name: str, port: int) -> str:
    return {"accept-encoding": "identity", "cookie": "given=1", "connection": "keep-alive",
            "host": f"127.0.0.1:{port}"}.get(name.lower(), "text/plain")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(names=st.lists(st.sampled_from(_SPECIAL) | st.from_regex(r"X-[A-Za-z0-9-]{1,8}", fullmatch=True),
                      max_size=5, unique_by=str.lower),
       body=st.sampled_from([b"", b"{}", b"x" * 70_000]))
async def test_headers_aiohttp_acts_on_arrive_as_the_session_sends_them(server: TestServer, names: list[str],
                                                                         body: bytes) -> None:
    """``Accept``, ``Accept-Encoding`` and ``Content-Type`` given or not (any case), ``Cookie``, ``Connection`` and
    ``Host`` given (those take ``ClientRequest``), an empty body and one past the direct path's 64 KiB: the same
    bytes arrive either way."""
    extra = {n: _special_value(n, server.port) for n in names}
    lean, session = await _both([HttpRequest("POST", str(server.make_url("/echo")), Headers(extra), body)])
    assert lean == session


async def _sent_directly(requests: list[HttpRequest]) -> list[bool]:
    """Whether each request's head was written by the transport itself (not by ``ClientRequest``)."""
    seen: list[bool] = []
    original = tr._write_direct

    def spy(*a: Any, **kw: Any) -> aiohttp.ClientResponse:
        seen[-1] = True
        return original(*a, **kw)

    t = AiohttpTransport()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tr, "_write_direct", spy)
        try:
            for r in requests:
                seen.append(False)
                assert (await t.send(r, timeouts=T, max_bytes=1 << 20)).unwrap().status == 200
        finally:
            await t.close()
    return seen


@pytest.mark.skipif(not tr._DIRECT_AIOHTTP, reason="this aiohttp version always builds a ClientRequest")
async def test_a_plain_post_is_written_directly_and_the_rest_by_client_request(server: TestServer) -> None:
    """The common request (the dialects' headers, a small body) skips ``ClientRequest``; a header aiohttp acts
    on, credentials in the URL or a body past 64 KiB keep it (and arrive as the session sends them, above)."""
    plain = _req(server, "/echo")
    with_host = _req(server, "/echo", headers={"Host": f"127.0.0.1:{server.port}"})
    userinfo = HttpRequest("POST", str(server.make_url("/echo")).replace("http://", "http://u:p@"),
                           Headers({"Content-Type": "application/json"}), b"{}")
    large = _req(server, "/echo", body=b"x" * 70_000)
    assert await _sent_directly([plain, with_host, userinfo, large, plain]) == [True, False, False, False, True]


async def test_credentials_in_the_url_arrive_as_the_session_sends_them(server: TestServer) -> None:
    url = str(server.make_url("/echo")).replace("http://", "http://user:p%40ss@")
    lean, session = await _both([HttpRequest("POST", url, Headers({"Content-Type": "application/json"}), b"{}")])
    assert lean == session and "Authorization" in lean[0][3].decode()


async def test_a_jar_cookie_and_a_given_cookie_merge_as_the_session_merges_them(server: TestServer) -> None:
    out = []
    for lean in (True, False):
        t = AiohttpTransport(lean=lean)
        try:
            base = f"http://localhost:{server.port}"
            await t.send(HttpRequest("POST", base + "/cookie", Headers({}), b"{}"), timeouts=T, max_bytes=1 << 20)
            echoed = []
            for h in ({}, {"Cookie": "given=1"}):
                r = await t.send(HttpRequest("POST", base + "/echo", Headers(h), b"{}"), timeouts=T, max_bytes=1 << 20)
                echoed.append(json.loads(r.unwrap().body)["headers"])
            out.append(echoed)
        finally:
            await t.close()
    assert out[0] == out[1]
    assert ["Cookie", "affinity=node-7"] in out[0][0] and ["Cookie", "affinity=node-7; given=1"] in out[0][1]


@pytest.mark.parametrize("answer", [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                                    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", b""])
async def test_a_malformed_answer_is_the_same_error_either_way(answer: bytes) -> None:
    """A server that answers with something that is not HTTP, a body cut short of its length, a header past
    aiohttp's line limit, or nothing at all: the same LlmError on either path (the direct path's responses
    carry no request headers in their error details, only the URL and method)."""

    async def handle(reader: Any, writer: Any) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    errors: list[LlmError] = []
    try:
        for lean in (True, False):
            t = AiohttpTransport(lean=lean)
            try:
                r = await t.send(HttpRequest("POST", f"http://127.0.0.1:{port}/x", Headers({"Authorization": "Bearer sk-x"}),
                                             b"{}"), timeouts=T, max_bytes=1 << 20)
                errors.append(r.failure())
            finally:
                await t.close()
    finally:
        server.close()
        await server.wait_closed()
    assert (errors[0].kind, errors[0].message) == (errors[1].kind, errors[1].message)
    assert "sk-x" not in errors[0].message
