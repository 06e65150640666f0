"""One origin per provider: every fake on its own port, its own 404s, faults aimed at one endpoint."""

from __future__ import annotations

import aiohttp
import anthropic
import openai
import pytest

from interlingua.fakes import SPECS, FakeServer, serve

HELLO = [{"role": "user", "content": "hello"}]


async def test_every_provider_has_its_own_origin(fake: FakeServer) -> None:
    """Each provider listens on a port of its own; base_url is the OpenAI origin."""
    origins = {s.name: fake.origin(s.name) for s in SPECS}
    assert len(set(origins.values())) == len(SPECS)
    assert fake.base_url == origins["openai"] and fake.url_for("openai") == origins["openai"] + "/v1"
    assert fake.url_for("docker") == origins["docker"] + "/engines/v1"


async def test_serve_with_a_port_binds_consecutive_ports() -> None:
    """serve(port=N) gives the providers N, N+1, … in SPECS order, as the CLI banner promises."""
    async with serve(port=0) as probe:  # find a free block: the probe's ports are free once it closes
        first = probe.port
    try:
        async with serve(port=first) as fake:
            assert [fake.port_for(s.name) for s in SPECS] == [first + i for i in range(len(SPECS))]
    except OSError:
        pytest.skip("a neighbouring port was taken meanwhile")


async def test_model_lists_do_not_mix_providers(fake: FakeServer) -> None:
    """GET /v1/models on OpenAI's origin lists OpenAI models only; on xAI's, xAI's only (separate hosts)."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0) as o, \
            openai.AsyncOpenAI(base_url=fake.url_for("xai"), api_key=fake.api_key, max_retries=0) as x:
        openai_ids = {m.id async for m in o.models.list()}
        xai_ids = {m.id async for m in x.models.list()}
    assert "gpt-4o-mini" in openai_ids and not any(i.startswith("grok") for i in openai_ids)
    assert "grok-4" in xai_ids and not any(i.startswith("gpt") for i in xai_ids)


async def test_unknown_path_is_the_providers_own_404(fake: FakeServer) -> None:
    """A path the real service lacks gets that service's 404 body, which the SDKs parse as NotFound."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0) as o:
        with pytest.raises(openai.NotFoundError) as info:
            await o.post("/no-such-thing", cast_to=object, body={})
    assert info.value.body == {"message": "Invalid URL (POST /v1/no-such-thing)", "type": "invalid_request_error",
                               "param": None, "code": None}
    async with anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key,
                                        max_retries=0) as a:
        with pytest.raises(anthropic.NotFoundError) as ainfo:
            await a.post("/v1/chat/completions", cast_to=object, body={})  # OpenAI's path: not Anthropic's
    assert isinstance(ainfo.value.body, dict) and ainfo.value.body["error"]["type"] == "not_found_error"
    async with aiohttp.ClientSession() as http:
        async with http.get(fake.origin("ollama") + "/v1beta/models") as r:
            assert (r.status, await r.text()) == (404, "404 page not found\n")
        async with http.get(fake.origin("gemini") + "/api/tags") as r:
            assert r.status == 404 and "The requested URL <code>/api/tags</code> was not found" in await r.text()
        async with http.get(fake.origin("azure") + "/v1/models") as r:
            assert (r.status, await r.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})
        async with http.post(fake.origin("bedrock") + "/v1/messages") as r:
            assert r.status == 404 and r.headers["x-amzn-ErrorType"].startswith("UnknownOperationException")


async def test_fail_next_can_target_one_endpoint(fake: FakeServer) -> None:
    """A fault queued for chat is not consumed by a model listing made first (what many clients do)."""
    fake.fail_next("openai", "429", endpoint="chat")
    async with openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0) as o:
        assert [m.id async for m in o.models.list()]
        with pytest.raises(openai.RateLimitError):
            await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        ok = await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
    assert ok.choices[0].message.content == "Fake reply: hello"
    assert [(r.endpoint, r.fault) for r in fake.requests_for("openai")] == [("models", None), ("chat", "429"),
                                                                            ("chat", None)]


async def test_fail_next_by_path_and_scripts_survive_model_listings(fake: FakeServer) -> None:
    """A fault can name the path instead; a scripted answer waits for the next content call."""
    fake.fail_next("anthropic", "500", endpoint="/v1/messages")
    fake.script("anthropic", ["scripted"])
    async with anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key,
                                        max_retries=0) as a:
        assert [m.id async for m in a.models.list()]
        with pytest.raises(anthropic.InternalServerError):
            await a.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO)  # type: ignore[arg-type]
        msg = await a.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HELLO)  # type: ignore[arg-type]
    assert msg.content[0].text == "scripted"  # type: ignore[union-attr]


# What each real service names itself in ``Server`` (None: nothing, as Go's net/http and AWS's front ends).
SERVER = {"openai": "cloudflare", "anthropic": "cloudflare", "gemini": "scaffolding on HTTPServer2"}


async def test_answers_name_the_services_server_never_aiohttp(fake: FakeServer) -> None:
    """No real provider answers ``Server: Python/3.11 aiohttp/…``: every fake names what its service does
    (or nothing), on a 404, a JSON answer and a stream alike."""
    async with aiohttp.ClientSession() as http:
        for s in SPECS:
            async with http.post(fake.origin(s.name) + "/no/such/path") as r:
                assert r.status == 404 and r.headers.get("Server") == SERVER.get(s.name), s.name
    async with openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0) as o:
        raw = await o.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)  # type: ignore[arg-type]
        assert raw.headers["server"] == "cloudflare" and raw.parse().choices[0].message.content
        async with o.chat.completions.with_streaming_response.create(
                model="gpt-4o-mini", messages=HELLO, stream=True) as streamed:  # type: ignore[arg-type]
            assert streamed.headers["server"] == "cloudflare"
            assert b"data: [DONE]" in b"".join([chunk async for chunk in streamed.iter_bytes()])
    async with aiohttp.ClientSession() as http:
        ollama_chat = {"model": "llama3.2", "messages": HELLO, "stream": True}
        async with http.post(fake.origin("ollama") + "/api/chat", json=ollama_chat) as r:
            assert r.status == 200 and "Server" not in r.headers and (await r.read()).count(b"\n") >= 2
