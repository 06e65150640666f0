"""Python function calls (and, under callgrind, CPU instructions) per request and per stream chunk,
interlingua's ``Client`` against the hand-written floor of :mod:`benchmarks._clients`, with NO sockets.

Wall-clock CPU on a shared VM moves by ±15 % between runs; the number of Python-level calls a path
makes does not move at all, and the number of instructions it retires barely does, so these are the
measures to optimise against while the machine is loaded. Both sides read the same canned bytes:

* interlingua: ``Client(transport=<canned>)`` — the transport hands out the head, then one SSE
  event per read (as aiohttp's ``iter_any`` does for a server that flushes per event);
* the floor: the very ``once()``/``stream()`` coroutines of ``_clients.FLOORS`` over a canned
  ``session`` whose ``post()`` yields the same bytes.

**Per chunk** is the marginal cost: (calls for a stream of ``N2`` deltas - calls for ``N1`` deltas)
÷ (``N2`` - ``N1``), so the per-request fixed cost cancels out. **Per request** is the calls of one
``chat`` (after a warm-up call, so caches and lazy imports are not counted).

``python -m benchmarks.callcount`` prints the call-count table. ``python -m benchmarks.callcount
--only interlingua|floor PROVIDER stream|chat N REPEAT`` runs one bounded loop and nothing else:
run it under ``valgrind --tool=callgrind`` twice (two ``N`` or two ``REPEAT``) and subtract the
``Ir`` totals for instructions per chunk or per request (``--callgrind`` does exactly that).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from ._clients import FLOORS, Scenario

PROVIDERS = ("openai", "anthropic", "gemini", "ollama", "bedrock", "openai_responses")
WORD = "lorem "
MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest", "gemini": "gemini-2.0-flash",
         "ollama": "llama3.2", "bedrock": "anthropic.claude-3-5-haiku-20241022-v1:0", "openai_responses": "gpt-4o-mini"}


def _openai_events(n: int) -> list[bytes]:
    """What the Chat Completions API streams with ``include_usage`` (role, n deltas, finish, usage, [DONE])."""
    head = b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":['
    out = [b"data: " + head + b'{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n']
    for _ in range(n):
        out.append(b"data: " + head + b'{"index":0,"delta":{"content":"' + WORD.encode() + b'"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n')
    out.append(b"data: " + head + b'{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n')
    out.append(b"data: " + head + b'],"usage":{"prompt_tokens":9,"completion_tokens":' + str(n).encode()
               + b',"total_tokens":' + str(n + 9).encode() + b',"prompt_tokens_details":{"cached_tokens":0},'
               b'"completion_tokens_details":{"reasoning_tokens":0}}}\n\n')
    out.append(b"data: [DONE]\n\n")
    return out


def _anthropic_events(n: int) -> list[bytes]:
    """What the Messages API streams (https://docs.anthropic.com/en/api/messages-streaming)."""
    def ev(name: str, data: str) -> bytes:
        return f"event: {name}\ndata: {data}\n\n".encode()

    out = [ev("message_start", '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
              '"model":"claude-3-5-haiku-latest","content":[],"stop_reason":null,"stop_sequence":null,'
              '"usage":{"input_tokens":9,"output_tokens":1}}}'),
           ev("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
           ev("ping", '{"type": "ping"}')]
    for _ in range(n):
        out.append(ev("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
                      + WORD + '"}}'))
    out += [ev("content_block_stop", '{"type":"content_block_stop","index":0}'),
            ev("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
               '"usage":{"output_tokens":' + str(n) + "}}"),
            ev("message_stop", '{"type":"message_stop"}')]
    return out


def _gemini_events(n: int) -> list[bytes]:
    """``streamGenerateContent?alt=sse``: one GenerateContentResponse per event, finishReason on the last."""
    def ev(part: str, tail: str = "") -> bytes:
        return (b'data: {"candidates":[{"content":{"parts":[{"text":"' + part.encode() + b'"}],"role":"model"}'
                + tail.encode() + b',"index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":'
                + str(n).encode() + b',"totalTokenCount":' + str(n + 9).encode()
                + b'},"modelVersion":"gemini-2.0-flash","responseId":"r1"}\r\n\r\n')

    return [ev(WORD) for _ in range(n)] + [ev("", ',"finishReason":"STOP"')]


def _ollama_events(n: int) -> list[bytes]:
    """``POST /api/chat`` with ``stream: true``: NDJSON lines, the last with ``done: true`` and the counts."""
    line = b'{"model":"llama3.2","created_at":"2025-01-01T00:00:00.123456789Z","message":{"role":"assistant","content":"'
    out = [line + WORD.encode() + b'"},"done":false}\n' for _ in range(n)]
    out.append(line + b'"},"done_reason":"stop","done":true,"total_duration":1000,"load_duration":10,'
               b'"prompt_eval_count":9,"prompt_eval_duration":100,"eval_count":' + str(n).encode()
               + b',"eval_duration":800}\n')
    return out


def _eventstream_frame(event_type: str, payload: bytes) -> bytes:
    """One AWS event-stream message (string headers, both CRC32s), as ConverseStream sends it."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    hb = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode() for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(hb) + len(payload) + 4, len(hb))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + hb + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _bedrock_events(n: int) -> list[bytes]:
    """ConverseStream: messageStart, n contentBlockDelta, contentBlockStop, messageStop, metadata (one frame per read;
    the service pads each payload with a ``p`` field)."""
    out = [_eventstream_frame("messageStart", b'{"role":"assistant","p":"abcdefgh"}')]
    out += [_eventstream_frame("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"' + WORD.encode()
                               + b'"},"p":"abcdefghijklmnopq"}') for _ in range(n)]
    out.append(_eventstream_frame("contentBlockStop", b'{"contentBlockIndex":0,"p":"abcd"}'))
    out.append(_eventstream_frame("messageStop", b'{"stopReason":"end_turn","p":"abcdefghij"}'))
    out.append(_eventstream_frame("metadata", b'{"usage":{"inputTokens":9,"outputTokens":' + str(n).encode()
                                  + b',"totalTokens":' + str(n + 9).encode() + b'},"metrics":{"latencyMs":12},"p":"ab"}'))
    return out


def _responses_events(n: int) -> list[bytes]:
    """The Responses API's stream of one text message (https://platform.openai.com/docs/api-reference/responses-streaming)."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    def response(status: str, output: list[Any], usage: Any) -> dict[str, Any]:
        return {"id": "resp_1", "object": "response", "created_at": 1, "status": status, "error": None,
                "incomplete_details": None, "model": "gpt-4o-mini", "output": output, "usage": usage}

    def item(status: str, content: list[Any]) -> dict[str, Any]:
        return {"id": "msg_1", "type": "message", "status": status, "role": "assistant", "content": content}

    part = {"type": "output_text", "annotations": [], "text": WORD * n}
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    emit("response.created", response=response("in_progress", [], None))
    emit("response.in_progress", response=response("in_progress", [], None))
    emit("response.output_item.added", output_index=0, item=item("in_progress", []))
    emit("response.content_part.added", **at, part={**part, "text": ""})
    for _ in range(n):
        emit("response.output_text.delta", **at, delta=WORD, logprobs=[])
    emit("response.output_text.done", **at, text=part["text"], logprobs=[])
    emit("response.content_part.done", **at, part=part)
    emit("response.output_item.done", output_index=0, item=item("completed", [part]))
    emit("response.completed", response=response("completed", [item("completed", [part])],
                                                  {"input_tokens": 9, "output_tokens": n, "total_tokens": n + 9}))
    return [b"event: " + e["type"].encode() + b"\ndata: " + msgspec.json.encode(e) + b"\n\n" for e in events]


BODY = {
    "openai": b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,'
              b'"message":{"role":"assistant","content":"Fake reply: lorem ipsum","refusal":null},"logprobs":null,'
              b'"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14},'
              b'"system_fingerprint":"fp_1"}',
    "anthropic": b'{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-latest",'
                 b'"content":[{"type":"text","text":"Fake reply: lorem ipsum"}],"stop_reason":"end_turn",'
                 b'"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":5}}',
    "gemini": b'{"candidates":[{"content":{"parts":[{"text":"Fake reply: lorem ipsum"}],"role":"model"},'
              b'"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,'
              b'"totalTokenCount":14},"modelVersion":"gemini-2.0-flash","responseId":"r1"}',
    "ollama": b'{"model":"llama3.2","created_at":"2025-01-01T00:00:00.123456789Z","message":{"role":"assistant",'
              b'"content":"Fake reply: lorem ipsum"},"done_reason":"stop","done":true,"total_duration":1000,'
              b'"load_duration":10,"prompt_eval_count":9,"prompt_eval_duration":100,"eval_count":5,"eval_duration":800}',
    "bedrock": b'{"output":{"message":{"role":"assistant","content":[{"text":"Fake reply: lorem ipsum"}]}},'
               b'"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":5,"totalTokens":14},"metrics":{"latencyMs":12}}',
    "openai_responses": b'{"id":"resp_1","object":"response","created_at":1,"status":"completed","error":null,'
                        b'"incomplete_details":null,"model":"gpt-4o-mini","output":[{"id":"msg_1","type":"message",'
                        b'"status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],'
                        b'"text":"Fake reply: lorem ipsum"}]}],"usage":{"input_tokens":9,"output_tokens":5,"total_tokens":14}}',
}
EVENTS = {"openai": _openai_events, "anthropic": _anthropic_events, "gemini": _gemini_events, "ollama": _ollama_events,
          "bedrock": _bedrock_events, "openai_responses": _responses_events}
HEADERS = (("content-type", "application/json"),)


# -- canned I/O on both sides ----------------------------------------------------------------------


class _Canned:
    """What the next exchange answers: a whole body, or a list of stream reads."""

    body: bytes = b""
    pieces: list[bytes] = []


class _CannedTransport:
    def __init__(self, canned: type[_Canned]) -> None:
        from returns.result import Success

        from interlingua.core import Headers, HttpResponse

        self.canned = canned
        self.ok, self.head, self.headers = Success, HttpResponse, Headers(HEADERS)

    async def send(self, request: Any, *, timeouts: Any, max_bytes: int) -> Any:
        return self.ok(self.head(200, self.headers, self.canned.body))

    async def stream(self, request: Any, *, timeouts: Any, max_bytes: int) -> AsyncIterator[Any]:
        yield self.head(200, self.headers, b"")
        for p in self.canned.pieces:
            yield p

    async def close(self) -> None:
        return None


class _Content:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def iter_any(self) -> AsyncIterator[bytes]:
        for p in self.pieces:
            yield p


class _Response:
    status = 200

    def __init__(self, canned: type[_Canned]) -> None:
        self.canned = canned
        self.content = _Content(canned.pieces)

    async def read(self) -> bytes:
        return self.canned.body

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Session:
    def __init__(self, canned: type[_Canned]) -> None:
        self.canned = canned

    def post(self, url: str, *, data: bytes, headers: dict[str, str] | None = None) -> _Response:
        return _Response(self.canned)


def _scenario(provider: str) -> Scenario:
    return Scenario(provider=provider, model=MODEL[provider], prompt="Say hi to the benchmark", url="http://127.0.0.1:9/v1",
                    root="http://127.0.0.1:9", api_key="sk-bench")


def _runner(who: str, provider: str) -> tuple[Any, Any]:
    """(once, stream) coroutine functions of one side over the canned I/O."""
    s = _scenario(provider)
    if who == "floor":
        b = FLOORS[provider](s, _Session(_Canned))
        return b.once, b.stream
    from interlingua.core import ChatRequest, Message
    from interlingua.effects import Client, LlmConfig, Success

    base = s.url if provider in ("openai", "openai_responses") else s.root
    cfg = LlmConfig().with_provider(provider, base_url=base, api_key=s.api_key)
    client = Client(cfg, transport=_CannedTransport(_Canned))  # type: ignore[arg-type]
    req = ChatRequest(model=f"{provider}:{s.model}", messages=(Message.user(s.prompt),))

    async def once() -> int:
        r = await client.chat(req)
        assert type(r) is Success, r
        return 1

    async def stream() -> int:
        n = 0
        async for item in client.stream(req):
            assert type(item) is Success, item
            n += 1
        return n

    return once, stream


async def _calls(fn: Any, repeat: int) -> int:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeat):
        await fn()
    prof.disable()
    return int(pstats.Stats(prof).total_calls) // repeat  # type: ignore[attr-defined]


N1, N2, REPEAT = 10, 50, 5


async def _table() -> list[tuple[str, str, int, float]]:
    rows = []
    for provider in PROVIDERS:
        for who in ("floor", "interlingua"):
            once, stream = _runner(who, provider)
            _Canned.body = BODY[provider]
            await once()  # warm: lazy imports, caches
            per_request = await _calls(once, REPEAT)
            _Canned.pieces = EVENTS[provider](N1)
            await stream()
            low = await _calls(stream, REPEAT)
            _Canned.pieces = EVENTS[provider](N2)
            high = await _calls(stream, REPEAT)
            rows.append((provider, who, per_request, (high - low) / (N2 - N1)))
    return rows


def _only(who: str, provider: str, kind: str, n: int, repeat: int) -> None:
    once, stream = _runner(who, provider)
    _Canned.body, _Canned.pieces = BODY[provider], EVENTS[provider](n)
    fn = once if kind == "chat" else stream

    async def go() -> None:
        await fn()  # warm
        for _ in range(repeat):
            await fn()

    asyncio.run(go())


def _ir(args: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
                        "benchmarks.callcount", "--only", *args], check=True, capture_output=True, timeout=900)
        with open(out) as f:
            m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    assert m is not None
    return int(m.group(1))


def _callgrind(providers: tuple[str, ...]) -> None:
    """Instructions per chunk (N1 vs N2 deltas, 20 streams) and per request (20 vs 120 chats)."""
    print(f"{'provider':<17} {'client':<12} {'Ir/request':>11} {'Ir/chunk':>9}")
    for provider in providers:
        for who in ("floor", "interlingua"):
            req = (_ir([who, provider, "chat", "0", "120"]) - _ir([who, provider, "chat", "0", "20"])) / 100
            chunk = (_ir([who, provider, "stream", str(N2), "20"]) - _ir([who, provider, "stream", str(N1), "20"])) / (20 * (N2 - N1))
            print(f"{provider:<17} {who:<12} {req:>11,.0f} {chunk:>9,.0f}", flush=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--only"]:
        who, provider, kind, n, repeat = argv[1:6]
        _only(who, provider, kind, int(n), int(repeat))
        return 0
    if argv[:1] == ["--callgrind"]:
        _callgrind(tuple(argv[1:]) or PROVIDERS)
        return 0
    rows = asyncio.run(_table())
    print(f"{'provider':<17} {'client':<12} {'calls/request':>14} {'calls/chunk':>12}")
    floor: dict[str, tuple[int, float]] = {}
    for provider, who, req, chunk in rows:
        if who == "floor":
            floor[provider] = (req, chunk)
            print(f"{provider:<17} {who:<12} {req:>14,} {chunk:>12.1f}")
        else:
            fr, fc = floor[provider]
            print(f"{provider:<17} {who:<12} {req:>14,} {chunk:>12.1f}   ({req / fr:.2f}x, {chunk / fc:.2f}x the floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
