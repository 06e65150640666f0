"""The provider-generic entry points. External conformance checks call exactly these.

>>> from .schema import ChatRequest, Message
>>> req = ChatRequest(model="gpt-4o-mini", messages=(Message.user("hi"),))
>>> encode_request("openai", req, api_key="sk-x").unwrap().url
'https://api.openai.com/v1/chat/completions'
>>> body = b'{"id":"c1","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]}'
>>> decode_response("openai", 200, body).unwrap().text
'Hello'
>>> decode_stream("openai", [b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"He"}}]}\\n\\n',
...                          b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]}\\n\\ndata: [DONE]\\n\\n']).unwrap().text
'Hello'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from returns.result import Failure, Result, Success

from .catalog import default_catalog
from .dialect import ProviderConfig, invalid_request
from .errors import ErrorKind, LlmError
from .fold import StreamFold
from .http import Headers, HttpRequest, HttpResponse
from .models import parse_model
from .prepare import fill_max_tokens
from .registry import get_dialect, get_spec
from .schema import ChatChunk, ChatRequest, ChatResponse
from .secret import Secret
from .sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["decode_response", "decode_stream", "encode_request", "iter_stream"]


def encode_request(
    provider: str,
    request: ChatRequest | Mapping[str, Any],
    *,
    api_key: str | Secret | None = None,
    base_url: str | None = None,
    stream: bool = False,
    now: float | None = None,
    config: ProviderConfig | None = None,
) -> Result[HttpRequest, LlmError]:
    """Describe the HTTP request that asks ``provider`` for ``request`` (nothing is sent)."""
    dialect = get_dialect(provider)
    if type(dialect) is Failure:
        return dialect
    d = dialect.unwrap()
    if not isinstance(request, ChatRequest):
        try:
            request = msgspec.convert(request, ChatRequest)
        except msgspec.ValidationError as e:
            return invalid_request(d.name, f"not a valid ChatRequest: {e}")
    spec = get_spec(provider)
    if spec is not None and spec.requires_max_tokens:
        # As the client does (core/prepare.py): the output limit from the bundled catalog.
        ref = parse_model(request.model).value_or(None)
        model = ref.model if ref is not None else request.model
        request = fill_max_tokens(request, spec, default_catalog().lookup(spec.name, model))
    cfg = config or ProviderConfig()
    if api_key is not None:
        cfg = msgspec.structs.replace(cfg, api_key=api_key if isinstance(api_key, Secret) else Secret(api_key))
    if base_url is not None:
        cfg = msgspec.structs.replace(cfg, base_url=base_url)
    return d.encode_request(request, cfg, stream=stream, now=now)


def decode_response(
    provider: str,
    status: int,
    body: bytes | str,
    headers: Mapping[str, str] | None = None,
) -> Result[ChatResponse, LlmError]:
    """Turn a provider's non-streamed reply (any status) into a response or a typed error."""
    dialect = get_dialect(provider)
    if type(dialect) is Failure:
        return dialect
    raw = body if type(body) is bytes else _as_bytes(body)
    if raw is None:
        return Failure(_not_bytes(provider, body))
    hdrs = _NO_HEADERS if not headers else headers if type(headers) is Headers else Headers(headers)
    return dialect.unwrap().decode_response(HttpResponse(status, hdrs, raw))


_NO_HEADERS = Headers()


def _as_bytes(body: object) -> bytes | None:
    """Bytes for any body shape a caller may pass: bytes-like as is, ``str`` as UTF-8 (a lone
    surrogate, which UTF-8 cannot carry, becomes U+FFFD instead of raising), else ``None``."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8", "replace")
    return None


def _not_bytes(provider: str, body: object) -> LlmError:
    return LlmError(kind=ErrorKind.INVALID_REQUEST, provider=provider,
                    message=f"a body must be bytes or str, not {type(body).__name__}")


def iter_stream(
    provider: str, pieces: Iterable[bytes], *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> Iterable[ChatChunk | LlmError]:
    """The chunks of a streamed body fed in ``pieces``; an :class:`LlmError` item ends it (an event
    longer than ``max_event_bytes`` too)."""
    d = get_dialect(provider)
    if type(d) is Failure:
        yield d.failure()
        return
    dialect = d.unwrap()
    # (the default asks nothing new of a dialect registered before the limit was a parameter)
    st = dialect.stream_start() if max_event_bytes == DEFAULT_MAX_EVENT_BYTES else dialect.stream_start(max_event_bytes)
    # a whole body is one piece, not an iterable of byte values
    whole = isinstance(pieces, bytes | bytearray | memoryview | str)
    for piece in (pieces,) if whole else pieces:
        data = _as_bytes(piece)
        if data is None:
            yield _not_bytes(dialect.name, piece)
            return
        st, events = dialect.stream_feed(st, data)
        for e in events:
            yield e
            if isinstance(e, LlmError):
                return
    tail = dialect.stream_finish(st)
    if type(tail) is Failure:
        yield tail.failure()
        return
    yield from tail.unwrap()


def decode_stream(
    provider: str, pieces: Iterable[bytes], *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> Result[ChatResponse, LlmError]:
    """Fold a streamed body, split into arbitrary byte slices, into the non-streamed response."""
    fold = StreamFold()
    name = provider
    d = get_dialect(provider)
    if type(d) is Success:
        name = d.unwrap().name
    for item in iter_stream(provider, pieces, max_event_bytes=max_event_bytes):
        if isinstance(item, LlmError):
            return Failure(item)
        fold.add(item)
    return Success(fold.response(name))
