"""The official ``openai`` SDK, unmodified, is the judge of the OpenAI fake's wire fidelity."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from interlingua.fakes import FakeServer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def sdk(fake: FakeServer) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0)
    yield c
    await c.close()


async def test_chat(sdk: openai.AsyncOpenAI) -> None:
    """A plain completion parses, with the documented deterministic text and tokenizer usage."""
    r = await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "Fake reply: hello there"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.prompt_tokens == 9 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


async def test_stream_with_usage(sdk: openai.AsyncOpenAI) -> None:
    """The SDK's stream parser reads our SSE: deltas join to the text, usage arrives last."""
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream this please"}],
        stream=True, stream_options={"include_usage": True},
    )
    text, usage, finish = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "Fake reply: stream this please" and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


async def test_tool_call_and_follow_up(sdk: openai.AsyncOpenAI) -> None:
    """A demanded tool call comes back parsed; the tool result is accepted in the next turn."""
    r = await sdk.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER], tool_choice="required"
    )
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls"
    call = msg.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city":"sample"}'
    r2 = await sdk.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather?"}, msg.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": call.id, "content": "18C"}],
        tools=[WEATHER],
    )
    assert r2.choices[0].message.content == "Fake reply: tool get_weather returned 18C"


async def test_streamed_tool_call(sdk: openai.AsyncOpenAI) -> None:
    """The SDK's stream accumulator assembles our streamed tool-call fragments."""
    async with sdk.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "call get_weather"}], tools=[WEATHER]
    ) as stream:
        final = await stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and call.function.arguments == '{"city":"sample"}'


async def test_models_list(sdk: openai.AsyncOpenAI) -> None:
    """GET /v1/models answers in OpenAI's list shape, the embedding models (owned by "system") included."""
    owners = {m.id: m.owned_by async for m in sdk.models.list()}
    assert owners["gpt-4o-mini"] == "openai" and owners["text-embedding-3-small"] == "system"
    assert (await sdk.models.retrieve("text-embedding-3-large")).owned_by == "system"


async def test_chat_with_an_embedding_model_is_not_a_chat_model(sdk: openai.AsyncOpenAI, fake: FakeServer) -> None:
    """An embedding model on /v1/chat/completions is the service's 404 "not a chat model" (param model, no
    code), not an unknown model's; declared unknown, it is the unknown model's 404."""
    with pytest.raises(openai.NotFoundError) as nf:
        await sdk.chat.completions.create(model="text-embedding-3-small", messages=[{"role": "user", "content": "x"}])
    assert nf.value.code is None and nf.value.param == "model"
    assert nf.value.message.endswith("This is not a chat model and thus not supported in the v1/chat/completions "
                                     "endpoint. Did you mean to use v1/completions?")
    fake.models("openai", unknown=["text-embedding-3-small"])
    with pytest.raises(openai.NotFoundError) as gone:
        await sdk.chat.completions.create(model="text-embedding-3-small", messages=[{"role": "user", "content": "x"}])
    assert gone.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("fault", "exc", "status"),
    [
        ("429;retry-after=3", openai.RateLimitError, 429),
        ("500", openai.InternalServerError, 500),
        ("503", openai.InternalServerError, 503),
        ("400", openai.BadRequestError, 400),
    ],
)
async def test_injected_faults_raise_the_sdks_own_errors(sdk: openai.AsyncOpenAI, fault: str, exc: type[openai.APIStatusError], status: int) -> None:
    """Injected faults arrive as the SDK's own exception types with the right status."""
    with pytest.raises(exc) as info:
        await sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                          extra_headers={"x-interlingua-fault": fault})
    assert info.value.status_code == status
    if status == 429:
        assert info.value.response.headers["retry-after"] == "3"


async def test_wrong_and_missing_key(fake: FakeServer) -> None:
    """A wrong key is the SDK's AuthenticationError with OpenAI's masked echo of the key."""
    bad = openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key="sk-wrong-0123456789", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        await bad.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "invalid_api_key" and "sk-wrong-0123456789" not in str(info.value)
    await bad.close()


async def test_unknown_model_and_invalid_body(sdk: openai.AsyncOpenAI, fake: FakeServer) -> None:
    """Declared-unknown and other-family models are 404 model_not_found; invalid parameters are 400 with
    OpenAI's error shape."""
    fake.models("openai", unknown=["gpt-9000"])
    for unknown in ("gpt-9000", "claude-3-5-haiku-20241022"):
        with pytest.raises(openai.NotFoundError) as nf:
            await sdk.chat.completions.create(model=unknown, messages=[{"role": "user", "content": "x"}])
        assert nf.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as br:
        await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], temperature=3)
    assert br.value.param == "temperature"
    with pytest.raises(openai.BadRequestError):
        await sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "tool", "tool_call_id": "nope", "content": "x"}])


async def test_mid_stream_cut_surfaces_in_the_sdk(sdk: openai.AsyncOpenAI) -> None:
    """A connection cut mid-stream is an error in the SDK too, not a silent short answer."""
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a b c d e f g h"}], stream=True,
        extra_headers={"x-interlingua-fault": "cut=2"},
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
