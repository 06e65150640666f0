"""The shared machinery of the fakes: state, fault application, response writers, the server.

Each provider's fake is a module with a ``SPEC: FakeSpec`` that adds its routes to its own aiohttp
application; :func:`serve` runs one application per provider, each on its own port (one origin per
provider, as the real services are separate hosts), all sharing one :class:`FakeState`.
Handlers open with :func:`endpoint` (record, fault, auth, JSON parse).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE as _AIOHTTP_SERVER

from ._content import SCRIPTED, as_decision
from ._faults import FAULT_HEADER, Fault, parse_fault
from ._jsonenc import compact

if TYPE_CHECKING:  # hook: batch
    from ._batch import BatchBook

__all__ = [
    "DEFAULT_API_KEY",
    "NOT_JSON",
    "Call",
    "FakeServer",
    "FakeSpec",
    "FakeState",
    "RecordedRequest",
    "add_shared_route",
    "build_app",
    "endpoint",
    "serve",
]

DEFAULT_API_KEY = "test-key"
_SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "x-goog-api-key", "x-amz-security-token", "cookie"}
)
# Query parameters that carry a credential (Gemini's documented ``?key=``; Azure's ``api-key`` is
# accepted there by some gateways; SigV4 presigned URLs put the session token in the query).
_SECRET_QUERY = frozenset({"key", "api-key", "api_key", "x-amz-security-token", "x-amz-signature"})
STATE_KEY: web.AppKey[FakeState] = web.AppKey("interlingua_fake_state")


@dataclass(frozen=True)
class RecordedRequest:
    """What a fake received, with credentials masked (the log may be shown to users)."""

    provider: str
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    fault: str | None
    endpoint: str | None = None
    """The handler's name for the operation (``"chat"``, ``"models"``, …), when it gives one."""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


ErrorBody = Callable[[int, str, "Fault | None"], web.Response]
Auth = Callable[[web.Request, bytes], "web.Response | None"]
"""(request, raw body) → the provider's refusal, or ``None`` when the credentials are good."""


def _plain_404(request: web.Request) -> web.Response:
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


@dataclass(frozen=True)
class FakeSpec:
    """One provider's fake: its name, the path prefix an SDK's base URL needs, routes and error shape."""

    name: str
    base_path: str
    add_routes: Callable[[web.Application], None]
    error_response: ErrorBody
    stream_error_frame: Callable[[], bytes]
    default_status_message: Callable[[int], str] = lambda status: f"fake error {status}"
    auth: Auth | None = None
    """Checked by every :func:`endpoint` handler after faults and before the handler (``None``: no auth)."""
    not_found: Callable[[web.Request], web.Response] = _plain_404
    """The answer to a path (or method) the real service does not have, in its own shape."""
    server: str | None = None
    """The ``Server`` header the real service sends (``None``: it names none, as a Go ``net/http`` or
    AWS front end). It replaces aiohttp's own ``Python/… aiohttp/…``, which no provider sends; a
    handler's explicit ``Server`` (llama.cpp's behind Docker Model Runner) stays."""


@dataclass
class FakeState:
    api_key: str = DEFAULT_API_KEY
    requests: list[RecordedRequest] = field(default_factory=list)
    attempts: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: dict[str, collections.deque[Fault]] = field(default_factory=lambda: collections.defaultdict(collections.deque))
    scripts: dict[str, collections.deque[Any]] = field(default_factory=lambda: collections.defaultdict(collections.deque))
    batches: BatchBook = field(default_factory=lambda: _new_batch_book())  # hook: batch
    unknown_models: dict[str, set[str]] = field(default_factory=dict)
    """Model ids a test declared unknown, per provider: answered with the provider's model-not-found."""
    endpoint_faults: dict[tuple[str, str], collections.deque[Fault]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque))
    """Faults for one endpoint of a provider (its name or its path), served before provider-wide ones."""

    def fail_next(self, provider: str, fault: str | Fault, times: int = 1, *, endpoint: str | None = None) -> None:
        f = parse_fault(fault) if isinstance(fault, str) else fault
        if f is None:
            raise ValueError(f"unknown fault {fault!r}; see interlingua.fakes._faults for the grammar")
        queue = self.faults[provider] if endpoint is None else self.endpoint_faults[(provider, endpoint)]
        queue.extend([f] * times)

    def next_fault(self, provider: str, endpoint: str | None, path: str) -> Fault | None:
        """The queued fault for this request: one aimed at its endpoint or path first, then the provider's."""
        for key in (endpoint, path):
            queue = self.endpoint_faults.get((provider, key)) if key else None
            if queue:
                return queue.popleft()
        queue = self.faults.get(provider)
        return queue.popleft() if queue else None

    def script(self, provider: str, responses: Sequence[Any]) -> None:
        """Answer the next requests to ``provider`` with these, in order (see ``_content``)."""
        for r in responses:
            as_decision(r)  # validate now, not inside a request handler
        self.scripts[provider].extend(responses)

    def clear(self) -> None:
        self.requests.clear()
        self.attempts.clear()
        self.faults.clear()
        self.endpoint_faults.clear()
        self.unknown_models.clear()
        self.scripts.clear()

    def count(self, provider: str) -> int:
        return self.attempts[provider]


def _new_batch_book() -> BatchBook:  # hook: batch
    from ._batch import BatchBook

    return BatchBook()


def state_of(request: web.Request) -> FakeState:
    return request.app[STATE_KEY]


async def record(request: web.Request, provider: str, endpoint: str | None = None, *,
                 content: bool = True) -> tuple[bytes, Fault | None]:
    """Log the request, count the attempt, and return its body and the fault to apply (if any).

    ``endpoint`` names the operation (see :meth:`FakeState.fail_next`); ``content=False`` marks an
    endpoint that answers no generated content (model lists…), which leaves scripted answers queued.
    """
    st = state_of(request)
    body = await request.read()
    header = request.headers.get(FAULT_HEADER)
    fault = parse_fault(header) if header else None
    if fault is None:
        fault = st.next_fault(provider, endpoint, request.path)
    st.attempts[provider] += 1
    # A scripted answer applies to this request only: the handler runs in its own task, so the
    # context variable is private to it.
    queued = st.scripts[provider]
    SCRIPTED.set(queued.popleft() if content and queued and fault is None else None)
    st.requests.append(
        RecordedRequest(
            provider=provider,
            method=request.method,
            path=request.path,
            query={k: ("[redacted]" if k.lower() in _SECRET_QUERY else v) for k, v in request.query.items()},
            headers={k: ("[redacted]" if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()},
            body=body,
            fault=fault.name if fault else None,
            endpoint=endpoint,
        )
    )
    return body, fault


class _NotJson:
    """The body of a request whose bytes are empty or not JSON (see :attr:`Call.body`)."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = _NotJson()


@dataclass(frozen=True)
class Call:
    """One request as an :func:`endpoint` handler gets it: recorded, faults applied, auth checked."""

    request: web.Request
    raw: bytes
    fault: Fault | None
    body: Any
    """The parsed JSON body, or :data:`NOT_JSON` (each provider words that 400 its own way)."""

    @property
    def json(self) -> Any:
        """The parsed body, with ``None`` for one that is not JSON (for validators that refuse both)."""
        return None if self.body is NOT_JSON else self.body

    @property
    def spec(self) -> FakeSpec:
        return self.request.app[SPEC_KEY]


def _parse(raw: bytes) -> Any:
    if not raw:
        return NOT_JSON
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # also UnicodeDecodeError; nested past Python's recursion limit
        return NOT_JSON


def endpoint(name: str, *, auth: bool = True, content: bool = True, error_response: ErrorBody | None = None
             ) -> Callable[[Callable[[Call], Awaitable[web.StreamResponse]]], Handler]:
    """The opening every fake handler shares, once: record the request (under the app's provider and
    ``name``), apply a fault that replaces the answer, check the provider's auth, parse the JSON.

    ``auth=False`` for the endpoints a real service leaves open; ``content=False`` for endpoints
    that generate nothing (a scripted answer stays queued for the next content call);
    ``error_response`` for a route whose errors have another shape than the provider's (a status fault
    is answered in it).
    """

    def wrap(fn: Callable[[Call], Awaitable[web.StreamResponse]]) -> Handler:
        @functools.wraps(fn)
        async def handler(request: web.Request) -> web.StreamResponse:
            raw, fault, early = await open_request(request, name, request.app[SPEC_KEY].auth if auth else None,
                                                   content=content, error_response=error_response)
            if early is not None:
                return early
            return await fn(Call(request, raw, fault, _parse(raw)))

        return handler

    return wrap


async def open_request(request: web.Request, name: str, auth: Auth | None, *, content: bool = True,
                       error_response: ErrorBody | None = None) -> tuple[bytes, Fault | None, web.StreamResponse | None]:
    """:func:`endpoint`'s opening for handlers that read their own bodies (multipart uploads, raw
    JSONL): record under the app's provider and ``name``, apply a fault that replaces the answer, check
    ``auth``. Returns the body, the fault left for the handler, and an early answer (or ``None``).
    ``error_response``: a route whose errors have another shape than the provider's (a compatibility
    layer) answers a status fault in its own."""
    spec = request.app[SPEC_KEY]
    raw, fault = await record(request, spec.name, name, content=content)
    early = await apply_pre_fault(request, spec, fault, error_response)
    if early is None and auth is not None:
        early = auth(request, raw)
    return raw, fault, early


async def apply_pre_fault(request: web.Request, spec: FakeSpec, fault: Fault | None,
                          error_response: ErrorBody | None = None) -> web.StreamResponse | None:
    """Faults that happen before any normal processing; ``None`` means "carry on". A status fault is
    answered by ``error_response`` (default: the provider's ``spec.error_response``)."""
    if fault is None:
        return None
    if fault.name == "slow":
        await asyncio.sleep(fault.value if fault.value is not None else 2.0)
        return None
    if fault.name == "hang":
        await asyncio.sleep(3600)
    if fault.name == "reset":
        _abort(request)
        return web.Response(status=500)
    if fault.status is not None:
        return (error_response or spec.error_response)(fault.status, spec.default_status_message(fault.status), fault)
    return None


def _abort(request: web.Request) -> None:
    tr = request.transport
    if tr is not None:
        tr.abort()


async def send_json(request: web.Request, payload: Any, fault: Fault | None, headers: Mapping[str, str] = {},
                    *, encode: Callable[[Any], bytes] = compact) -> web.StreamResponse:
    """A JSON success, or the body-level fault that replaces it. ``encode``: the server's own JSON
    writer, where its bytes differ from ``json.dumps``' (Go's encoder: UTF-8, HTML-escaped, a newline)."""
    body = encode(payload)
    name = fault.name if fault else None
    if name == "malformed":
        return web.Response(body=body[: max(1, len(body) // 2)] + b"}}garbage", content_type="application/json", headers=headers)
    if name == "content-type":
        html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
        return web.Response(body=html, content_type="text/html", headers=headers)
    if name == "oversize":
        n = int(fault.value or 50_000_000) if fault else 0
        resp = web.StreamResponse(headers={"Content-Type": "application/json", **headers})
        resp.content_length = n
        await resp.prepare(request)
        pad = b" " * 65536
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < n:
                piece = pad[: min(len(pad), n - sent)]
                await resp.write(piece)
                sent += len(piece)
            await resp.write_eof()
        return resp
    if name in ("truncate", "cut"):
        resp = web.StreamResponse(headers={"Content-Type": "application/json", **headers})
        resp.content_length = len(body) + (100 if name == "truncate" else 0)
        await resp.prepare(request)
        await resp.write(body if name == "truncate" else body[: len(body) // 2])
        _abort(request)
        return resp
    return web.Response(body=body, content_type="application/json", headers=headers)


async def send_stream(
    request: web.Request,
    frames: Iterable[bytes],
    *,
    content_type: str,
    fault: Fault | None,
    error_frame: Callable[[], bytes],
    headers: Mapping[str, str] = {},
    cache_control: str | None = "no-cache",
) -> web.StreamResponse:
    """Write ``frames`` one by one (each its own write, as a real server flushes), with stream faults.
    ``cache_control``: the stream's ``Cache-Control`` (``None``: none, as Ollama's own handlers send)."""
    base = {"Content-Type": content_type} if cache_control is None else {"Content-Type": content_type, "Cache-Control": cache_control}
    resp = web.StreamResponse(headers={**base, **headers})
    await resp.prepare(request)
    # aiohttp frames the body in chunks for HTTP/1.1 (no Content-Length, no compression here)
    chunked = resp.headers.get("Transfer-Encoding") == "chunked" and resp.compression is False
    tr: asyncio.Transport | None = None
    name = fault.name if fault else None
    cut_at = int(fault.value if fault and fault.value is not None else 2) if name in ("cut", "cut-mid") else -1
    try:
        for i, frame in enumerate(frames):
            if i == cut_at:
                if name == "cut-mid":
                    await resp.write(frame[: max(1, len(frame) // 2)])
                _abort(request)
                return resp
            if i == 1 and name == "idle":
                await asyncio.sleep(fault.value if fault and fault.value is not None else 5.0)
            if i == 1 and name == "error-event":
                await resp.write(error_frame())
                break
            if i == 1 and name == "malformed":
                await resp.write(b"data: {not json\n\n" if content_type.startswith("text/event-stream") else b"{not json\n")
                break
            if tr is not None and frame and not tr.is_closing() and not tr.get_write_buffer_size():
                # The same bytes aiohttp's chunked writer sends for ``resp.write(frame)`` — one HTTP
                # chunk per event, one transport write — without its four Python calls per event
                # (the per-event cost of a stream was mostly aiohttp's, not ours). The first frame
                # goes through aiohttp, which sends the buffered head with it; whenever the socket
                # has a backlog (a slow reader) aiohttp writes again, so its drain still applies.
                tr.write(b"%x\r\n%b\r\n" % (len(frame), frame))
                continue
            await resp.write(frame)
            tr = request.transport if chunked else None  # fetched after each await: only then can it go
        await resp.write_eof()
    except ConnectionError:
        pass
    return resp


# -- one origin per provider ----------------------------------------------------------------------
#
# Real providers are separate hosts, and several use the very same paths (``GET /v1/models`` is
# OpenAI's, xAI's, Anthropic's and Gemini v1's; Ollama serves OpenAI's ``/v1/*`` beside its own
# ``/api/*``). So every provider's fake is its own aiohttp application on its own listening port:
# a path the real service lacks gets that service's own 404, never another provider's answer.

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SPEC_KEY: web.AppKey[FakeSpec] = web.AppKey("interlingua_fake_spec")


def add_shared_route(app: web.Application, method: str, path: str, provider: str, handler: Handler) -> None:
    """Kept for code written when all fakes shared one port: now simply ``add_route`` (one origin each)."""
    app.router.add_route(method, path, handler)


@web.middleware
async def _provider_404(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unknown path (or method) answers as the provider's own server does, not aiohttp's text page."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status not in (404, 405):
            raise
        return request.app[SPEC_KEY].not_found(request)


def _server_header(name: str | None) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook (it runs after aiohttp filled in its defaults, before the
    head is written) that puts the service's own ``Server`` in place of aiohttp's."""

    async def hook(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        if headers.get("Server") == _AIOHTTP_SERVER:
            if name is None:
                del headers["Server"]
            else:
                headers["Server"] = name

    return hook


def build_app(spec: FakeSpec | None = None, state: FakeState | None = None) -> web.Application:
    """One provider's application (default: OpenAI's), serving its real paths only."""
    if spec is None:
        spec = all_specs()[0]
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_provider_404])
    app.on_response_prepare.append(_server_header(spec.server))
    app[STATE_KEY] = state or FakeState()
    app[SPEC_KEY] = spec
    spec.add_routes(app)
    return app


def all_specs() -> list[FakeSpec]:
    from . import SPECS

    return list(SPECS)


@dataclass
class FakeServer:
    """Running fakes: one origin (host and port) per provider, one shared log of what they saw.

    ``port`` is the first provider's port (OpenAI's when every fake runs); ``ports`` maps each
    provider to its own. A provider missing from ``ports`` is taken to listen on ``port`` plus its
    position in ``specs`` (what ``serve(port=N)`` binds).
    """

    host: str
    port: int
    state: FakeState
    specs: Sequence[FakeSpec]
    ports: Mapping[str, int] = field(default_factory=dict)

    def _spec(self, provider: str) -> tuple[int, FakeSpec]:
        for i, s in enumerate(self.specs):
            if s.name == provider:
                return i, s
        raise KeyError(f"no fake for provider {provider!r}")

    def port_for(self, provider: str) -> int:
        i, _ = self._spec(provider)
        return self.ports.get(provider, self.port + i)

    def origin(self, provider: str) -> str:
        """``provider``'s root URL (scheme, host and port; no path)."""
        return f"http://{self.host}:{self.port_for(provider)}"

    @property
    def base_url(self) -> str:
        """The first provider's origin: the OpenAI fake's root when every fake runs (``url_for`` is
        what a client for any other provider needs)."""
        return self.origin(self.specs[0].name)

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def url_for(self, provider: str) -> str:
        """The base URL an SDK or client for ``provider`` should use (e.g. ``…/v1`` for OpenAI)."""
        _, spec = self._spec(provider)
        return self.origin(provider) + spec.base_path

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def fail_next(self, provider: str, fault: str | Fault, times: int = 1, *, endpoint: str | None = None) -> None:
        """The next ``times`` requests to ``provider`` (only to ``endpoint`` when given: a name such
        as ``"chat"``/``"models"`` or a path such as ``"/v1/chat/completions"``) get ``fault``."""
        self.state.fail_next(provider, fault, times, endpoint=endpoint)

    def attempts(self, provider: str) -> int:
        return self.state.count(provider)

    def models(self, provider: str, *, unknown: Iterable[str]) -> None:
        """Declare model ids ``provider``'s fake answers with its model-not-found error (every other
        well-formed id of the provider's family is accepted: see the fakes' module docstrings)."""
        self.state.unknown_models.setdefault(provider, set()).update(unknown)

    def script(self, provider: str, responses: Sequence[Any]) -> None:
        self.state.script(provider, responses)

    def requests_for(self, provider: str) -> list[RecordedRequest]:
        return [r for r in self.state.requests if r.provider == provider]

    @property
    def batches(self) -> BatchBook:  # hook: batch
        """Every batch job the fakes hold (:class:`interlingua.fakes._batch.BatchBook`)."""
        return self.state.batches

    async def advance_batches(self, steps: int = 1, *, max_requests: int | None = None) -> None:  # hook: batch
        """Move every unfinished batch job ``steps`` steps along its provider's states."""
        await self.state.batches.advance(steps, max_requests=max_requests)


@contextlib.asynccontextmanager
async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str = DEFAULT_API_KEY,
    specs: Sequence[FakeSpec] | None = None,
) -> AsyncIterator[FakeServer]:
    """Run every provider's fake, each on its own port, for the duration of the block.

    ``port=0`` gives each provider a free port; ``port=N`` binds the providers of ``specs`` (in
    order: OpenAI first) to N, N+1, …. One :class:`FakeState` serves them all, so
    ``fake.requests``, ``fail_next`` and ``script`` work across every origin.

    >>> async def main():                                   # doctest: +SKIP
    ...     async with serve() as fake:
    ...         print(fake.url_for("openai"), fake.url_for("anthropic"))
    """
    chosen = list(specs) if specs is not None else all_specs()
    if not chosen:
        raise ValueError("serve() needs at least one provider spec")
    state = FakeState(api_key=api_key)
    runners: list[web.AppRunner] = []
    ports: dict[str, int] = {}
    try:
        for i, spec in enumerate(chosen):
            runner = web.AppRunner(build_app(spec, state), handle_signals=False, shutdown_timeout=0.5,
                                   handler_cancellation=True, access_log=None)
            runners.append(runner)
            await runner.setup()
            await web.TCPSite(runner, host, port + i if port else 0).start()
            ports[spec.name] = int(runner.addresses[0][1])
        yield FakeServer(host=host, port=ports[chosen[0].name], state=state, specs=chosen, ports=ports)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@contextlib.contextmanager
def serve_in_thread(host: str = "127.0.0.1", port: int = 0, *, api_key: str = DEFAULT_API_KEY) -> Iterator[FakeServer]:
    """:func:`serve` on a background thread with its own event loop, for synchronous code and SDKs:
    the block runs while the fakes listen; leaving it stops them and joins the thread."""
    started: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        started["stop"] = stop = asyncio.Event()
        async with serve(host, port, api_key=api_key) as server:
            started["server"], started["loop"] = server, asyncio.get_running_loop()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="interlingua-fakes", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the fakes did not start within 30 s")
    try:
        yield started["server"]
    finally:
        started["loop"].call_soon_threadsafe(started["stop"].set)
        thread.join(10)


def run_forever(host: str, port: int, api_key: str = DEFAULT_API_KEY, ready: Callable[[FakeServer], Awaitable[None] | None] | None = None) -> None:
    """Blocking server for the CLI (``interlingua fakes serve``); Ctrl-C (or SIGTERM) stops it.

    The stop signals are the loop's own handlers (``add_signal_handler``, which also sets the wakeup fd):
    asyncio.run's plain ``signal.signal`` handler never wakes a loop idle in epoll when the signal lands
    on another thread (the default executor's, which ``getaddrinfo`` starts), so the server would not stop."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # nohup / a background job: stays ignored
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, not the main thread
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
        try:
            async with serve(host, port, api_key=api_key) as fake:
                if ready is not None:
                    r = ready(fake)
                    if asyncio.iscoroutine(r):
                        await r
                await stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
