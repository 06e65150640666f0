"""The client: encode (pure) → send (aiohttp) → decode (pure), returning ``Result`` values.

>>> async def main():                                                    # doctest: +SKIP
...     async with Client() as client:
...         match await client.chat("openai:gpt-4o-mini", "Say hi"):
...             case Success(resp):
...                 print(resp.text)
...             case Failure(err):
...                 print(err.kind, err.message)
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from returns.result import Failure, Result, Success

from interlingua.core import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Dialect,
    ErrorKind,
    HttpResponse,
    LlmError,
    Message,
    ModelRef,
    ProviderConfig,
    get_dialect,
    parse_model,
    redact,
)
from interlingua.core.fold import Accumulator, accumulate, to_response
from interlingua.core.schema import ToolSpec  # [tokens]
from interlingua.core.tokens import TokenCount  # [tokens]

from .budget import Guard, count_tokens_remote  # [tokens]
from .config import LlmConfig
from .transport import AiohttpTransport, Timeouts, Transport

__all__ = ["Client", "Prepared"]

Messages = str | Message | Sequence[Message] | ChatRequest


class Prepared(msgspec.Struct, frozen=True):
    """A request resolved against the config: which dialect, which provider settings."""

    ref: ModelRef
    dialect: Any
    request: ChatRequest
    config: ProviderConfig


def _with_provider(err: LlmError, provider: str, cfg: ProviderConfig) -> LlmError:
    secrets = cfg.secrets()
    message = redact(err.message, *secrets) if secrets else err.message
    raw = redact(err.raw, *secrets) if secrets and err.raw else err.raw
    if err.provider == provider and message == err.message and raw == err.raw:
        return err
    return msgspec.structs.replace(err, provider=err.provider or provider, message=message, raw=raw)


class Client:
    """One pooled aiohttp session for every provider. Use ``async with`` (or ``await close()``)."""

    def __init__(self, config: LlmConfig | None = None, *, transport: Transport | None = None) -> None:
        self.config = config if config is not None else LlmConfig.from_env()
        self._transport: Transport = transport or AiohttpTransport(
            limit=self.config.pool_limit,
            limit_per_host=self.config.pool_limit_per_host,
            trust_env=self.config.trust_env,
        )
        self._guard = Guard.for_config(self.config)  # [tokens] budgets, context window, rate limits
        self._transport = self._guard.observing(self._transport)  # [tokens] rate-limit headers → limiter
        self._timeouts = Timeouts(
            total=self.config.timeout,
            connect=self.config.connect_timeout,
            first_byte=self.config.first_byte_timeout,
            idle=self.config.idle_timeout,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    def __repr__(self) -> str:
        return f"Client({self.config!r})"

    @property
    def total_cost(self) -> Decimal:  # [tokens]
        """USD spent so far by this client's calls whose model has a known price (exact decimal)."""
        return self._guard.total_cost

    async def count_tokens(self, model: str, messages: Messages, tools: Sequence[ToolSpec] = ()) -> Result[TokenCount, LlmError]:  # [tokens]
        """Prompt tokens: the provider's exact count where its dialect can ask, else the offline count."""
        prepared = self.prepare(model, messages, **({"tools": tuple(tools)} if tools else {}))
        return await count_tokens_remote(prepared, self._transport, self._timeouts, self.config.max_response_bytes)

    # -- preparing --------------------------------------------------------------------------------

    def prepare(self, model: str | ChatRequest, messages: Messages | None = None, **options: Any) -> Result[Prepared, LlmError]:
        """Resolve model string, dialect and provider config; validate options. Pure apart from ``self.config``."""
        built = build_request(model, messages, options)
        if isinstance(built, Failure):
            return built
        req = built.unwrap()
        parsed = parse_model(req.model)
        if isinstance(parsed, Failure):
            return parsed
        ref = parsed.unwrap()
        dialect = get_dialect(ref.provider)
        if isinstance(dialect, Failure):
            return dialect
        return Success(Prepared(ref, dialect.unwrap(), msgspec.structs.replace(req, model=ref.model), self.config.provider(ref.provider)))

    # -- calls ------------------------------------------------------------------------------------

    async def chat(self, model: str | ChatRequest, messages: Messages | None = None, **options: Any) -> Result[ChatResponse, LlmError]:
        """One completion. ``messages`` is a prompt string, a :class:`Message`, a list of them, or a
        :class:`ChatRequest`; ``options`` are :class:`ChatRequest` fields (``temperature=…``, ``tools=…``)."""
        prepared = self.prepare(model, messages, **options)
        if isinstance(prepared, Failure):
            return prepared
        return await self.send(prepared.unwrap())

    async def send(self, p: Prepared) -> Result[ChatResponse, LlmError]:
        return await self._guard.guarded(p, self._send)  # [tokens] admit (budget, context, rate) → send → settle

    async def _send(self, p: Prepared) -> Result[ChatResponse, LlmError]:
        d: Dialect[Any] = p.dialect
        name = p.ref.provider
        encoded = d.encode_request(p.request, p.config, stream=False, now=time.time())
        if isinstance(encoded, Failure):
            return Failure(_with_provider(encoded.failure(), name, p.config))
        sent = await self._transport.send(encoded.unwrap(), timeouts=self._timeouts, max_bytes=self.config.max_response_bytes)
        if isinstance(sent, Failure):
            return Failure(_with_provider(sent.failure(), name, p.config))
        result = d.decode_response(sent.unwrap())
        if isinstance(result, Failure):
            return Failure(_with_provider(result.failure(), name, p.config))
        return result

    def stream(self, model: str | ChatRequest, messages: Messages | None = None, **options: Any) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        """Stream a completion: ``Success(ChatChunk)`` items; a ``Failure`` item is the last one."""
        return self._guard.guarded_stream(self.prepare(model, messages, **options), self._stream)  # [tokens]

    async def _stream(self, prepared: Result[Prepared, LlmError]) -> AsyncIterator[Result[ChatChunk, LlmError]]:
        if isinstance(prepared, Failure):
            yield prepared
            return
        p = prepared.unwrap()
        d: Dialect[Any] = p.dialect
        name = p.ref.provider
        encoded = d.encode_request(p.request, p.config, stream=True, now=time.time())
        if isinstance(encoded, Failure):
            yield Failure(_with_provider(encoded.failure(), name, p.config))
            return
        items = self._transport.stream(encoded.unwrap(), timeouts=self._timeouts, max_bytes=self.config.max_response_bytes)
        state = d.stream_start()
        try:
            async for item in items:
                if isinstance(item, bytes):
                    state, events = d.stream_feed(state, item)
                    for e in events:
                        if isinstance(e, LlmError):
                            yield Failure(_with_provider(e, name, p.config))
                            return
                        yield Success(e)
                elif isinstance(item, HttpResponse):
                    if not 200 <= item.status < 300:
                        yield Failure(_with_provider(d.decode_error(item), name, p.config))
                        return
                else:
                    err = item
                    if err.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT) and state != d.stream_start():
                        err = msgspec.structs.replace(err, kind=ErrorKind.STREAMING, message=f"stream interrupted: {err.message}", retryable=False)
                    yield Failure(_with_provider(err, name, p.config))
                    return
            tail = d.stream_finish(state)
            if isinstance(tail, Failure):
                yield Failure(_with_provider(tail.failure(), name, p.config))
                return
            for c in tail.unwrap():
                yield Success(c)
        finally:
            await items.aclose()  # type: ignore[attr-defined]

    async def stream_response(self, model: str | ChatRequest, messages: Messages | None = None, **options: Any) -> Result[ChatResponse, LlmError]:
        """Stream, and fold the chunks into the response a non-stream call would return."""
        acc = Accumulator()
        provider = ""
        async for item in self.stream(model, messages, **options):
            if isinstance(item, Failure):
                return item
            acc = accumulate(acc, item.unwrap())
        parsed = parse_model(model.model if isinstance(model, ChatRequest) else model)
        provider = parsed.unwrap().provider if isinstance(parsed, Success) else provider
        return Success(to_response(acc, provider))


def build_request(model: str | ChatRequest, messages: Messages | None, options: dict[str, Any]) -> Result[ChatRequest, LlmError]:
    """A :class:`ChatRequest` from the flexible call forms; unknown or ill-typed options are a Failure."""
    if isinstance(model, ChatRequest):
        req = model
    elif isinstance(messages, ChatRequest):
        req = msgspec.structs.replace(messages, model=model)
    elif messages is None:
        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message="no messages given"))
    else:
        if isinstance(messages, str):
            msgs: tuple[Message, ...] = (Message.user(messages),)
        elif isinstance(messages, Message):
            msgs = (messages,)
        else:
            msgs = tuple(messages)
        req = ChatRequest(model=model, messages=msgs)
    if not options:
        return Success(req)
    try:
        merged = msgspec.to_builtins(req)
        merged.update(msgspec.to_builtins(options))
        return Success(msgspec.convert(merged, ChatRequest))
    except (msgspec.ValidationError, TypeError) as e:
        return Failure(LlmError(kind=ErrorKind.INVALID_REQUEST, message=f"invalid request option: {e}"))
