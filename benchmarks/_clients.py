"""The clients under test, one factory per (client, wire format), and the worker that times them.

Run as ``python -m benchmarks._clients '<spec json>'``: a FRESH process per client per repetition,
so one client's imports, caches and garbage never tax another. It prints one JSON line with, per
cell (non-stream / stream x concurrency), the requests done, items seen, errors, the client's own
CPU time (``time.process_time``: every thread of this process) and wall time, and the fake's CPU
time over the same interval (read from ``/proc/<pid>/stat``).

Every factory returns a :class:`Bench` of two coroutine functions: ``once()`` (one non-streamed
request, returns 1) and ``stream()`` (one streamed request consumed to the end, returns the number
of items the client handed out). Any failure raises; the worker counts it as an error.
"""

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CLIENTS", "Bench", "Scenario"]


@dataclass(frozen=True)
class Scenario:
    """What a worker needs to know about the provider it talks to (all plain JSON values)."""

    provider: str
    model: str
    prompt: str
    url: str
    """The fake's base URL for this provider as its official SDK wants it (``…/v1`` for OpenAI)."""
    root: str
    """This provider's fake's root URL (``http://127.0.0.1:PORT``; each provider has its own origin)."""
    api_key: str
    """Empty for a keyless provider (Docker Model Runner): clients then send no credentials."""
    json_mode: bool = False
    max_tokens: int | None = None


@dataclass
class Bench:
    once: Callable[[], Awaitable[int]]
    stream: Callable[[], Awaitable[int]]
    close: Callable[[], Awaitable[None]]


# -- the floor: a reused aiohttp session, msgspec typed decode, a hand SSE / NDJSON split ----------


def _split_frames(buf: bytes) -> tuple[list[bytes], bytes]:
    """SSE frames end with a blank line; the floor handles LF and CRLF framing and nothing else."""
    if b"\r\n" in buf:
        buf = buf.replace(b"\r\n", b"\n")
    *frames, rest = buf.split(b"\n\n")
    return frames, rest


def _data_of(frame: bytes) -> bytes | None:
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            return line[5:].lstrip(b" ")
    return None


@dataclass(frozen=True)
class OpenAIRoute:
    """Where an OpenAI-wire provider takes Chat Completions and how it wants the key (the same
    fields core/compat.py sets on its OpenAIDialect values), so one floor serves the whole family."""

    path: str
    """Appended to ``Scenario.url``."""
    auth_header: str | None = "Authorization"
    auth_prefix: str = "Bearer "


OPENAI_ROUTES: dict[str, OpenAIRoute] = {
    "openai": OpenAIRoute("/chat/completions"),
    # xAI: https://api.x.ai/v1/chat/completions, bearer key (fakes/xai.py).
    "xai": OpenAIRoute("/chat/completions"),
    # Docker Model Runner: …/engines/v1/chat/completions, no auth at all (fakes/docker.py).
    "docker": OpenAIRoute("/chat/completions", auth_header=None),
    # Azure OpenAI's v1 API, the form interlingua uses without api_version: the URL is the resource
    # endpoint + /openai/v1/chat/completions and the key travels in ``api-key`` (fakes/azure.py).
    "azure": OpenAIRoute("/openai/v1/chat/completions", auth_header="api-key", auth_prefix=""),
}


def _floor_openai(s: Scenario, session: Any) -> Bench:
    """OpenAI Chat Completions, for every provider in :data:`OPENAI_ROUTES` (only URL and auth differ)."""
    import msgspec

    class Msg(msgspec.Struct):
        content: str | None = None

    class Choice(msgspec.Struct):
        message: Msg | None = None
        delta: Msg | None = None
        finish_reason: str | None = None

    class Usage(msgspec.Struct):
        prompt_tokens: int = 0
        completion_tokens: int = 0

    class Completion(msgspec.Struct):
        id: str = ""
        choices: list[Choice] = []
        usage: Usage | None = None

    enc, dec = msgspec.json.Encoder(), msgspec.json.Decoder(Completion)
    route = OPENAI_ROUTES[s.provider]
    url = s.url.rstrip("/") + route.path
    headers = {"Content-Type": "application/json"}
    if route.auth_header and s.api_key:
        headers[route.auth_header] = route.auth_prefix + s.api_key

    def body(stream: bool) -> bytes:
        b: dict[str, Any] = {"model": s.model, "messages": [{"role": "user", "content": s.prompt}]}
        if s.json_mode:
            b["response_format"] = {"type": "json_object"}
        if stream:
            b["stream"] = True
            b["stream_options"] = {"include_usage": True}
        return enc.encode(b)

    async def once() -> int:
        async with session.post(url, data=body(False), headers=headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:200]!r}")
            c = dec.decode(raw)
            if not c.choices or c.choices[0].message is None:
                raise RuntimeError("no choices")
            return 1

    async def stream() -> int:
        async with session.post(url, data=body(True), headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            buf, n, text = b"", 0, []
            async for piece in r.content.iter_any():
                frames, buf = _split_frames(buf + piece)
                for f in frames:
                    data = _data_of(f)
                    if data is None:
                        continue
                    if data == b"[DONE]":
                        return n
                    c = dec.decode(data)
                    n += 1
                    if c.choices and c.choices[0].delta and c.choices[0].delta.content:
                        text.append(c.choices[0].delta.content)
            raise RuntimeError("stream ended without [DONE]")

    return Bench(once, stream, _noop)


def _floor_anthropic(s: Scenario, session: Any) -> Bench:
    """Anthropic Messages as documented: https://docs.anthropic.com/en/api/messages-streaming —
    ``event: message_start`` … ``content_block_delta`` (``text_delta``) … ``message_stop``."""
    import msgspec

    class Block(msgspec.Struct):
        type: str = ""
        text: str | None = None

    class Delta(msgspec.Struct):
        type: str | None = None
        text: str | None = None
        stop_reason: str | None = None

    class Usage(msgspec.Struct):
        input_tokens: int | None = None
        output_tokens: int | None = None

    class Message(msgspec.Struct):
        id: str = ""
        content: list[Block] = []
        stop_reason: str | None = None
        usage: Usage | None = None

    class Event(msgspec.Struct):
        type: str = ""
        index: int | None = None
        delta: Delta | None = None
        usage: Usage | None = None

    enc = msgspec.json.Encoder()
    dec_msg, dec_ev = msgspec.json.Decoder(Message), msgspec.json.Decoder(Event)
    url = s.root.rstrip("/") + "/v1/messages"
    headers = {"x-api-key": s.api_key, "anthropic-version": "2023-06-01", "Content-Type": "application/json"}

    def body(stream: bool) -> bytes:
        b: dict[str, Any] = {
            "model": s.model,
            "max_tokens": s.max_tokens or 1024,
            "messages": [{"role": "user", "content": s.prompt}],
        }
        if stream:
            b["stream"] = True
        return enc.encode(b)

    async def once() -> int:
        async with session.post(url, data=body(False), headers=headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:200]!r}")
            if not dec_msg.decode(raw).content:
                raise RuntimeError("no content")
            return 1

    async def stream() -> int:
        async with session.post(url, data=body(True), headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            buf, n, text = b"", 0, []
            async for piece in r.content.iter_any():
                frames, buf = _split_frames(buf + piece)
                for f in frames:
                    data = _data_of(f)
                    if data is None:
                        continue
                    ev = dec_ev.decode(data)
                    n += 1
                    if ev.type == "content_block_delta" and ev.delta is not None and ev.delta.text:
                        text.append(ev.delta.text)
                    elif ev.type == "message_stop":
                        return n
                    elif ev.type == "error":
                        raise RuntimeError("error event")
            raise RuntimeError("stream ended without message_stop")

    return Bench(once, stream, _noop)


def _floor_gemini(s: Scenario, session: Any) -> Bench:
    """Gemini ``generateContent`` / ``streamGenerateContent?alt=sse`` (one GenerateContentResponse per event)."""
    import msgspec

    class Part(msgspec.Struct):
        text: str | None = None

    class Content(msgspec.Struct):
        parts: list[Part] = []

    class Candidate(msgspec.Struct, rename="camel"):
        content: Content | None = None
        finish_reason: str | None = None

    class Response(msgspec.Struct, rename="camel"):
        candidates: list[Candidate] = []
        usage_metadata: dict[str, Any] | None = None

    enc, dec = msgspec.json.Encoder(), msgspec.json.Decoder(Response)
    root = s.root.rstrip("/")
    base = f"{root}/v1beta/models/{s.model}"
    headers = {"x-goog-api-key": s.api_key, "Content-Type": "application/json"}
    payload = enc.encode({"contents": [{"role": "user", "parts": [{"text": s.prompt}]}]})

    async def once() -> int:
        async with session.post(base + ":generateContent", data=payload, headers=headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:200]!r}")
            if not dec.decode(raw).candidates:
                raise RuntimeError("no candidates")
            return 1

    async def stream() -> int:
        async with session.post(base + ":streamGenerateContent?alt=sse", data=payload, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            buf, n, text = b"", 0, []
            async for piece in r.content.iter_any():
                frames, buf = _split_frames(buf + piece)
                for f in frames:
                    data = _data_of(f)
                    if data is None:
                        continue
                    resp = dec.decode(data)
                    n += 1
                    for c in resp.candidates:
                        if c.content:
                            text.extend(p.text for p in c.content.parts if p.text)
            if buf.strip():
                data = _data_of(buf)
                if data is not None:
                    dec.decode(data)
                    n += 1
            return n

    return Bench(once, stream, _noop)


def _floor_ollama(s: Scenario, session: Any) -> Bench:
    """Ollama ``POST /api/chat``: one JSON object, or NDJSON lines ending with ``"done": true``."""
    import msgspec

    class Msg(msgspec.Struct):
        content: str | None = None

    class Line(msgspec.Struct):
        message: Msg | None = None
        done: bool = False

    enc, dec = msgspec.json.Encoder(), msgspec.json.Decoder(Line)
    url = s.root.rstrip("/") + "/api/chat"

    def body(stream: bool) -> bytes:
        return enc.encode({"model": s.model, "messages": [{"role": "user", "content": s.prompt}], "stream": stream})

    async def once() -> int:
        async with session.post(url, data=body(False)) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:200]!r}")
            dec.decode(raw)
            return 1

    async def stream() -> int:
        async with session.post(url, data=body(True)) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            buf, n, text = b"", 0, []
            async for piece in r.content.iter_any():
                *lines, buf = (buf + piece).split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    obj = dec.decode(line)
                    n += 1
                    if obj.message and obj.message.content:
                        text.append(obj.message.content)
                    if obj.done:
                        return n
            raise RuntimeError("stream ended without done")

    return Bench(once, stream, _noop)


def _floor_responses(s: Scenario, session: Any) -> Bench:
    """OpenAI Responses API: https://platform.openai.com/docs/api-reference/responses — ``POST
    /v1/responses``, the answer's text in ``output[].content[].text``; streamed, SSE events from
    ``response.created`` through ``response.output_text.delta`` … to ``response.completed``."""
    import msgspec

    class Part(msgspec.Struct):
        type: str = ""
        text: str | None = None

    class Item(msgspec.Struct):
        type: str = ""
        content: list[Part] = []

    class Response(msgspec.Struct):
        id: str = ""
        status: str | None = None
        output: list[Item] = []

    class Event(msgspec.Struct):
        type: str = ""
        delta: str | None = None

    enc = msgspec.json.Encoder()
    dec_resp, dec_ev = msgspec.json.Decoder(Response), msgspec.json.Decoder(Event)
    url = s.url.rstrip("/") + "/responses"
    headers = {"Authorization": "Bearer " + s.api_key, "Content-Type": "application/json"}

    def body(stream: bool) -> bytes:
        b: dict[str, Any] = {"model": s.model, "input": [{"role": "user", "content": s.prompt}], "store": False}
        if s.max_tokens:
            b["max_output_tokens"] = s.max_tokens
        if stream:
            b["stream"] = True
        return enc.encode(b)

    async def once() -> int:
        async with session.post(url, data=body(False), headers=headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:200]!r}")
            text = [p.text for item in dec_resp.decode(raw).output for p in item.content if p.text]
            if not text:
                raise RuntimeError("no output text")
            return 1

    async def stream() -> int:
        async with session.post(url, data=body(True), headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            buf, n, text = b"", 0, []
            async for piece in r.content.iter_any():
                frames, buf = _split_frames(buf + piece)
                for f in frames:
                    data = _data_of(f)
                    if data is None:
                        continue
                    ev = dec_ev.decode(data)
                    n += 1
                    if ev.type == "response.output_text.delta" and ev.delta:
                        text.append(ev.delta)
                    elif ev.type == "response.completed":
                        return n
                    elif ev.type in ("error", "response.failed", "response.incomplete"):
                        raise RuntimeError(f"{ev.type} event")
            raise RuntimeError("stream ended without response.completed")

    return Bench(once, stream, _noop)


# AWS event stream (application/vnd.amazon.eventstream), as documented in "Event stream encoding":
# [total length u32][headers length u32][prelude CRC32 u32][headers][payload][message CRC32 u32],
# big-endian; a header is [name length u8][name][type u8][value]. Value sizes by type: 0/1 bool (no
# bytes), 2 byte, 3 short, 4 int, 5 long, 8 timestamp, 9 uuid; 6 (bytes) and 7 (string) carry a u16
# length first.
_EVENTSTREAM_FIXED = (0, 0, 1, 2, 4, 8, -1, -1, 8, 16)


def _split_eventstream(buf: bytes) -> tuple[list[tuple[dict[bytes, bytes], bytes]], bytes]:
    """Complete event-stream messages in ``buf`` as (string headers, payload), and the unused rest.

    The floor is the least work a correct-on-good-input client does, so it does NOT check the
    prelude or message CRC32s (interlingua's decoder does) and keeps only string/byte headers.
    """
    out: list[tuple[dict[bytes, bytes], bytes]] = []
    pos, end = 0, len(buf)
    while end - pos >= 12:
        total = int.from_bytes(buf[pos : pos + 4], "big")
        if total < 16:
            raise RuntimeError(f"event stream: impossible message length {total}")
        if end - pos < total:
            break
        h = pos + 12
        h_end = h + int.from_bytes(buf[pos + 4 : pos + 8], "big")
        headers: dict[bytes, bytes] = {}
        while h < h_end:
            n = buf[h]
            name = buf[h + 1 : h + 1 + n]
            kind = buf[h + 1 + n]
            h += 2 + n
            if kind in (6, 7):
                size = int.from_bytes(buf[h : h + 2], "big")
                headers[name] = buf[h + 2 : h + 2 + size]
                h += 2 + size
            else:
                h += _EVENTSTREAM_FIXED[kind]
        out.append((headers, buf[h_end : pos + total - 4]))
        pos += total
    return out, buf[pos:]


def _floor_bedrock(s: Scenario, session: Any) -> Bench:
    """Bedrock Runtime Converse / ConverseStream with a Bedrock API key (``Authorization: Bearer``,
    so no SigV4). Converse: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html;
    the stream is the binary event stream of ``messageStart``, ``contentBlockDelta``,
    ``contentBlockStop``, ``messageStop``, ``metadata`` events, one JSON payload each."""
    from urllib.parse import quote

    import msgspec

    class Block(msgspec.Struct):
        text: str | None = None

    class Msg(msgspec.Struct):
        content: list[Block] = []

    class Output(msgspec.Struct):
        message: Msg | None = None

    class Usage(msgspec.Struct):
        inputTokens: int = 0
        outputTokens: int = 0

    class Converse(msgspec.Struct):
        output: Output | None = None
        stopReason: str | None = None
        usage: Usage | None = None

    class Delta(msgspec.Struct):
        text: str | None = None

    class Event(msgspec.Struct):
        contentBlockIndex: int | None = None
        delta: Delta | None = None
        stopReason: str | None = None
        usage: Usage | None = None

    enc = msgspec.json.Encoder()
    dec_msg, dec_ev = msgspec.json.Decoder(Converse), msgspec.json.Decoder(Event)
    # The model id is one URI label: botocore percent-encodes everything but unreserved characters
    # (``…-v1:0`` travels as ``…-v1%3A0``).
    base = f"{s.url.rstrip('/')}/model/{quote(s.model, safe='')}"
    headers = {"Authorization": f"Bearer {s.api_key}", "Content-Type": "application/json"}
    b: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": s.prompt}]}]}
    if s.max_tokens:
        b["inferenceConfig"] = {"maxTokens": s.max_tokens}

    async def once() -> int:
        async with session.post(base + "/converse", data=enc.encode(b), headers=headers) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {raw[:200]!r}")
            c = dec_msg.decode(raw)
            if c.output is None or c.output.message is None or not c.output.message.content:
                raise RuntimeError("no content")
            return 1

    async def stream() -> int:
        async with session.post(base + "/converse-stream", data=enc.encode(b), headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            buf, n, text, stopped = b"", 0, [], False
            async for piece in r.content.iter_any():
                messages, buf = _split_eventstream(buf + piece)
                for hs, payload in messages:
                    if hs.get(b":message-type", b"event") != b"event":
                        raise RuntimeError(f"exception event: {hs.get(b':exception-type')!r}")
                    ev = dec_ev.decode(payload)
                    n += 1
                    etype = hs.get(b":event-type")
                    if etype == b"contentBlockDelta" and ev.delta is not None and ev.delta.text:
                        text.append(ev.delta.text)
                    elif etype == b"messageStop":
                        stopped = True
            if not stopped or buf:
                raise RuntimeError("stream ended without messageStop" if not stopped else "stream cut mid-message")
            return n

    return Bench(once, stream, _noop)


FLOORS: dict[str, Callable[[Scenario, Any], Bench]] = {
    "openai": _floor_openai,
    "azure": _floor_openai,
    "xai": _floor_openai,
    "docker": _floor_openai,
    "anthropic": _floor_anthropic,
    "gemini": _floor_gemini,
    "ollama": _floor_ollama,
    "bedrock": _floor_bedrock,
    "openai_responses": _floor_responses,
}


async def _noop() -> None:
    return None


async def floor(s: Scenario) -> Bench:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    b = FLOORS[s.provider](s, session)
    return Bench(b.once, b.stream, session.close)


# -- interlingua ----------------------------------------------------------------------------------


def _interlingua_request(s: Scenario) -> Any:
    """Built once, as the floor builds its body dict once per call site (not per call)."""
    from interlingua.core import ChatRequest, Message, ResponseFormat

    return ChatRequest(
        model=f"{s.provider}:{s.model}",
        messages=(Message.user(s.prompt),),
        max_tokens=s.max_tokens,
        response_format=ResponseFormat(type="json_object") if s.json_mode else None,
    )


async def _interlingua(s: Scenario, resilience: bool) -> Bench:
    from interlingua.core.budget import Limits
    from interlingua.effects import Client, LlmConfig, Success

    # "bare": retry, circuit breaker and the budget guard's per-call work (token count, context
    # check, header-driven pacing) all off; cost accounting from the replies' usage stays.
    bare = {"retry_enabled": False, "circuit_breaker_enabled": False,
            "limits": Limits(enforce_context_window=False, adapt_to_headers=False)}
    settings: dict[str, Any] = {} if resilience else bare
    # An empty key means "keyless provider" (Docker Model Runner): configure none, as a user would.
    cfg = LlmConfig(**settings).with_provider(s.provider, base_url=s.url, api_key=s.api_key or None)
    client = Client(cfg)
    req = _interlingua_request(s)

    async def once() -> int:
        r = await client.chat(req)
        if not isinstance(r, Success):
            raise RuntimeError(f"interlingua failure: {r}")
        return 1

    async def stream() -> int:
        n, text = 0, []
        async for item in client.stream(req):
            if not isinstance(item, Success):
                raise RuntimeError(f"interlingua failure: {item}")
            text.append(item.unwrap().text)
            n += 1
        return n

    return Bench(once, stream, client.close)


async def interlingua(s: Scenario) -> Bench:
    return await _interlingua(s, True)


async def interlingua_bare(s: Scenario) -> Bench:
    return await _interlingua(s, False)


# -- official SDKs ---------------------------------------------------------------------------------


# Azure through the SDK's own Azure client: deployment-scoped URLs, which need a dated api-version.
AZURE_SDK_API_VERSION = "2024-10-21"


async def openai_sdk(s: Scenario) -> Bench:
    """``openai.AsyncOpenAI`` with its defaults (``max_retries=2``: no retry fires on the happy path);
    for Azure, ``openai.AsyncAzureOpenAI`` on the resource endpoint. xAI and Docker Model Runner
    document the plain client with their base URL; the SDK insists on a key, DMR ignores it."""
    import openai

    client: openai.AsyncOpenAI
    if s.provider == "azure":
        client = openai.AsyncAzureOpenAI(azure_endpoint=s.url, api_key=s.api_key, api_version=AZURE_SDK_API_VERSION)
    else:
        client = openai.AsyncOpenAI(base_url=s.url, api_key=s.api_key or "unused")
    msgs = [{"role": "user", "content": s.prompt}]
    if s.provider == "openai_responses":
        return _openai_sdk_responses(s, client, msgs)
    extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if s.json_mode else {}

    async def once() -> int:
        r = await client.chat.completions.create(model=s.model, messages=msgs, **extra)  # type: ignore[arg-type]
        if not r.choices:
            raise RuntimeError("no choices")
        return 1

    async def stream() -> int:
        n, text = 0, []
        st = await client.chat.completions.create(
            model=s.model, messages=msgs, stream=True, stream_options={"include_usage": True}, **extra  # type: ignore[arg-type]
        )
        async for c in st:
            n += 1
            if c.choices and c.choices[0].delta.content:
                text.append(c.choices[0].delta.content)
        return n

    return Bench(once, stream, client.close)


def _openai_sdk_responses(s: Scenario, client: Any, msgs: list[dict[str, str]]) -> Bench:
    """``client.responses.create`` (``stream=True``: the raw event iterator, no accumulation)."""
    extra: dict[str, Any] = {"max_output_tokens": s.max_tokens} if s.max_tokens else {}

    async def once() -> int:
        r = await client.responses.create(model=s.model, input=msgs, store=False, **extra)
        if not r.output_text:
            raise RuntimeError("no output text")
        return 1

    async def stream() -> int:
        n, text = 0, []
        st = await client.responses.create(model=s.model, input=msgs, store=False, stream=True, **extra)
        async for ev in st:
            n += 1
            if ev.type == "response.output_text.delta":
                text.append(ev.delta)
        return n

    return Bench(once, stream, client.close)


async def anthropic_sdk(s: Scenario) -> Bench:
    """``anthropic.AsyncAnthropic`` defaults; streams with ``create(stream=True)`` (raw events, the
    SDK's lighter path — ``messages.stream()`` also accumulates a snapshot per event)."""
    import anthropic

    client = anthropic.AsyncAnthropic(base_url=s.root, api_key=s.api_key)
    msgs = [{"role": "user", "content": s.prompt}]
    mt = s.max_tokens or 1024

    async def once() -> int:
        r = await client.messages.create(model=s.model, max_tokens=mt, messages=msgs)  # type: ignore[arg-type]
        if not r.content:
            raise RuntimeError("no content")
        return 1

    async def stream() -> int:
        n, text = 0, []
        st = await client.messages.create(model=s.model, max_tokens=mt, messages=msgs, stream=True)  # type: ignore[arg-type]
        async for ev in st:
            n += 1
            if ev.type == "content_block_delta" and getattr(ev.delta, "text", None):
                text.append(ev.delta.text)
        return n

    return Bench(once, stream, client.close)


async def gemini_sdk(s: Scenario) -> Bench:
    """``google.genai.Client(...).aio`` with the fake as ``http_options.base_url``."""
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=s.api_key, http_options=types.HttpOptions(base_url=s.root))

    async def once() -> int:
        r = await client.aio.models.generate_content(model=s.model, contents=s.prompt)
        if not r.candidates:
            raise RuntimeError("no candidates")
        return 1

    async def stream() -> int:
        n, text = 0, []
        async for c in await client.aio.models.generate_content_stream(model=s.model, contents=s.prompt):
            n += 1
            text.append(c.text or "")
        return n

    async def close() -> None:
        with contextlib.suppress(AttributeError):
            await client.aio.aclose()

    return Bench(once, stream, close)


async def ollama_sdk(s: Scenario) -> Bench:
    import ollama

    client = ollama.AsyncClient(host=s.root)
    msgs = [{"role": "user", "content": s.prompt}]

    async def once() -> int:
        await client.chat(model=s.model, messages=msgs)
        return 1

    async def stream() -> int:
        n, text = 0, []
        async for part in await client.chat(model=s.model, messages=msgs, stream=True):
            n += 1
            text.append(part.message.content or "")
        return n

    async def close() -> None:
        inner = getattr(client, "_client", None)
        if inner is not None:
            await inner.aclose()

    return Bench(once, stream, close)


# -- LiteLLM --------------------------------------------------------------------------------------

LITELLM_PREFIX: dict[str, str] = {"openai": "openai", "anthropic": "anthropic", "ollama": "ollama_chat"}


def quiet_litellm_env() -> None:
    """Before ``import litellm``: no remote model-cost map fetch, no telemetry, no update checks."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "True")


async def litellm_client(s: Scenario) -> Bench:
    quiet_litellm_env()
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    model = f"{LITELLM_PREFIX[s.provider]}/{s.model}"
    base = s.url if s.provider == "openai" else s.root
    msgs = [{"role": "user", "content": s.prompt}]
    extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if s.json_mode else {}
    if s.max_tokens:
        extra["max_tokens"] = s.max_tokens

    async def once() -> int:
        r = await litellm.acompletion(model=model, messages=msgs, api_base=base, api_key=s.api_key, **extra)
        if not r.choices:
            raise RuntimeError("no choices")
        return 1

    async def stream() -> int:
        n, text = 0, []
        st = await litellm.acompletion(
            model=model, messages=msgs, api_base=base, api_key=s.api_key, stream=True,
            stream_options={"include_usage": True}, **extra,
        )
        async for c in st:
            n += 1
            if c.choices and c.choices[0].delta.content:
                text.append(c.choices[0].delta.content)
        return n

    return Bench(once, stream, _noop)


@dataclass(frozen=True)
class ClientSpec:
    """One client under test: its factory, the providers it speaks, and what it needs installed."""

    factory: Callable[[Scenario], Awaitable[Bench]]
    providers: frozenset[str]
    requires: str | None = None
    note: str = ""


ALL = frozenset(FLOORS)
OPENAI_SDK_PROVIDERS = frozenset(OPENAI_ROUTES) | {"openai_responses"}
CLIENTS: dict[str, ClientSpec] = {
    "floor": ClientSpec(floor, ALL, note="reused aiohttp session + msgspec typed decode + hand SSE/NDJSON split"),
    "interlingua": ClientSpec(interlingua, ALL, note="interlingua.effects.Client, default LlmConfig (retry + breaker on)"),
    "interlingua-bare": ClientSpec(interlingua_bare, ALL, note="retry_enabled=False, circuit_breaker_enabled=False"),
    # The same client and config as "interlingua", its process on uvloop.run (the user's opt-in).
    "interlingua-uvloop": ClientSpec(interlingua, ALL, "uvloop", "interlingua, default LlmConfig, on uvloop.run"),
    "openai-sdk": ClientSpec(openai_sdk, OPENAI_SDK_PROVIDERS, "openai", "openai.AsyncOpenAI, default max_retries=2"),
    "anthropic-sdk": ClientSpec(anthropic_sdk, frozenset({"anthropic"}), "anthropic", "anthropic.AsyncAnthropic, messages.create(stream=True)"),
    "gemini-sdk": ClientSpec(gemini_sdk, frozenset({"gemini"}), "google.genai", "google.genai Client.aio"),
    "ollama-sdk": ClientSpec(ollama_sdk, frozenset({"ollama"}), "ollama", "ollama.AsyncClient"),
    "litellm": ClientSpec(litellm_client, frozenset(LITELLM_PREFIX), "litellm", "litellm.acompletion, telemetry and cost-map fetch off"),
}


# -- the worker -----------------------------------------------------------------------------------


def _proc_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of another process (Linux ``/proc``); ``None`` elsewhere."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _cell(call: Callable[[], Awaitable[int]], conc: int, n: int, seconds: float, warmup: int, fake_pid: int | None) -> dict[str, Any]:
    errors: list[str] = []
    # Warm-up: open the pool's connections and fill every cache, untimed.
    for _ in range(max(1, warmup // max(conc, 1))):
        results = await asyncio.gather(*(call() for _ in range(conc)), return_exceptions=True)
        errors.extend(repr(r) for r in results if isinstance(r, BaseException))
    if errors:
        return {"requests": 0, "items": 0, "errors": len(errors), "first_error": errors[0][:300]}
    left = n
    done = items = 0
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        nonlocal left, done, items
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            try:
                got = await call()  # not ``items += await call()``: that reads ``items`` before
                items += got  # the await, so concurrent lanes would overwrite each other's counts
            except Exception as e:  # a benchmark counts failures; the library never raises them
                errors.append(repr(e))
            done += 1

    fake0 = _proc_cpu(fake_pid)
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(conc)))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    fake1 = _proc_cpu(fake_pid)
    return {
        "requests": done,
        "items": items,
        "errors": len(errors),
        "first_error": errors[0][:300] if errors else None,
        "cpu": cpu,
        "wall": wall,
        "fake_cpu": None if fake0 is None or fake1 is None else fake1 - fake0,
    }


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    s = Scenario(**spec["scenario"])
    bench = await CLIENTS[spec["client"]].factory(s)
    out = []
    try:
        for c in spec["cells"]:
            call = bench.stream if c["mode"] == "stream" else bench.once
            r = await _cell(call, c["conc"], c["n"], c["seconds"], c["warmup"], spec.get("fake_pid"))
            out.append({**c, **r})
    finally:
        await bench.close()
    return {"cells": out}


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["client"] == "litellm":
        quiet_litellm_env()
    # Clients run on the stock asyncio loop, as most users run them (the fake gets uvloop); the
    # "-uvloop" rows measure the opt-in: the same client on uvloop.run.
    runner: Callable[[Any], Any] = asyncio.run
    if spec["client"].endswith("-uvloop"):
        import uvloop

        runner = uvloop.run
    result = runner(_run(spec))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
