"""The fakes' per-body memos never outlive what may change between two identical requests."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from interlingua.fakes import FakeServer

_BODIES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there"}]},
               {"Authorization": "Bearer {key}"}),
    "anthropic": ("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 64,
                                   "messages": [{"role": "user", "content": "hi there"}]},
                  {"x-api-key": "{key}", "anthropic-version": "2023-06-01"}),
    "gemini": ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]},
               {"x-goog-api-key": "{key}"}),
}


def _text(provider: str, reply: Any) -> str:
    if provider == "openai":
        return str(reply["choices"][0]["message"]["content"])
    if provider == "anthropic":
        return str(reply["content"][0]["text"])
    return str(reply["candidates"][0]["content"]["parts"][0]["text"])


@pytest.mark.parametrize("provider", list(_BODIES))
async def test_repeated_body_honours_scripts_and_model_declarations_made_between(fake: FakeServer, provider: str) -> None:
    """A script queued, or a model declared unknown, after a body was first answered applies to its repeat."""
    path, body, headers = _BODIES[provider]
    hdrs = {k: v.format(key=fake.api_key) for k, v in headers.items()}
    async with aiohttp.ClientSession() as s:

        async def ask() -> tuple[int, Any]:
            async with s.post(fake.origin(provider) + path, json=body, headers=hdrs) as r:
                return r.status, await r.json()

        first = await ask()
        assert first[0] == 200 and _text(provider, first[1]) == "Fake reply: hi there"
        fake.script(provider, ["scripted words"])
        scripted = await ask()
        assert _text(provider, scripted[1]) == "scripted words"
        again = await ask()
        assert _text(provider, again[1]) == "Fake reply: hi there"
        fake.models(provider, unknown=[str(body.get("model", "gemini-2.5-flash"))])
        status, _ = await ask()
        assert status == 404


async def test_ollama_stream_lines_carry_each_request_own_timestamp(fake: FakeServer) -> None:
    """A repeated Ollama stream reuses its lines' JSON but every line has this request's created_at."""
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi \u0000created_at\u0000 there"}]}
    async with aiohttp.ClientSession() as s:
        streams = []
        for _ in range(2):
            async with s.post(fake.origin("ollama") + "/api/chat", json=body) as r:
                assert r.status == 200
                streams.append([json.loads(line) for line in (await r.read()).splitlines()])
    for lines in streams:
        stamps = {line["created_at"] for line in lines}
        assert len(stamps) == 1 and stamps.pop().endswith("Z")
        assert "".join(line["message"]["content"] for line in lines) == "Fake reply: hi \u0000created_at\u0000 there"
    assert [line["message"] for line in streams[0]] == [line["message"] for line in streams[1]]
