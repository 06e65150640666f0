"""The Responses fake judged by the official ``openai`` SDK (unmodified), and our Client end to end
against it over loopback: chat, stream, tools, reasoning round trip, ``api="responses"`` routing,
Azure, and the fault matrix."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from returns.result import Failure, Result, Success

from interlingua.core import (
    ErrorKind,
    FinishReason,
    LlmError,
    Message,
    ReasoningConfig,
    ReasoningPart,
    ToolSpec,
)
from interlingua.core.catalog import default_catalog
from interlingua.effects import Client, LlmConfig
from interlingua.fakes import FakeServer

from .helpers import config_for
from .resilience_support import SENTINEL_KEY, FakeTime, leak_check, warm_fake
from .test_fault_matrix import MATRIX, STREAM_OVERRIDES, _settings

TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city", "strict": False,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
WEATHER = ToolSpec(name="get_weather", description="Weather for a city", parameters=TOOL["parameters"])  # type: ignore[arg-type]


def responses_config(fake: FakeServer, **settings: Any) -> LlmConfig:
    """Every fake configured, plus ``openai_responses`` at the OpenAI fake."""
    return config_for(fake, **settings).with_provider(
        "openai_responses", base_url=fake.url_for("openai"), api_key=fake.api_key
    )


@pytest.fixture
async def sdk(fake: FakeServer) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0)
    yield c
    await c.close()


@pytest.fixture
async def rclient(fake: FakeServer) -> AsyncIterator[Client]:
    async with Client(responses_config(fake, retry_enabled=False)) as c:
        yield c


# -- the official SDK against the fake ------------------------------------------------------------


async def test_sdk_create(sdk: openai.AsyncOpenAI) -> None:
    """responses.create parses: output_text by the content rule, tokenizer usage adds up."""
    r = await sdk.responses.create(model="gpt-4o-mini", input="hello there", instructions="Be kind.")
    assert r.output_text == "Fake reply: hello there" and r.status == "completed"
    assert r.usage is not None and r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.instructions == "Be kind."


async def test_sdk_stream_helper(sdk: openai.AsyncOpenAI) -> None:
    """responses.stream's accumulator rebuilds the same answer from our events."""
    async with sdk.responses.stream(model="gpt-4o-mini", input="stream this please") as s:
        kinds = [ev.type async for ev in s]
        final = await s.get_final_response()
    assert final.output_text == "Fake reply: stream this please"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds


async def test_sdk_two_turn_tool_round_trip(sdk: openai.AsyncOpenAI) -> None:
    """A function call, then its function_call_output by call_id (stateless, reasoning sent back encrypted)."""
    first = await sdk.responses.create(
        model="gpt-5", input=[{"role": "user", "content": "call get_weather for Paris"}], tools=[TOOL],  # type: ignore[list-item]
        reasoning={"effort": "low", "summary": "auto"}, include=["reasoning.encrypted_content"], store=False,
    )
    kinds = [o.type for o in first.output]
    assert kinds == ["reasoning", "function_call"]
    call = first.output[1]
    assert call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}  # the prompt's capitalised word (_content)
    history: list[Any] = [{"role": "user", "content": "call get_weather for Paris"}]
    history += [o.model_dump(exclude_none=True) for o in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
    async with sdk.responses.stream(model="gpt-5", input=history, tools=[TOOL], store=False) as s:  # type: ignore[list-item]
        final = await s.get_final_response()
    assert final.output_text == "Fake reply: tool get_weather returned sunny"


async def test_sdk_unknown_call_id_is_rejected(sdk: openai.AsyncOpenAI) -> None:
    """A function_call_output answering no call is the service's 400."""
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        await sdk.responses.create(model="gpt-4o-mini", input=[
            {"role": "user", "content": "hi"}, {"type": "function_call_output", "call_id": "call_nope", "output": "x"}])


async def test_sdk_forged_reasoning_is_rejected(sdk: openai.AsyncOpenAI) -> None:
    """Encrypted reasoning the service did not issue cannot be verified (400)."""
    with pytest.raises(openai.BadRequestError, match="could not be verified"):
        await sdk.responses.create(model="gpt-5", input=[
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "forged"},
            {"role": "user", "content": "hi"}])


async def test_retrieving_leaves_a_scripted_answer_queued_and_takes_faults(
    sdk: openai.AsyncOpenAI, fake: FakeServer
) -> None:
    """A retrieve generates nothing: a scripted answer stays for the next create; a queued 500 aimed at
    the Responses endpoint hits the retrieve, as every other endpoint's faults do."""
    r = await sdk.responses.create(model="gpt-4o-mini", input="keep me")
    fake.script("openai", ["Scripted."])
    assert (await sdk.responses.retrieve(r.id)).id == r.id
    assert (await sdk.responses.create(model="gpt-4o-mini", input="hi")).output_text == "Scripted."
    fake.fail_next("openai", "500", endpoint="responses")
    with pytest.raises(openai.InternalServerError):
        await sdk.responses.retrieve(r.id)


async def test_sdk_stored_responses(sdk: openai.AsyncOpenAI) -> None:
    """store (the service's default) keeps a response: retrieve, chain by previous_response_id, delete, 404."""
    r = await sdk.responses.create(model="gpt-4o-mini", input="remember me")
    got = await sdk.responses.retrieve(r.id)
    assert got.id == r.id and got.output_text == r.output_text
    nxt = await sdk.responses.create(model="gpt-4o-mini", input="again", previous_response_id=r.id)
    assert nxt.previous_response_id == r.id and nxt.output_text == "Fake reply: again"
    await sdk.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(r.id)
    unstored = await sdk.responses.create(model="gpt-4o-mini", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(unstored.id)


async def test_sdk_incomplete_and_errors(sdk: openai.AsyncOpenAI) -> None:
    """max_output_tokens cuts the answer (status incomplete); reasoning on a non-reasoning model is a 400."""
    r = await sdk.responses.create(model="gpt-4o-mini", input=" ".join(["word"] * 60), max_output_tokens=16)
    assert r.status == "incomplete" and r.incomplete_details is not None
    assert r.incomplete_details.reason == "max_output_tokens"
    with pytest.raises(openai.BadRequestError, match="reasoning"):
        await sdk.responses.create(model="gpt-4o-mini", input="hi", reasoning={"effort": "low"})
    with pytest.raises(openai.BadRequestError, match="temperature"):
        await sdk.responses.create(model="gpt-5", input="hi", temperature=0.2)


async def test_client_unsupported_parameter_is_invalid_request(rclient: Client) -> None:
    """The service's 400 for temperature on a reasoning model (code null) is INVALID_REQUEST, not retried."""
    err = (await rclient.chat("openai_responses:gpt-5", "hi", temperature=0.2)).failure()
    assert err.kind is ErrorKind.INVALID_REQUEST and err.status == 400 and "temperature" in err.message
    assert not err.is_retryable()


async def test_sdk_azure(fake: FakeServer) -> None:
    """AzureOpenAI with a dated api-version, and the plain client at the v1 base URL (Microsoft's
    documented v1 usage), both reach the Azure fake's Responses routes."""
    async with openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=fake.api_key,
                                       api_version="2025-04-01-preview", max_retries=0) as az:
        r = await az.responses.create(model="gpt-4o-mini", input="hi azure")
        assert r.output_text == "Fake reply: hi azure"
    async with openai.AsyncOpenAI(base_url=fake.url_for("azure") + "/openai/v1/", api_key=fake.api_key,
                                  max_retries=0) as v1:
        r = await v1.responses.create(model="gpt-4o-mini", input="hi v1")
        assert r.output_text == "Fake reply: hi v1"
        got = await v1.responses.retrieve(r.id)
        assert got.id == r.id
    assert [q.path for q in fake.requests_for("azure")] == [
        "/openai/responses", "/openai/v1/responses", f"/openai/v1/responses/{r.id}"]


async def test_sdk_stream_error_event(sdk: openai.AsyncOpenAI, fake: FakeServer) -> None:
    """The error-event fault is the real nested shape: the SDK raises its APIError from it."""
    fake.fail_next("openai", "error-event")
    with pytest.raises(openai.APIError, match="server had an error"):
        async with sdk.responses.stream(model="gpt-4o-mini", input="hi") as s:
            async for _ in s:
                pass


# -- our Client end to end ------------------------------------------------------------------------


async def test_client_chat_and_stream(rclient: Client, fake: FakeServer) -> None:
    """openai_responses:<model> chat and stream over /v1/responses; the stream folds to the same answer."""
    r = (await rclient.chat("openai_responses:gpt-4o-mini", [Message.system("Be brief."), Message.user("hello there")])).unwrap()
    assert r.text == "Fake reply: hello there" and r.usage.total_tokens > 0
    sent = fake.requests_for("openai")[-1]
    assert sent.path == "/v1/responses"
    assert sent.json()["instructions"] == "Be brief." and sent.json()["store"] is False
    chunks = [c.unwrap() async for c in rclient.stream("openai_responses:gpt-4o-mini", "hello there")]
    assert "".join(c.text for c in chunks) == "Fake reply: hello there"
    plain = (await rclient.chat("openai_responses:gpt-4o-mini", "hello there")).unwrap()
    folded = (await rclient.stream_response("openai_responses:gpt-4o-mini", "hello there")).unwrap()
    assert folded.text == plain.text and folded.usage == plain.usage and folded.finish_reason is plain.finish_reason


async def test_client_prices_and_counts_like_openai(rclient: Client) -> None:
    """openai_responses models are OpenAI's: catalog prices apply (cost is exact) and counting is exact."""
    r = (await rclient.chat("openai_responses:gpt-4o-mini", "price me")).unwrap()
    info = default_catalog().lookup("openai", "gpt-4o-mini")
    assert info is not None and rclient.total_cost == r.usage.calculate_cost(info) > 0
    counted = (await rclient.count_tokens("openai_responses:gpt-4o-mini", [Message.user("price me")])).unwrap()
    assert counted.exact


async def test_client_tool_round_trip(rclient: Client, fake: FakeServer) -> None:
    """A tool call, then the tool result by its id: the fake matches call_id and answers from it."""
    m = "openai_responses:gpt-4o-mini"
    msgs: list[Message] = [Message.user("call get_weather for Paris")]
    first = (await rclient.chat(m, msgs, tools=(WEATHER,))).unwrap()
    call = first.tool_calls[0]
    assert call.name == "get_weather" and call.id.startswith("call_")
    msgs += [first.message, Message.tool(call.id, "sunny")]
    second = (await rclient.chat(m, msgs, tools=(WEATHER,))).unwrap()
    assert second.text == "Fake reply: tool get_weather returned sunny"
    items = fake.requests_for("openai")[-1].json()["input"]
    assert [i["type"] for i in items] == ["message", "function_call", "function_call_output"]
    assert items[1]["call_id"] == items[2]["call_id"] == call.id


async def test_client_streamed_tool_call(rclient: Client) -> None:
    """Streamed function-call events fold to the same call as the non-stream answer."""
    m = "openai_responses:gpt-4o-mini"
    plain = (await rclient.chat(m, "call get_weather", tools=(WEATHER,))).unwrap()
    streamed = (await rclient.stream_response(m, "call get_weather", tools=(WEATHER,))).unwrap()
    assert [(c.name, c.arguments) for c in streamed.tool_calls] == [(c.name, c.arguments) for c in plain.tool_calls]


async def test_client_reasoning_round_trip(rclient: Client, fake: FakeServer) -> None:
    """Reasoning summary and encrypted content arrive on one ReasoningPart and go back unchanged
    (the fake verifies it issued them), streamed or not."""
    m = "openai_responses:gpt-5"
    msgs: list[Message] = [Message.user("call get_weather in Rome")]
    for stream in (False, True):
        call = rclient.stream_response if stream else rclient.chat
        first = (await call(m, msgs, tools=(WEATHER,), reasoning=ReasoningConfig(effort="low"))).unwrap()
        part = first.message.parts[0]
        assert isinstance(part, ReasoningPart) and part.text == "Thinking about: call get_weather in Rome"
        assert part.signature and part.signature.startswith("gAAAAAB")
        sent = fake.requests_for("openai")[-1].json()
        assert sent["include"] == ["reasoning.encrypted_content"] and sent["reasoning"] == {"effort": "low", "summary": "auto"}
        tool = first.tool_calls[0]
        second = (await rclient.chat(m, [*msgs, first.message, Message.tool(tool.id, "rainy")], tools=(WEATHER,))).unwrap()
        assert second.text == "Fake reply: tool get_weather returned rainy"
        back = fake.requests_for("openai")[-1].json()["input"][1]
        assert back == {"type": "reasoning", "summary": [{"type": "summary_text", "text": part.text}],
                        "encrypted_content": part.signature}


async def test_api_responses_routes_openai_and_azure(fake: FakeServer) -> None:
    """with_provider(name, api="responses") sends openai: and azure: models to the Responses paths."""
    cfg = config_for(fake, retry_enabled=False)
    cfg = cfg.with_provider("openai", api="responses").with_provider("azure", api="responses")
    async with Client(cfg) as c:
        r = (await c.chat("openai:gpt-4o-mini", "route me")).unwrap()
        assert r.text == "Fake reply: route me"
        assert fake.requests_for("openai")[-1].path == "/v1/responses"
        a = (await c.chat("azure:gpt-4o-mini", "route me too")).unwrap()
        assert a.text == "Fake reply: route me too"
        assert fake.requests_for("azure")[-1].path == "/openai/v1/responses"
        missing = await c.chat("azure:no-such-deployment", "hi")
        assert missing.failure().kind is ErrorKind.NOT_FOUND


async def test_api_responses_on_a_provider_without_it(fake: FakeServer) -> None:
    """A provider with no Responses API here is a typed INVALID_REQUEST, never a silent fallback."""
    async with Client(config_for(fake).with_provider("anthropic", api="responses")) as c:
        r = await c.chat("anthropic:claude-haiku-4-5", "hi")
    assert r.failure().kind is ErrorKind.INVALID_REQUEST


async def test_openai_compatible_server_with_responses(fake: FakeServer) -> None:
    """openai_compatible with api="responses" (Ollama's /v1, vLLM…) posts to {base}/responses; no key needed."""
    cfg = LlmConfig(retry_enabled=False).with_provider(
        "openai_compatible", base_url=fake.url_for("openai"), api_key=fake.api_key, api="responses")
    async with Client(cfg) as c:
        r = (await c.chat("openai_compatible:gpt-4o-mini", "compatible")).unwrap()
    assert r.text == "Fake reply: compatible" and fake.requests_for("openai")[-1].path == "/v1/responses"


async def test_client_wrong_key_is_authentication(fake: FakeServer) -> None:
    """The fake's 401 body maps to AUTHENTICATION, and the key appears nowhere in the error."""
    cfg = LlmConfig(retry_enabled=False).with_provider("openai_responses", base_url=fake.url_for("openai"), api_key=SENTINEL_KEY)
    async with Client(cfg) as c:
        err = (await c.chat("openai_responses:gpt-4o-mini", "hi")).failure()
    assert err.kind is ErrorKind.AUTHENTICATION and SENTINEL_KEY not in repr(err)


# -- the fault matrix cells for the Responses API -------------------------------------------------


@pytest.fixture
async def warm() -> AsyncIterator[FakeServer]:
    async for _ in leak_check():
        async for server in warm_fake():
            yield server


def _outcome(r: Result[Any, LlmError]) -> str:
    return "ok" if isinstance(r, Success) else r.failure().kind


@pytest.mark.parametrize(("fault", "times", "chat", "stream"), MATRIX, ids=[f"{f}x{n}" for f, n, *_ in MATRIX])
async def test_fault_matrix_responses(
    warm: FakeServer, caplog: pytest.LogCaptureFixture, fault: str, times: int,
    chat: tuple[str, int], stream: tuple[str, int],
) -> None:
    """Every injectable fault on /v1/responses gives the same typed outcome and attempt count as on chat."""
    fake, model = warm, "openai_responses:gpt-4o-mini"
    caplog.set_level(logging.DEBUG, logger="interlingua")
    async with Client(responses_config(fake, **_settings()), env=FakeTime().env()) as client:
        fake.fail_next("openai", fault, times)
        r = await client.chat(model, "Tell me a story about faults")
        assert (_outcome(r), fake.attempts("openai")) == chat
        fake.state.clear()
        fake.fail_next("openai", fault, times)
        items = [i async for i in client.stream(model, "Tell me a story about faults")]
        last: Result[Any, LlmError] = next((i for i in items if isinstance(i, Failure)), Success(None))
        assert (_outcome(last), fake.attempts("openai")) == STREAM_OVERRIDES.get(("openai", fault), stream)
        for thing in (client, r, *items):
            assert SENTINEL_KEY not in repr(thing)
    for rec in caplog.records:
        assert SENTINEL_KEY not in rec.getMessage()


async def test_client_chains_stored_responses(rclient: Client, fake: FakeServer) -> None:
    """Stateless by default (nothing stored); provider_options store/previous_response_id chain a stored turn."""
    m = "openai_responses:gpt-4o-mini"
    first = (await rclient.chat(m, "call get_weather please", tools=(WEATHER,), provider_options={"store": True})).unwrap()
    call = first.tool_calls[0]
    # Only the tool result is sent: the call it answers lives in the stored response.
    second = (await rclient.chat(m, [Message.tool(call.id, "cloudy")], tools=(WEATHER,),
                                 provider_options={"previous_response_id": first.id})).unwrap()
    assert second.text == "Fake reply: tool get_weather returned cloudy"
    sent = fake.requests_for("openai")[-1].json()
    assert sent["store"] is True and sent["previous_response_id"] == first.id and len(sent["input"]) == 1
    unstored = (await rclient.chat(m, "forget me")).unwrap()
    gone = await rclient.chat(m, "more", provider_options={"previous_response_id": unstored.id})
    assert gone.failure().kind is ErrorKind.INVALID_REQUEST and "not found" in gone.failure().message


async def test_routed_openai_model_chains_too(fake: FakeServer) -> None:
    """openai:<model> routed with api="responses" follows the Responses rules (a chained tool result is valid)."""
    async with Client(config_for(fake, retry_enabled=False).with_provider("openai", api="responses")) as c:
        first = (await c.chat("openai:gpt-4o-mini", "call get_weather", tools=(WEATHER,), provider_options={"store": True})).unwrap()
        second = await c.chat("openai:gpt-4o-mini", [Message.tool(first.tool_calls[0].id, "hail")], tools=(WEATHER,),
                              provider_options={"previous_response_id": first.id})
    assert second.unwrap().text == "Fake reply: tool get_weather returned hail"


async def test_azure_responses_through_the_client(fake: FakeServer) -> None:
    """azure: with api="responses" and a dated version posts to /openai/responses?api-version=…; Azure's
    content filter maps to CONTENT_FILTER both ways (refused prompt, cut answer)."""
    cfg = config_for(fake, retry_enabled=False).with_provider("azure", api="responses", api_version="2025-04-01-preview")
    async with Client(cfg) as c:
        ok = (await c.chat("azure:gpt-4o-mini", "dated")).unwrap()
        refused = await c.chat("azure:gpt-4o-mini", "FILTER_PROMPT please")
        cut = (await c.stream_response("azure:gpt-4o-mini", "FILTER_ANSWER please")).unwrap()
    assert ok.text == "Fake reply: dated"
    sent = fake.requests_for("azure")[0]
    assert sent.path == "/openai/responses" and sent.query["api-version"] == "2025-04-01-preview"
    err = refused.failure()
    assert err.kind is ErrorKind.CONTENT_FILTER and "violence" in err.message
    assert (cut.finish_reason, cut.raw_finish_reason, cut.text) == (FinishReason.CONTENT_FILTER, "content_filter", "")
