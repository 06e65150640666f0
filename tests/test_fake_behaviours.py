"""What real clients rely on, checked through the official SDKs: model acceptance, Anthropic's cumulative
stream usage, Azure's model list, Ollama's generate/embed/ps and OpenAI-compatible API, OpenAI's
parameter checks, logprobs and reasoning models, Gemini's proto-JSON strictness, xAI/DMR error shapes."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest

from interlingua.fakes import FakeServer

HELLO: list[Any] = [{"role": "user", "content": "hello there"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _openai(fake: FakeServer, provider: str = "openai") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.url_for(provider), api_key=fake.api_key, max_retries=0)


# -- models ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-3-5-haiku-20241022", "claude-opus-4-1-20250805", "claude-3-7-sonnet-latest",
                                   "claude-sonnet-4-5"])
async def test_anthropic_accepts_every_published_id(fake: FakeServer, model: str) -> None:
    """Dated snapshots and -latest aliases of the published list are answered, not 404."""
    async with anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key, max_retries=0) as a:
        msg = await a.messages.create(model=model, max_tokens=50, messages=HELLO)
        assert msg.model == model and msg.content[0].text == "Fake reply: hello there"  # type: ignore[union-attr]
        assert (await a.models.retrieve(model)).id == model


async def test_declared_unknown_models_are_404_everywhere(fake: FakeServer) -> None:
    """fake.models(provider, unknown=[...]) makes chat and model lookup answer the provider's not-found."""
    fake.models("openai", unknown=["gpt-4o-2099-01-01"])
    async with _openai(fake) as o:
        assert (await o.chat.completions.create(model="gpt-4.5-preview", messages=HELLO)).model == "gpt-4.5-preview"
        with pytest.raises(openai.NotFoundError):
            await o.chat.completions.create(model="gpt-4o-2099-01-01", messages=HELLO)
        with pytest.raises(openai.NotFoundError):
            await o.models.retrieve("gpt-4o-2099-01-01")


# -- Anthropic -------------------------------------------------------------------------------------------


async def test_anthropic_message_delta_usage_is_cumulative(fake: FakeServer) -> None:
    """message_delta.usage carries input, cache and output tokens equal to the non-streamed usage."""
    async with anthropic.AsyncAnthropic(base_url=fake.url_for("anthropic"), api_key=fake.api_key, max_retries=0) as a:
        whole = await a.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=HELLO)
        deltas = [e async for e in await a.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=HELLO,
                                                         stream=True) if e.type == "message_delta"]
    assert len(deltas) == 1
    usage = deltas[0].usage
    assert usage.input_tokens == whole.usage.input_tokens > 0
    assert usage.output_tokens == whole.usage.output_tokens
    assert usage.cache_read_input_tokens == whole.usage.cache_read_input_tokens == 0
    assert usage.cache_creation_input_tokens == whole.usage.cache_creation_input_tokens == 0


# -- Azure -----------------------------------------------------------------------------------------------


async def test_azure_models_list(fake: FakeServer) -> None:
    """AzureOpenAI(api_version=...).models.list() gets Azure's documented item fields."""
    async with openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=fake.api_key,
                                       api_version="2024-10-21", max_retries=0) as az:
        models = [m async for m in az.models.list()]
        one = await az.models.retrieve("gpt-4o-mini")
    item = next(m for m in models if m.id == "gpt-4o-mini").model_dump()
    assert item["status"] == "succeeded" and item["lifecycle_status"] == "generally-available"
    assert item["capabilities"]["chat_completion"] is True and "inference" in item["deprecation"]
    assert one.id == "gpt-4o-mini"
    assert fake.requests[0].path == "/openai/models" and fake.requests[0].query["api-version"] == "2024-10-21"


# -- Ollama ----------------------------------------------------------------------------------------------


async def test_ollama_openai_compatible_api(fake: FakeServer) -> None:
    """The openai SDK at {ollama}/v1 with a throwaway key: chat, stream + usage, tools, models, embeddings."""
    async with openai.AsyncOpenAI(base_url=fake.origin("ollama") + "/v1", api_key="ollama", max_retries=0) as o:
        r = await o.chat.completions.create(model="llama3.2", messages=HELLO)
        assert r.choices[0].message.content == "Fake reply: hello there"
        stream = await o.chat.completions.create(model="llama3.2", messages=HELLO, stream=True,
                                                 stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Fake reply: hello there"
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == r.usage.total_tokens  # type: ignore[union-attr]
        t = await o.chat.completions.create(model="qwen3:8b", messages=[{"role": "user", "content": "call get_weather"}],
                                            tools=[WEATHER])  # type: ignore[list-item]
        assert t.choices[0].message.tool_calls[0].function.name == "get_weather"  # type: ignore[index,union-attr]
        ids = [m.id async for m in o.models.list()]
        assert "llama3.2:latest" in ids and "gpt-4o-mini" not in ids
        e = await o.embeddings.create(model="nomic-embed-text", input=["a", "b"])
        assert len(e.data) == 2 and len(e.data[0].embedding) == 768
        c = await o.completions.create(model="llama3.2", prompt="hello there")
        assert c.choices[0].text == "Fake reply: hello there"
        with pytest.raises(openai.NotFoundError):
            await o.chat.completions.create(model="not-installed", messages=HELLO)


async def test_ollama_generate_embed_ps_version(fake: FakeServer) -> None:
    """The ollama SDK's generate (stream and not), embed, ps and version against the fake."""
    async with ollama.AsyncClient(host=fake.url_for("ollama")) as c:
        g = await c.generate(model="llama3.2", prompt="hello there", system="be brief", options={"num_predict": 50})
        assert g.response == "Fake reply: hello there" and g.done and g.done_reason == "stop"
        assert g.prompt_eval_count and g.eval_count and g.total_duration and g.context
        pieces = [p async for p in await c.generate(model="llama3.2", prompt="hello there", stream=True)]
        assert "".join(p.response for p in pieces) == g.response and pieces[-1].done
        emb = await c.embed(model="nomic-embed-text", input=["one", "two"])
        assert len(emb.embeddings) == 2 and emb.embeddings[0] != emb.embeddings[1]
        assert [m.model for m in (await c.ps()).models] == ["llama3.2:latest", "nomic-embed-text:latest"]
        with pytest.raises(ollama.ResponseError) as info:
            await c.embed(model="llama3.2", input="x")
        assert info.value.status_code == 400
    async with httpx.AsyncClient() as http:
        assert (await http.get(fake.url_for("ollama") + "/api/version")).json()["version"]


# -- OpenAI parameters, logprobs, reasoning ----------------------------------------------------------------


@pytest.mark.parametrize(("params", "param", "code"), [
    ({"top_p": 2}, "top_p", "decimal_above_max_value"),
    ({"n": 0}, "n", "integer_below_min_value"),
    ({"presence_penalty": -3}, "presence_penalty", "decimal_below_min_value"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
    ({"tool_choice": "sometimes", "tools": [WEATHER]}, "tool_choice", "invalid_value"),
    ({"response_format": {"type": "yaml"}}, "response_format.type", "invalid_value"),
    ({"extra_body": {"stream": "yes"}}, "stream", "invalid_type"),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "missing_required_parameter"),
])
async def test_openai_parameter_checks(fake: FakeServer, params: dict[str, Any], param: str, code: str) -> None:
    """Out-of-range and mistyped parameters get OpenAI's 400 with the param and code it documents."""
    async with _openai(fake) as o:
        with pytest.raises(openai.BadRequestError) as info:
            await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO, **params)
    assert (info.value.param, info.value.code) == (param, code)


async def test_openai_logprobs(fake: FakeServer) -> None:
    """logprobs=true returns one entry per answer token, with top_logprobs alternatives, streamed and not."""
    async with _openai(fake) as o:
        r = await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO, logprobs=True, top_logprobs=2)
        content = r.choices[0].logprobs.content  # type: ignore[union-attr]
        assert "".join(t.token for t in content) == "Fake reply: hello there"  # type: ignore[union-attr]
        assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in content)  # type: ignore[union-attr]
        stream = await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO, logprobs=True, stream=True)
        tokens = [t.token async for c in stream for t in ((c.choices[0].logprobs.content or []) if c.choices
                                                          and c.choices[0].logprobs else [])]
        assert "".join(tokens) == "Fake reply: hello there"
        plain = await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        assert plain.choices[0].logprobs is None


@pytest.mark.parametrize("model", ["o3-mini", "o4-mini", "gpt-5", "gpt-5-mini-2025-08-07"])
async def test_openai_reasoning_models(fake: FakeServer, model: str) -> None:
    """Reasoning models report reasoning_tokens (inside completion_tokens) and refuse max_tokens."""
    async with _openai(fake) as o:
        r = await o.chat.completions.create(model=model, messages=HELLO, max_completion_tokens=500)
        details = r.usage.completion_tokens_details  # type: ignore[union-attr]
        assert details is not None and details.reasoning_tokens and details.reasoning_tokens > 0
        assert r.usage.completion_tokens > details.reasoning_tokens  # type: ignore[union-attr]
        with pytest.raises(openai.BadRequestError) as info:
            await o.chat.completions.create(model=model, messages=HELLO, max_tokens=500)
    assert (info.value.param, info.value.code) == ("max_tokens", "unsupported_parameter")
    async with _openai(fake) as o:
        plain = await o.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=500)
    assert plain.usage.completion_tokens_details.reasoning_tokens == 0  # type: ignore[union-attr]


# -- Gemini ----------------------------------------------------------------------------------------------


async def test_gemini_refuses_unknown_fields_like_google(fake: FakeServer) -> None:
    """additionalProperties inside a function declaration's parameters is Google's 400 with fieldViolations;
    v1 refuses the v1beta-only systemInstruction; a misspelled field is refused too."""
    url = fake.origin("gemini") + "/{v}/models/gemini-2.5-flash:generateContent"
    headers = {"x-goog-api-key": fake.api_key}
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    tools = [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "additionalProperties": False}}]}]
    async with httpx.AsyncClient() as http:
        r = await http.post(url.format(v="v1beta"), headers=headers, json={"contents": contents, "tools": tools})
        v1 = await http.post(url.format(v="v1"), headers=headers,
                             json={"contents": contents, "systemInstruction": {"parts": [{"text": "x"}]}})
        typo = await http.post(url.format(v="v1beta"), headers=headers,
                               json={"contents": contents, "generationConfig": {"maxTokens": 5}})
        ok = await http.post(url.format(v="v1"), headers=headers,
                             json={"contents": contents, "generation_config": {"max_output_tokens": 5}})
        v1_seed = await http.post(url.format(v="v1"), headers=headers, json={"contents": contents, "generationConfig": {
            "seed": 7, "enableEnhancedCivicAnswers": True}})
        v1_modalities = await http.post(url.format(v="v1"), headers=headers, json={
            "contents": contents, "generationConfig": {"responseModalities": ["TEXT"]}})
        beta_modalities = await http.post(url.format(v="v1beta"), headers=headers, json={
            "contents": contents, "generationConfig": {"responseModalities": ["TEXT"]}})
    err = r.json()["error"]
    message = ('Invalid JSON payload received. Unknown name "additionalProperties" at '
               "'tools[0].function_declarations[0].parameters': Cannot find field.")
    assert (r.status_code, err["status"], err["message"]) == (400, "INVALID_ARGUMENT", message)
    assert err["details"] == [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
        {"field": "tools[0].function_declarations[0].parameters", "description": message}]}]
    assert v1.status_code == 400 and 'Unknown name "systemInstruction": Cannot find field.' in v1.json()["error"]["message"]
    assert typo.status_code == 400 and "'generation_config'" in typo.json()["error"]["message"]
    assert ok.status_code == 200  # proto3 JSON takes snake_case names too
    # v1's GenerationConfig has seed and enableEnhancedCivicAnswers; response modalities are v1beta's
    # (what pydantic-ai sends on every request: it works on v1beta only)
    assert v1_seed.status_code == 200 and beta_modalities.status_code == 200
    assert v1_modalities.status_code == 400
    assert 'Unknown name "responseModalities" at \'generation_config\'' in v1_modalities.json()["error"]["message"]


# -- xAI and Docker Model Runner error shapes ---------------------------------------------------------------


async def test_xai_and_dmr_error_shapes(fake: FakeServer) -> None:
    """xAI's validation errors are its flat {code, error}; DMR's are llama.cpp's {error: {code, message, type}}."""
    async with _openai(fake, "xai") as x:
        with pytest.raises(openai.BadRequestError) as xi:
            await x.chat.completions.create(model="grok-3", messages=HELLO, temperature=5)
    assert xi.value.body is not None and set(xi.value.response.json()) == {"code", "error"}
    async with openai.AsyncOpenAI(base_url=fake.url_for("docker"), api_key="x", max_retries=0) as d:
        with pytest.raises(openai.BadRequestError) as di:
            # llama.cpp checks no ranges (top_p=7 is taken); a tool_choice it cannot read is its 400
            await d.chat.completions.create(model="ai/smollm2", messages=HELLO, tool_choice="any")  # type: ignore[arg-type]
    body = di.value.response.json()["error"]
    assert body == {"code": 400, "message": "Invalid tool_choice: any", "type": "invalid_request_error"}
