"""A stream whose last event arrives without its terminator (an NDJSON line with no final newline) is
answered whole: the chunks the decoder's ``stream_finish`` gives at the end of the body reach the caller
as ``Success`` items, after any that came before them, or as the only ones."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from returns.result import Success

from interlingua.core import ChatChunk
from interlingua.effects import Client, LlmConfig

from .helpers import one_route

_LINE = {"model": "llama3.2", "created_at": "2026-12-04T00:00:00Z", "done": False}
_DONE = {"model": "llama3.2", "created_at": "2026-12-04T00:00:01Z", "message": {"role": "assistant", "content": ""},
         "done": True, "done_reason": "stop", "total_duration": 1000, "prompt_eval_count": 5, "eval_count": 2}


@pytest.fixture
async def ollama() -> AsyncIterator[Callable[[list[bytes]], Awaitable[str]]]:
    """Start an Ollama-shaped ``/api/chat`` that writes the given byte strings as its body; yields its URL."""
    async with contextlib.AsyncExitStack() as servers:
        async def start(writes: list[bytes]) -> str:
            async def chat(request: web.Request) -> web.StreamResponse:
                resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
                await resp.prepare(request)
                for w in writes:
                    await resp.write(w)
                await resp.write_eof()
                return resp

            return await servers.enter_async_context(one_route("/api/chat", chat))

        yield start


def _line(content: str) -> bytes:
    return json.dumps({**_LINE, "message": {"role": "assistant", "content": content}}).encode()


@pytest.mark.parametrize("writes", [
    [_line("Hel") + b"\n", _line("lo") + b"\n" + json.dumps(_DONE).encode()],  # chunks before the tail
    [_line("Hel") + b"\n" + _line("lo") + b"\n", json.dumps(_DONE).encode()],
    [json.dumps({**_DONE, "message": {"role": "assistant", "content": "Hello"}}).encode()],  # the tail alone
], ids=["tail-after-chunks", "tail-in-its-own-write", "tail-only"])
async def test_a_last_line_without_newline_is_answered(ollama: Callable[[list[bytes]], Awaitable[str]],
                                                       writes: list[bytes]) -> None:
    base = await ollama(writes)
    cfg = LlmConfig(max_retries=0).with_provider("ollama", base_url=base)
    async with Client(cfg) as client:
        items = [item async for item in client.stream("ollama:llama3.2", "hi")]
        folded = await client.stream_response("ollama:llama3.2", "hi")
    assert items and all(type(i) is Success and isinstance(i.unwrap(), ChatChunk) for i in items), items
    chunks = [i.unwrap() for i in items]
    assert "".join(c.text for c in chunks) == "Hello"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5 and chunks[-1].usage.completion_tokens == 2
    assert chunks[0].provider_metadata.get("attempts") == 1  # the first chunk is stamped, whichever path it took
    response = folded.unwrap()
    assert response.text == "Hello" and response.usage is not None and response.usage.total_tokens == 7
