"""The fakes' response bodies match the providers' published schemas (issue 26).

Every body and stream chunk a fake sends over a real socket is validated with ``jsonschema`` against
schemas vendored verbatim from the provider's own published document (tests/data/specs/, see
PROVENANCE.md there); objects are closed (``additionalProperties: false``), so an invented field fails.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from interlingua.fakes import FakeServer

from .spec_schemas import problems, validators

OPENAI = validators("openai-chat.schemas.json")
HELLO = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def assert_matches(schema: str, body: Any, table: dict[str, Any] = OPENAI) -> None:
    found = problems(table[schema], body)
    assert not found, f"{schema} violations:\n" + "\n".join(found) + f"\nbody: {json.dumps(body)[:2000]}"


def sse_data(raw: bytes) -> list[Any]:
    """The JSON payloads of an SSE body's ``data:`` lines, ``[DONE]`` left out."""
    out: list[Any] = []
    for event in raw.decode().replace("\r\n", "\n").split("\n\n"):  # Google frames with CRLF
        data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
        if data and data != "[DONE]":
            out.append(json.loads(data))
    return out


async def _call(method: str, url: str, body: dict[str, Any] | None, key: str) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body, headers=headers) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


async def _post(fake: FakeServer, provider: str, path: str, body: dict[str, Any],
                key: str | None = None) -> tuple[int, str, bytes]:
    return await _call("POST", fake.url_for(provider) + path, body, key if key is not None else fake.api_key)


async def _get(fake: FakeServer, provider: str, path: str) -> tuple[int, Any]:
    status, _, raw = await _call("GET", fake.url_for(provider) + path, None, fake.api_key)
    return status, json.loads(raw)


def test_the_validators_reject_what_the_spec_forbids() -> None:
    """The vendored schemas are closed and typed: an invented field, a bad enum or a null usage field fails."""
    good = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "usage": None,
            "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None, "logprobs": None}]}
    assert problems(OPENAI["CreateChatCompletionStreamResponse"], good) == []
    bad_field = {**good, "choices": [{**good["choices"][0], "delta": {"content": "x", "text": "x"}}]}
    bad_enum = {**good, "choices": [{**good["choices"][0], "finish_reason": "done"}]}
    bad_usage = {**good, "usage": {"prompt_tokens": None, "completion_tokens": 1, "total_tokens": 1}}
    for bad in (bad_field, bad_enum, bad_usage, {**good, "object": "chat.completion"}):
        assert problems(OPENAI["CreateChatCompletionStreamResponse"], bad)


# -- OpenAI ---------------------------------------------------------------------------------------

CHAT_BODIES = {
    "text": {"model": "gpt-4o-mini", "messages": HELLO},
    "max_tokens_cut": {"model": "gpt-4o-mini", "messages": HELLO, "max_tokens": 2},
    "n_two": {"model": "gpt-4o-mini", "messages": HELLO, "n": 2},
    "tools_required": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Weather in Paris?"}],
                       "tools": [WEATHER_TOOL], "tool_choice": "required"},
    "logprobs": {"model": "gpt-4o-mini", "messages": HELLO, "logprobs": True, "top_logprobs": 3},
    "reasoning": {"model": "o4-mini", "messages": HELLO, "max_completion_tokens": 200},
    "json_schema": {"model": "gpt-4o-mini", "messages": HELLO, "response_format": {
        "type": "json_schema", "json_schema": {"name": "r", "schema": {
            "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}},
}


@pytest.mark.parametrize("case", sorted(CHAT_BODIES))
async def test_openai_chat_completion_matches_the_openapi_schema(fake: FakeServer, case: str) -> None:
    """A non-streamed chat completion is a CreateChatCompletionResponse, whatever the request asked for."""
    status, ctype, raw = await _post(fake, "openai", "/chat/completions", CHAT_BODIES[case])
    assert (status, ctype.split(";")[0]) == (200, "application/json")
    body = json.loads(raw)
    assert_matches("CreateChatCompletionResponse", body)
    # the case really exercised the part of the schema it is named after
    choice = body["choices"][0]
    if case == "tools_required":
        assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"]
    if case == "logprobs":
        assert choice["logprobs"]["content"] and len(choice["logprobs"]["content"][0]["top_logprobs"]) == 3
    if case == "n_two":
        assert [c["index"] for c in body["choices"]] == [0, 1]
    if case == "max_tokens_cut":
        assert choice["finish_reason"] == "length"
    if case == "reasoning":
        assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


@pytest.mark.parametrize("case", sorted(CHAT_BODIES))
@pytest.mark.parametrize("include_usage", [True, False])
async def test_openai_stream_chunks_match_the_openapi_schema(fake: FakeServer, case: str,
                                                             include_usage: bool) -> None:
    """Every streamed chunk is a CreateChatCompletionStreamResponse; with include_usage the last carries usage."""
    body = {**CHAT_BODIES[case], "stream": True, "stream_options": {"include_usage": include_usage}}
    status, ctype, raw = await _post(fake, "openai", "/chat/completions", body)
    assert (status, ctype.split(";")[0]) == (200, "text/event-stream")
    chunks = sse_data(raw)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert_matches("CreateChatCompletionStreamResponse", chunk)
    if include_usage:
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    else:
        assert all(c.get("usage") is None for c in chunks)


async def test_openai_models_list_and_retrieve_match_the_openapi_schema(fake: FakeServer) -> None:
    """GET /v1/models is a ListModelsResponse and GET /v1/models/{id} a Model."""
    status, listing = await _get(fake, "openai", "/models")
    assert status == 200
    assert_matches("ListModelsResponse", listing)
    status, model = await _get(fake, "openai", "/models/gpt-4o-mini")
    assert status == 200
    assert_matches("Model", model)


ERROR_CASES: dict[str, tuple[int, dict[str, Any]]] = {
    "bad_top_p": (400, {"model": "gpt-4o-mini", "messages": HELLO, "top_p": 3}),
    "missing_messages": (400, {"model": "gpt-4o-mini"}),
    "tool_without_function": (400, {"model": "gpt-4o-mini", "messages": HELLO, "tools": [{"type": "function"}]}),
    "reasoning_max_tokens": (400, {"model": "o4-mini", "messages": HELLO, "max_tokens": 10}),
    "unknown_model": (404, {"model": "not-a-model", "messages": HELLO}),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
async def test_openai_errors_match_the_openapi_schema(fake: FakeServer, case: str) -> None:
    """Validation errors, an unknown model and a bad key are ErrorResponse bodies."""
    want, body = ERROR_CASES[case]
    status, _, raw = await _post(fake, "openai", "/chat/completions", body)
    assert status == want
    assert_matches("ErrorResponse", json.loads(raw))


@pytest.mark.parametrize("fault", ["401", "429", "500", "503"])
async def test_openai_auth_and_injected_errors_match_the_openapi_schema(fake: FakeServer, fault: str) -> None:
    """A wrong key (401) and injected 429/5xx answers are ErrorResponse bodies too."""
    if fault == "401":
        status, _, raw = await _post(fake, "openai", "/chat/completions", CHAT_BODIES["text"], key="sk-wrong")
    else:
        fake.fail_next("openai", fault)
        status, _, raw = await _post(fake, "openai", "/chat/completions", CHAT_BODIES["text"])
    assert status == int(fault)
    assert_matches("ErrorResponse", json.loads(raw))


async def test_openai_mid_stream_error_event_matches_the_openapi_schema(fake: FakeServer) -> None:
    """The error a stream ends with (fault error-event) is an ErrorResponse, after valid chunks."""
    fake.fail_next("openai", "error-event")
    status, _, raw = await _post(fake, "openai", "/chat/completions", {**CHAT_BODIES["text"], "stream": True})
    assert status == 200
    *chunks, last = sse_data(raw)
    for chunk in chunks:
        assert_matches("CreateChatCompletionStreamResponse", chunk)
    assert_matches("ErrorResponse", last)


# -- Ollama ---------------------------------------------------------------------------------------

# Fields the Ollama server sends that docs/openapi.yaml leaves out, each a field of the server's own wire
# types in api/types.go at the same commit: ToolCall.ID `json:"id,omitempty"`, ToolCallFunction.Index
# `json:"index"`, GenerateResponse.Context `json:"context,omitempty"`, ModelDetails.ParentModel
# `json:"parent_model"`, ShowResponse.Modelfile `json:"modelfile,omitempty"`. Nothing else is allowed.
OLLAMA = validators("ollama.schemas.json", server_fields={
    ("ToolCall",): {"id": {"type": "string"}},
    ("ToolCall", "properties", "function"): {"index": {"type": "integer"}},
    ("GenerateResponse",): {"context": {"type": "array", "items": {"type": "integer"}}},
    ("ModelSummary", "properties", "details"): {"parent_model": {"type": "string"}},
    ("ShowResponse",): {"modelfile": {"type": "string"}},
})
OLLAMA_CHAT = {
    "text": {"model": "llama3.2", "messages": HELLO},
    "tools": {"model": "llama3.2", "messages": [{"role": "user", "content": "Weather in Paris? call get_weather"}],
              "tools": [WEATHER_TOOL]},
    "thinking": {"model": "qwen3:8b", "messages": HELLO, "think": True},
    "options": {"model": "llama3.2", "messages": HELLO, "options": {"num_predict": 2, "temperature": 0}},
}
OLLAMA_GENERATE = {
    "text": {"model": "llama3.2", "prompt": "hello there"},
    "system_raw": {"model": "llama3.2", "prompt": "hello", "system": "be brief", "raw": True},
    "format": {"model": "llama3.2", "prompt": "hello", "format": "json"},
    "thinking": {"model": "qwen3:8b", "prompt": "hello", "think": True},
}


def ndjson(raw: bytes) -> list[Any]:
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


async def _ollama(fake: FakeServer, path: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
    return await _call("POST", fake.origin("ollama") + path, body, "ollama")


@pytest.mark.parametrize("case", sorted(OLLAMA_CHAT))
async def test_ollama_chat_matches_the_openapi_schema(fake: FakeServer, case: str) -> None:
    """POST /api/chat: one ChatResponse, or ChatStreamEvent lines whose last (done) line is a ChatResponse."""
    status, _, raw = await _ollama(fake, "/api/chat", {**OLLAMA_CHAT[case], "stream": False})
    assert status == 200
    assert_matches("ChatResponse", json.loads(raw), OLLAMA)
    status, ctype, raw = await _ollama(fake, "/api/chat", OLLAMA_CHAT[case])  # stream defaults to true
    assert (status, ctype.split(";")[0]) == (200, "application/x-ndjson")
    *lines, last = ndjson(raw)
    for line in lines:
        assert_matches("ChatStreamEvent", line, OLLAMA)
    assert last["done"] is True
    assert_matches("ChatResponse", last, OLLAMA)


@pytest.mark.parametrize("case", sorted(OLLAMA_GENERATE))
async def test_ollama_generate_matches_the_openapi_schema(fake: FakeServer, case: str) -> None:
    """POST /api/generate: one GenerateResponse, or GenerateStreamEvent lines ending in a GenerateResponse."""
    status, _, raw = await _ollama(fake, "/api/generate", {**OLLAMA_GENERATE[case], "stream": False})
    assert status == 200
    assert_matches("GenerateResponse", json.loads(raw), OLLAMA)
    status, _, raw = await _ollama(fake, "/api/generate", OLLAMA_GENERATE[case])
    assert status == 200
    *lines, last = ndjson(raw)
    for line in lines:
        assert_matches("GenerateStreamEvent", line, OLLAMA)
    assert last["done"] is True
    assert_matches("GenerateResponse", last, OLLAMA)


async def test_ollama_listing_endpoints_match_the_openapi_schema(fake: FakeServer) -> None:
    """/api/tags, /api/ps, /api/show, /api/version and /api/embed answer their documented schemas."""
    origin = fake.origin("ollama")
    for path, schema in (("/api/tags", "ListResponse"), ("/api/ps", "PsResponse"), ("/api/version", "VersionResponse")):
        status, _, raw = await _call("GET", origin + path, None, "ollama")
        assert status == 200, path
        assert_matches(schema, json.loads(raw), OLLAMA)
    status, _, raw = await _ollama(fake, "/api/show", {"model": "llama3.2"})
    assert status == 200
    assert_matches("ShowResponse", json.loads(raw), OLLAMA)
    status, _, raw = await _ollama(fake, "/api/embed", {"model": "nomic-embed-text", "input": ["a", "b"]})
    assert status == 200
    assert_matches("EmbedResponse", json.loads(raw), OLLAMA)


async def test_ollama_errors_match_the_openapi_schema(fake: FakeServer) -> None:
    """An unknown model, a bad body and an injected 500 are ErrorResponse bodies."""
    for body, want in (({"model": "no-such-model", "messages": HELLO}, 404), ({"model": 3}, 400)):
        status, _, raw = await _ollama(fake, "/api/chat", {**body, "stream": False})
        assert status == want
        assert_matches("ErrorResponse", json.loads(raw), OLLAMA)
    fake.fail_next("ollama", "500")
    status, _, raw = await _ollama(fake, "/api/chat", {**OLLAMA_CHAT["text"], "stream": False})
    assert status == 500
    assert_matches("ErrorResponse", json.loads(raw), OLLAMA)


async def test_ollama_openai_compatible_api_matches_openais_schema(fake: FakeServer) -> None:
    """Ollama's /v1 chat (stream and not), models and embeddings answer OpenAI's own schemas (docs/openai.md),
    but for what Ollama's Go types leave out of a completion: ``choices[].logprobs`` (``omitempty``) and
    ``message.refusal`` (no such field), and what it adds: a thinking model's ``message.reasoning``."""
    base = fake.origin("ollama") + "/v1"
    omitted = ["choices/0: 'logprobs' is a required property", "choices/0/message: 'refusal' is a required property"]
    added = ["choices/0/message: Additional properties are not allowed ('reasoning' was unexpected)"]
    for body, extra in (({"model": "llama3.2", "messages": HELLO}, []), ({"model": "qwen3:8b", "messages": HELLO}, added)):
        status, _, raw = await _call("POST", base + "/chat/completions", body, "ollama")
        assert status == 200
        assert sorted(problems(OPENAI["CreateChatCompletionResponse"], json.loads(raw))) == sorted(omitted + extra)
        status, _, raw = await _call("POST", base + "/chat/completions",
                                     {**body, "stream": True, "stream_options": {"include_usage": True}}, "ollama")
        assert status == 200
        for chunk in sse_data(raw):
            found = problems(OPENAI["CreateChatCompletionStreamResponse"], chunk)
            thinking = chunk["choices"] and "reasoning" in chunk["choices"][0]["delta"]
            assert found == (["choices/0/delta: Additional properties are not allowed ('reasoning' was unexpected)"]
                             if thinking else []), chunk
    status, _, raw = await _call("GET", base + "/models", None, "ollama")
    assert status == 200
    assert_matches("ListModelsResponse", json.loads(raw))
    status, _, raw = await _call("POST", base + "/embeddings", {"model": "nomic-embed-text", "input": "hi"}, "ollama")
    assert status == 200
    assert_matches("CreateEmbeddingResponse", json.loads(raw))


# -- Gemini ---------------------------------------------------------------------------------------
# Google's v1beta discovery document is not reachable from this project's sources (the stored
# googleapis protos are a 2024 revision without usageMetadata), so the oracle is the official
# google-genai SDK's own GenerateContentResponse type, generated from Google's API definitions: its
# JSON schema by wire (camelCase) names, closed (the SDK's models forbid extra fields). It unites the
# Gemini API's and Vertex's fields, so it catches invented, misspelled, snake_case or mistyped fields and
# unknown enum values, not Vertex-only ones.


def _genai_validator(model: type[Any]) -> Any:
    from jsonschema import Draft202012Validator, FormatChecker

    schema = model.model_json_schema(by_alias=True, mode="serialization")
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _gemini_validators() -> dict[str, Any]:
    from google.genai import types

    # Only the response type the SDK keeps as sent: its CountTokensResponse and Model drop or rename wire
    # fields (promptTokensDetails, supportedGenerationMethods), so they are no oracle for the wire.
    return {"GenerateContentResponse": _genai_validator(types.GenerateContentResponse)}


GEMINI = _gemini_validators()
GEMINI_TOOL = {"functionDeclarations": [{"name": "get_weather", "description": "Weather for a city",
                                         "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}},
                                                        "required": ["city"]}}]}
GEMINI_BODIES = {
    "text": {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]},
    "system_and_limit": {"systemInstruction": {"parts": [{"text": "be brief"}]},
                         "contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
                         "generationConfig": {"maxOutputTokens": 2}},
    "tools": {"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}], "tools": [GEMINI_TOOL],
              "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
    "thinking": {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
                 "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 256}}},
}


async def _gemini(fake: FakeServer, method: str, body: dict[str, Any], query: str = "") -> tuple[int, str, bytes]:
    url = f"{fake.origin('gemini')}/v1beta/models/gemini-2.5-flash:{method}?key={fake.api_key}{query}"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


@pytest.mark.parametrize("case", sorted(GEMINI_BODIES))
async def test_gemini_generate_content_matches_the_sdk_schema(fake: FakeServer, case: str) -> None:
    """generateContent answers and every streamGenerateContent?alt=sse event are GenerateContentResponses."""
    status, _, raw = await _gemini(fake, "generateContent", GEMINI_BODIES[case])
    assert status == 200, raw
    body = json.loads(raw)
    assert_matches("GenerateContentResponse", body, GEMINI)
    assert body["candidates"][0]["content"]["parts"] and body["usageMetadata"]["totalTokenCount"] > 0
    status, ctype, raw = await _gemini(fake, "streamGenerateContent", GEMINI_BODIES[case], "&alt=sse")
    assert (status, ctype.split(";")[0]) == (200, "text/event-stream")
    events = sse_data(raw)
    assert events and "finishReason" in events[-1]["candidates"][0]
    for event in events:
        assert_matches("GenerateContentResponse", event, GEMINI)


def test_the_gemini_validator_rejects_snake_case_and_unknown_enums() -> None:
    """The SDK-derived schema is closed and uses wire names: snake_case or an unknown finishReason fails."""
    good = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": "STOP",
                            "index": 0}], "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 2}}
    assert problems(GEMINI["GenerateContentResponse"], good) == []
    assert problems(GEMINI["GenerateContentResponse"], {**good, "usage_metadata": {}})
    assert problems(GEMINI["GenerateContentResponse"],
                    {"candidates": [{**good["candidates"][0], "finishReason": "DONE"}]})


def _llama_cpp_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's answer with its three departures from OpenAI's schema undone: its own ``timings``, and no
    ``logprobs`` on a choice nor ``refusal`` on a message (to_json_oaicompat_chat writes neither)."""
    out = {k: v for k, v in body.items() if k != "timings"}
    out["choices"] = [{**c, "logprobs": None, **({"message": {**c["message"], "refusal": None}} if "message" in c else {})}
                      for c in body["choices"]]
    return out


async def test_docker_openai_compatible_api_matches_openais_schema(fake: FakeServer) -> None:
    """Docker Model Runner's /engines/v1 chat (stream and not) answers OpenAI's own schemas but for what
    llama.cpp's server writes differently (timings; no logprobs or refusal), and its models list matches."""
    body = {"model": "ai/smollm2", "messages": HELLO}
    status, _, raw = await _post(fake, "docker", "/chat/completions", body)
    assert status == 200
    done = json.loads(raw)
    assert "timings" in done and "logprobs" not in done["choices"][0] and "refusal" not in done["choices"][0]["message"]
    assert_matches("CreateChatCompletionResponse", _llama_cpp_to_openai(done))
    status, _, raw = await _post(fake, "docker", "/chat/completions",
                                 {**body, "stream": True, "stream_options": {"include_usage": True}})
    assert status == 200
    chunks = sse_data(raw)
    assert chunks
    for chunk in chunks:
        assert_matches("CreateChatCompletionStreamResponse", {k: v for k, v in chunk.items() if k != "timings"})
    status, listing = await _get(fake, "docker", "/models")
    assert status == 200
    # DMR's own addition to each Model (ToOpenAI's ``dmr`` metadata of the model's config) aside
    assert all(set(m["dmr"]) == {"architecture", "parameters", "quantization", "size"} for m in listing["data"])
    assert_matches("ListModelsResponse", {**listing, "data": [{k: v for k, v in m.items() if k != "dmr"}
                                                              for m in listing["data"]]})
