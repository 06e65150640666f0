"""The shared machinery of the fakes: state, fault application, response writers, the server.

Each provider's fake is a module with a ``SPEC: FakeSpec`` that adds its routes to one aiohttp
application; all providers live on one port at their own real paths.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._content import SCRIPTED, as_decision
from ._faults import FAULT_HEADER, Fault, parse_fault

if TYPE_CHECKING:  # hook: batch
    from ._batch import BatchBook

__all__ = [
    "DEFAULT_API_KEY",
    "SHARED_PATH_OWNERS",
    "FakeServer",
    "FakeSpec",
    "FakeState",
    "RecordedRequest",
    "add_shared_route",
    "build_app",
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

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


ErrorBody = Callable[[int, str, "Fault | None"], web.Response]


@dataclass(frozen=True)
class FakeSpec:
    """One provider's fake: its name, the path prefix an SDK's base URL needs, routes and error shape."""

    name: str
    base_path: str
    add_routes: Callable[[web.Application], None]
    error_response: ErrorBody
    stream_error_frame: Callable[[], bytes]
    default_status_message: Callable[[int], str] = lambda status: f"fake error {status}"


@dataclass
class FakeState:
    api_key: str = DEFAULT_API_KEY
    requests: list[RecordedRequest] = field(default_factory=list)
    attempts: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: dict[str, collections.deque[Fault]] = field(default_factory=lambda: collections.defaultdict(collections.deque))
    scripts: dict[str, collections.deque[Any]] = field(default_factory=lambda: collections.defaultdict(collections.deque))
    batches: BatchBook = field(default_factory=lambda: _new_batch_book())  # hook: batch

    def fail_next(self, provider: str, fault: str | Fault, times: int = 1) -> None:
        f = parse_fault(fault) if isinstance(fault, str) else fault
        if f is None:
            raise ValueError(f"unknown fault {fault!r}; see interlingua.fakes._faults for the grammar")
        self.faults[provider].extend([f] * times)

    def script(self, provider: str, responses: Sequence[Any]) -> None:
        """Answer the next requests to ``provider`` with these, in order (see ``_content``)."""
        for r in responses:
            as_decision(r)  # validate now, not inside a request handler
        self.scripts[provider].extend(responses)

    def clear(self) -> None:
        self.requests.clear()
        self.attempts.clear()
        self.faults.clear()
        self.scripts.clear()

    def count(self, provider: str) -> int:
        return self.attempts[provider]


def _new_batch_book() -> BatchBook:  # hook: batch
    from ._batch import BatchBook

    return BatchBook()


def state_of(request: web.Request) -> FakeState:
    return request.app[STATE_KEY]


async def record(request: web.Request, provider: str) -> tuple[bytes, Fault | None]:
    """Log the request, count the attempt, and return its body and the fault to apply (if any)."""
    st = state_of(request)
    body = await request.read()
    header = request.headers.get(FAULT_HEADER)
    fault = parse_fault(header) if header else None
    if fault is None and st.faults[provider]:
        fault = st.faults[provider].popleft()
    st.attempts[provider] += 1
    # A scripted answer applies to this request only: the handler runs in its own task, so the
    # context variable is private to it.
    SCRIPTED.set(st.scripts[provider].popleft() if st.scripts[provider] and fault is None else None)
    st.requests.append(
        RecordedRequest(
            provider=provider,
            method=request.method,
            path=request.path,
            query={k: ("[redacted]" if k.lower() in _SECRET_QUERY else v) for k, v in request.query.items()},
            headers={k: ("[redacted]" if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()},
            body=body,
            fault=fault.name if fault else None,
        )
    )
    return body, fault


async def apply_pre_fault(request: web.Request, spec: FakeSpec, fault: Fault | None) -> web.StreamResponse | None:
    """Faults that happen before any normal processing; ``None`` means "carry on"."""
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
        return spec.error_response(fault.status, spec.default_status_message(fault.status), fault)
    return None


def _abort(request: web.Request) -> None:
    tr = request.transport
    if tr is not None:
        tr.abort()


async def send_json(request: web.Request, payload: Any, fault: Fault | None, headers: Mapping[str, str] = {}) -> web.StreamResponse:
    """A JSON success, or the body-level fault that replaces it."""
    body = json.dumps(payload, separators=(",", ":")).encode()
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
) -> web.StreamResponse:
    """Write ``frames`` one by one (each its own write, as a real server flushes), with stream faults."""
    resp = web.StreamResponse(headers={"Content-Type": content_type, "Cache-Control": "no-cache", **headers})
    await resp.prepare(request)
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
            await resp.write(frame)
        await resp.write_eof()
    except ConnectionError:
        pass
    return resp


# -- paths several providers serve ------------------------------------------------------------------
#
# All fakes share one port, and some real APIs use the very same path: ``GET /v1/models`` and
# ``GET /v1/models/{id}`` are OpenAI's and xAI's model list, Anthropic's (docs: "List Models",
# ``GET /v1/models``) and Gemini's under API version v1 (google-genai's default). A fake registers
# such a route with :func:`add_shared_route`; :func:`build_app` installs ONE aiohttp route per shared
# (method, path) that picks the provider by what only that provider's clients send, in this order.
# A provider without a row here is the fallback (OpenAI, which itself tells OpenAI from xAI by model).


def _speaks_gemini(request: web.Request) -> bool:
    # Gemini authenticates with ``x-goog-api-key`` or ``?key=`` (ai.google.dev/api#authentication).
    return "x-goog-api-key" in request.headers or "key" in request.query


def _speaks_anthropic(request: web.Request) -> bool:
    # Anthropic requires ``anthropic-version`` on every call and takes the key as ``x-api-key``.
    return "anthropic-version" in request.headers or "x-api-key" in request.headers


SHARED_PATH_OWNERS: tuple[tuple[str, Callable[[web.Request], bool]], ...] = (
    ("gemini", _speaks_gemini),
    ("anthropic", _speaks_anthropic),
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SHARED: web.AppKey[dict[tuple[str, str], dict[str, Handler]]] = web.AppKey("interlingua_fake_shared_routes")


def add_shared_route(app: web.Application, method: str, path: str, provider: str, handler: Handler) -> None:
    """Serve ``provider``'s ``handler`` on a path other providers may serve too (see above).

    ``path`` is an aiohttp template; every provider sharing it must spell it the same way.
    """
    app.setdefault(_SHARED, {}).setdefault((method.upper(), path), {})[provider] = handler


def _dispatcher(handlers: Mapping[str, Handler]) -> Handler:
    owners = [(name, claims) for name, claims in SHARED_PATH_OWNERS if name in handlers]
    fallback = next((h for name, h in handlers.items() if name not in dict(SHARED_PATH_OWNERS)), None)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        for name, claims in owners:
            if claims(request):
                return await handlers[name](request)
        if fallback is not None:
            return await fallback(request)
        raise web.HTTPNotFound()

    return dispatch


def build_app(specs: Sequence[FakeSpec] | None = None, state: FakeState | None = None) -> web.Application:
    """One application serving every provider's fake at its real paths."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state or FakeState()
    for spec in specs if specs is not None else all_specs():
        spec.add_routes(app)
    for (method, path), handlers in app.get(_SHARED, {}).items():
        app.router.add_route(method, path, _dispatcher(handlers))
    return app


def all_specs() -> list[FakeSpec]:
    from . import SPECS

    return list(SPECS)


@dataclass
class FakeServer:
    """A running fake: where it listens and what it saw."""

    host: str
    port: int
    state: FakeState
    specs: Sequence[FakeSpec]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def url_for(self, provider: str) -> str:
        """The base URL an SDK or client for ``provider`` should use (e.g. ``…/v1`` for OpenAI)."""
        for s in self.specs:
            if s.name == provider:
                return self.base_url + s.base_path
        raise KeyError(f"no fake for provider {provider!r}")

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def fail_next(self, provider: str, fault: str | Fault, times: int = 1) -> None:
        self.state.fail_next(provider, fault, times)

    def attempts(self, provider: str) -> int:
        return self.state.count(provider)

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
    """Run every provider's fake on one port (``0`` picks a free one) for the duration of the block.

    >>> async def main():                                   # doctest: +SKIP
    ...     async with serve() as fake:
    ...         print(fake.url_for("openai"))
    """
    chosen = list(specs) if specs is not None else all_specs()
    state = FakeState(api_key=api_key)
    runner = web.AppRunner(build_app(chosen, state), handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    try:
        yield FakeServer(host=host, port=int(bound[1]), state=state, specs=chosen)
    finally:
        await runner.cleanup()


def run_forever(host: str, port: int, api_key: str = DEFAULT_API_KEY, ready: Callable[[FakeServer], Awaitable[None] | None] | None = None) -> None:
    """Blocking server for the CLI (``interlingua fakes serve``); Ctrl-C stops it."""

    async def main() -> None:
        async with serve(host, port, api_key=api_key) as fake:
            if ready is not None:
                r = ready(fake)
                if asyncio.iscoroutine(r):
                    await r
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
