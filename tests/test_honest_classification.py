"""Honest classification (issue 17): a redirect is a non-retryable api error naming the target host
and does not open the circuit; an error event before any output is retried like its HTTP status;
the public decoders never raise, whatever they are given."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Success

from interlingua.core import (
    DIALECTS,
    ChatChunk,
    ErrorKind,
    HttpResponse,
    LlmError,
    decode_response,
    decode_stream,
)
from interlingua.effects import Client, LlmConfig

from .helpers import one_route

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a one-route OpenAI-shaped server on a free loopback port; yields its base URL."""
    async with contextlib.AsyncExitStack() as servers:
        async def start(handler: Handler) -> str:
            return await servers.enter_async_context(one_route("/v1/chat/completions", handler)) + "/v1"

        yield start


_OK = {"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def test_redirect_is_a_non_retryable_api_error_naming_the_host() -> None:
    """Every dialect: a 301/307/308 is kind api, not retryable, and names the Location's host."""
    for provider in ("openai", "anthropic", "gemini", "ollama", "bedrock"):
        for status in (301, 302, 307, 308):
            resp = HttpResponse(status, headers={"Location": "https://moved.example/v2/chat"}, body=b"")
            err = DIALECTS[provider].decode_error(resp)
            assert err.kind is ErrorKind.API and not err.is_retryable(), (provider, status)
            assert "moved.example" in err.message and err.status == status


async def test_redirects_are_not_followed_retried_or_counted(serve: Callable[[Handler], Awaitable[str]]) -> None:
    """Over loopback, retries and a 2-failure breaker on: each call hits the server once, none is
    followed, and three redirects do not open the circuit (the fourth call still reaches the server)."""
    hits = {"origin": 0, "target": 0}

    async def target(request: web.Request) -> web.Response:
        hits["target"] += 1
        return web.json_response(_OK)

    target_url = await serve(target)

    async def origin(request: web.Request) -> web.Response:
        hits["origin"] += 1
        return web.Response(status=307, headers={"Location": target_url + "/chat/completions"})

    base = await serve(origin)
    cfg = LlmConfig(max_retries=2, retry_delay=0.0, circuit_breaker_threshold=2).with_provider(
        "openai", base_url=base, api_key="sk-test-0000000000000000")
    async with Client(cfg) as client:
        results = [await client.chat("openai:gpt-4o-mini", "hi") for _ in range(4)]
    kinds = {r.failure().kind for r in results}
    assert kinds == {ErrorKind.API} and "127.0.0.1" in results[0].failure().message
    assert hits == {"origin": 4, "target": 0}


def _openai_error_event(kind: str = "server_error") -> bytes:
    return b"data: " + json.dumps({"error": {"message": "The server had an error", "type": kind}}).encode() + b"\n\n"


def test_first_event_error_is_classified_like_its_status() -> None:
    """OpenAI server_error / Anthropic api_error and overloaded_error as the FIRST event: the same kind
    and retryability as the HTTP status; after output they stay mid-stream streaming errors."""
    d = DIALECTS["openai"]
    _, ev = d.stream_feed(d.stream_start(), _openai_error_event())
    err = ev[0]
    assert isinstance(err, LlmError) and err.kind is ErrorKind.PROVIDER and err.status == 500 and err.is_retryable()
    a = DIALECTS["anthropic"]
    for etype, kind in (("api_error", ErrorKind.PROVIDER), ("overloaded_error", ErrorKind.OVERLOADED)):
        body = b"event: error\ndata: " + json.dumps({"type": "error", "error": {"type": etype, "message": "x"}}).encode()
        _, ev = a.stream_feed(a.stream_start(), body + b"\n\n")
        assert isinstance(ev[0], LlmError) and ev[0].kind is kind and ev[0].is_retryable(), etype
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
    st_, _ = d.stream_feed(d.stream_start(), b"data: " + json.dumps(chunk).encode() + b"\n\n")
    _, ev = d.stream_feed(st_, _openai_error_event())
    assert isinstance(ev[0], LlmError) and ev[0].kind is ErrorKind.STREAMING


async def test_stream_first_event_error_is_retried(serve: Callable[[Handler], Awaitable[str]]) -> None:
    """Over loopback: a stream whose first event is server_error is retried, and the retry's answer arrives."""
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if calls == 1:
            await resp.write(_openai_error_event())
        else:
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp

    base = await serve(handler)
    cfg = LlmConfig(max_retries=2, retry_delay=0.0).with_provider("openai", base_url=base, api_key="sk-test-000000000")
    async with Client(cfg) as client:
        items = [c async for c in client.stream("openai:gpt-4o-mini", "hi")]
    texts = [c.unwrap().text for c in items if isinstance(c, Success) and isinstance(c.unwrap(), ChatChunk)]
    assert calls == 2 and "".join(texts) == "ok"


bodies = st.one_of(st.binary(max_size=300), st.text(max_size=300),
                   st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=5).map(
                       lambda s: '{"choices": "' + s + '"}'))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(DIALECTS)), st.integers(100, 599), bodies)
def test_decode_response_never_raises(provider: str, status: int, body: bytes | str) -> None:
    """Any bytes or str (lone surrogates included), any status, any provider: a Result, never an exception."""
    decode_response(provider, status, body)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(DIALECTS)), st.lists(bodies, max_size=5))
def test_decode_stream_never_raises(provider: str, pieces: list[bytes | str]) -> None:
    """Any pieces, bytes or str, and a whole body passed as one bytes value: a Result, never an exception."""
    decode_stream(provider, pieces)
    decode_stream(provider, b"".join(p if isinstance(p, bytes) else p.encode("utf-8", "replace") for p in pieces))


def test_a_str_with_a_lone_surrogate_is_a_failure_not_an_exception() -> None:
    """The exact case from the issue: a str body holding a lone surrogate."""
    r = decode_response("openai", 200, '{"id": "\ud800"}')
    assert r.failure().kind in (ErrorKind.DECODE, ErrorKind.API)
    assert decode_response("openai", 200, 12345).failure().kind is ErrorKind.INVALID_REQUEST  # type: ignore[arg-type]
