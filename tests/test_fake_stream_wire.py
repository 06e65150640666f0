"""The fakes' stream bytes on the wire: one HTTP chunk per event, whatever path wrote it."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlsplit

from interlingua.fakes import FakeServer


async def _raw_exchange(url: str, path: str, body: dict[str, object], headers: dict[str, str], version: str) -> bytes:
    """Send one request over a bare socket and return every byte of the answer (the server closes)."""
    u = urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    data = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Host": u.netloc, "Content-Type": "application/json",
                                                 "Content-Length": str(len(data)), "Connection": "close"}.items())
    writer.write(f"POST {path} HTTP/{version}\r\n{head}\r\n".encode() + data)
    raw = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    return raw


def _chunks(body: bytes) -> list[bytes]:
    out = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        n = int(size_line, 16)
        if n == 0:
            assert body == b"\r\n"
            return out
        out.append(body[:n])
        assert body[n : n + 2] == b"\r\n"
        body = body[n + 2 :]


_REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two three four five six"}],
            "stream": True, "stream_options": {"include_usage": True}}


async def test_openai_stream_sends_each_event_as_its_own_http_chunk(fake: FakeServer) -> None:
    """Every SSE event is exactly one HTTP/1.1 chunk, the head arrives once, and the body ends with [DONE]."""
    raw = await _raw_exchange(fake.origin("openai"), "/v1/chat/completions", _REQUEST,
                              {"Authorization": f"Bearer {fake.api_key}"}, "1.1")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding: chunked" in head
    chunks = _chunks(body)
    assert all(c.startswith(b"data: ") and c.endswith(b"\n\n") and c.count(b"\n\n") == 1 for c in chunks)
    assert chunks[-1] == b"data: [DONE]\n\n"
    assert len(chunks) == 1 + 4 + 1 + 1 + 1  # role, 4 two-word pieces of "Fake reply: one … six", finish, usage, [DONE]


async def test_openai_stream_over_http_1_0_is_the_same_events_unchunked(fake: FakeServer) -> None:
    """An HTTP/1.0 client gets the same event bytes, unchunked, ended by the close."""
    raw11 = await _raw_exchange(fake.origin("openai"), "/v1/chat/completions", _REQUEST,
                                {"Authorization": f"Bearer {fake.api_key}"}, "1.1")
    raw10 = await _raw_exchange(fake.origin("openai"), "/v1/chat/completions", _REQUEST,
                                {"Authorization": f"Bearer {fake.api_key}"}, "1.0")
    head, _, body = raw10.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    created = re.compile(rb'"created":\d+')  # the two answers may straddle a second
    assert created.sub(b"", body) == created.sub(b"", b"".join(_chunks(raw11.partition(b"\r\n\r\n")[2])))
