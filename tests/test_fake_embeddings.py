"""The fakes' embeddings endpoints — OpenAI's /v1/embeddings, Azure's deployment and v1 paths, Docker
Model Runner's engine paths, Gemini's embedContent and batchEmbedContents — over raw HTTP, and the
official SDKs (openai, google-genai) against them, unmodified."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
from typing import Any

import aiohttp
import openai
import pytest
from google import genai
from google.genai import types

from interlingua.fakes import FakeServer
from interlingua.fakes._content import count_tokens

from .spec_schemas import problems, validators

OPENAI_SCHEMAS = validators("openai-chat.schemas.json")
INPUT_INVALID = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
SIZES = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


async def _post(fake: FakeServer, provider: str, path: str, body: Any,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
    if headers is None:
        headers = {"openai": {"Authorization": f"Bearer {fake.api_key}"}, "azure": {"api-key": fake.api_key},
                   "gemini": {"x-goog-api-key": fake.api_key}}.get(provider, {})
    data = io.BytesIO(json.dumps(body).encode())  # a stream: big bodies without aiohttp's warning
    async with aiohttp.ClientSession() as http, http.post(fake.origin(provider) + path, data=data, headers={
            "content-type": "application/json", **headers}) as r:
        return r.status, await r.json(content_type=None)


def _f32(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _norm(values: list[float]) -> float:
    return math.sqrt(math.fsum(v * v for v in values))


def _openai_error(message: str, param: str | None = None, code: str | None = None,
                  type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# -- OpenAI, raw HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(SIZES))
async def test_openai_shape_size_norm_usage(fake: FakeServer, model: str) -> None:
    """The documented body, field for field: one unit-length vector of the model's size per input, in
    order, usage the fake's token count; it validates against OpenAI's CreateEmbeddingResponse schema."""
    texts = ["hello world", "goodbye, cruel world"]
    status, body = await _post(fake, "openai", "/v1/embeddings", {"model": model, "input": texts})
    assert status == 200
    assert list(body) == ["object", "data", "model", "usage"]
    assert body["object"] == "list" and body["model"] == model
    tokens = count_tokens(texts[0]) + count_tokens(texts[1])
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    assert [list(d) for d in body["data"]] == [["object", "index", "embedding"]] * 2
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1)]
    first, second = (d["embedding"] for d in body["data"])
    assert len(first) == len(second) == SIZES[model]
    assert abs(_norm(first) - 1) < 1e-5 and abs(_norm(second) - 1) < 1e-5
    assert first != second
    assert not problems(OPENAI_SCHEMAS["CreateEmbeddingResponse"], body)


async def test_openai_vectors_are_deterministic_per_model_and_text(fake: FakeServer) -> None:
    """The same (model, text) gets the same vector, as a lone string or in a list; another model or text
    gets another."""
    async def one(model: str, value: Any, i: int = 0) -> list[float]:
        status, body = await _post(fake, "openai", "/v1/embeddings", {"model": model, "input": value})
        assert status == 200
        return list(body["data"][i]["embedding"])

    a = await one("text-embedding-3-small", "the cat sat")
    assert a == await one("text-embedding-3-small", "the cat sat")
    assert a == await one("text-embedding-3-small", ["x", "the cat sat"], 1)
    assert a != await one("text-embedding-3-small", "the cat sat.")
    assert a != await one("text-embedding-ada-002", "the cat sat")


async def test_openai_base64_is_the_float_vector_as_little_endian_float32(fake: FakeServer) -> None:
    """encoding_format=base64 sends the same vector's little-endian float32 bytes."""
    body = {"model": "text-embedding-3-large", "input": "pack me"}
    _, floats = await _post(fake, "openai", "/v1/embeddings", {**body, "encoding_format": "float"})
    status, b64 = await _post(fake, "openai", "/v1/embeddings", {**body, "encoding_format": "base64"})
    assert status == 200
    raw = base64.b64decode(b64["data"][0]["embedding"])
    assert len(raw) == 4 * 3072
    assert raw == _f32(floats["data"][0]["embedding"])
    assert b64["usage"] == floats["usage"] and b64["usage"]["prompt_tokens"] == count_tokens("pack me")


async def test_openai_dimensions_shorten_and_renormalise(fake: FakeServer) -> None:
    """``dimensions`` gives the leading components of the full vector, re-normalised to unit length."""
    body = {"model": "text-embedding-3-large", "input": "shorten me"}
    _, full = await _post(fake, "openai", "/v1/embeddings", body)
    status, short = await _post(fake, "openai", "/v1/embeddings", {**body, "dimensions": 256})
    assert status == 200
    head, cut = full["data"][0]["embedding"][:256], short["data"][0]["embedding"]
    assert len(cut) == 256 and abs(_norm(cut) - 1) < 1e-5
    scale = _norm(head)
    assert scale < 0.9  # the head alone is not unit length: re-normalising changed it
    assert all(abs(c - h / scale) < 1e-6 for c, h in zip(cut, head, strict=True))


async def test_openai_token_arrays(fake: FakeServer) -> None:
    """An array of tokens is one input, an array of token arrays several; usage counts the tokens."""
    status, one = await _post(fake, "openai", "/v1/embeddings", {"model": "text-embedding-3-small", "input": [1, 2, 3]})
    assert status == 200 and len(one["data"]) == 1 and one["usage"]["prompt_tokens"] == 3
    status, two = await _post(fake, "openai", "/v1/embeddings",
                              {"model": "text-embedding-3-small", "input": [[1, 2, 3], [4, 5]], "user": "u-1"})
    assert status == 200 and [d["index"] for d in two["data"]] == [0, 1]
    assert two["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    assert two["data"][0]["embedding"] == one["data"][0]["embedding"] != two["data"][1]["embedding"]


LONG = " hello" * 8300  # more than 8192 tokens


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"model": "text-embedding-3-small", "input": ""}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small", "input": []}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small", "input": ["a", ""]}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small", "input": [[]]}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small", "input": [1, "a"]}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small", "input": ["a"] * 2049}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small", "input": {"text": "a"}}, 400, _openai_error(INPUT_INVALID)),
    ({"model": "text-embedding-3-small"}, 400,
     _openai_error("Missing required parameter: 'input'.", "input", "missing_required_parameter")),
    ({"input": "a"}, 400, _openai_error("you must provide a model parameter")),
    ({"model": "text-embedding-3-small", "input": "a", "encoding_format": "md5"}, 400,
     _openai_error("Invalid value for 'encoding_format' = md5. Supported values: ['float', 'base64'].")),
    ({"model": "text-embedding-ada-002", "input": "a", "dimensions": 256}, 400,
     _openai_error("This model does not support specifying dimensions.")),
    ({"model": "text-embedding-ada-002", "input": "a", "dimensions": None}, 400,
     _openai_error("This model does not support specifying dimensions.")),
    ({"model": "text-embedding-3-small", "input": "a", "dimensions": 0}, 400,
     _openai_error("Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got 0 instead.",
                   "dimensions", "integer_below_min_value")),
    ({"model": "text-embedding-3-small", "input": "a", "dimensions": 1537}, 400,
     _openai_error("Invalid 'dimensions': integer above maximum value. Expected a value <= 1536, but got 1537 "
                   "instead.", "dimensions", "integer_above_max_value")),
    ({"model": "gpt-4o", "input": "a"}, 404,
     _openai_error("The model `gpt-4o` does not exist or you do not have access to it.", code="model_not_found")),
    ({"model": "text-embedding-3-small", "input": ["a", LONG]}, 400,
     _openai_error(f"This model's maximum context length is 8192 tokens, however you requested {count_tokens(LONG)} "
                   f"tokens ({count_tokens(LONG)} in your prompt; 0 for the completion). Please reduce your prompt; "
                   "or completion length.")),
], ids=["empty-string", "empty-list", "empty-in-list", "empty-tokens", "mixed", "2049-inputs", "object",
        "no-input", "no-model", "encoding", "ada-dimensions", "ada-dimensions-null", "dimensions-0",
        "dimensions-over", "chat-model", "too-long"])
async def test_openai_refusals(fake: FakeServer, body: dict[str, Any], status: int, error: dict[str, Any]) -> None:
    """Each documented limit is refused with OpenAI's status and error body."""
    got_status, got = await _post(fake, "openai", "/v1/embeddings", body)
    assert (got_status, got) == (status, error)


async def test_openai_request_token_cap(fake: FakeServer) -> None:
    """More than 300,000 tokens across the inputs: OpenAI's max_tokens_per_request 400."""
    chunk = " word" * 8000
    n = count_tokens(chunk)
    inputs = [chunk] * (300_000 // n + 1)
    status, body = await _post(fake, "openai", "/v1/embeddings", {"model": "text-embedding-3-small", "input": inputs})
    assert status == 400
    assert body == _openai_error(f"Requested {n * len(inputs)} tokens, max 300000 tokens per request",
                                 code="max_tokens_per_request", type_="max_tokens_per_request")


async def test_openai_auth_and_declared_unknown_model(fake: FakeServer) -> None:
    """Auth answers as the chat route does; a model a test declares unknown is model_not_found."""
    body = {"model": "text-embedding-3-small", "input": "a"}
    for headers in ({}, {"Authorization": "Bearer wrong-key-123"}):
        status, got = await _post(fake, "openai", "/v1/embeddings", body, headers)
        chat_status, chat = await _post(fake, "openai", "/v1/chat/completions",
                                        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                                        headers)
        assert status == chat_status == 401 and got == chat
    fake.models("openai", unknown=["text-embedding-3-large"])
    status, got = await _post(fake, "openai", "/v1/embeddings", {**body, "model": "text-embedding-3-large"})
    assert status == 404 and got["error"]["code"] == "model_not_found"


async def test_openai_faults_by_endpoint(fake: FakeServer) -> None:
    """fail_next aimed at "embeddings" hits the embeddings route, not chat; its body is OpenAI's."""
    fake.fail_next("openai", "500", endpoint="embeddings")
    status, body = await _post(fake, "openai", "/v1/chat/completions",
                               {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    status, body = await _post(fake, "openai", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "a"})
    assert status == 500 and body["error"]["type"] == "server_error"
    fake.fail_next("openai", "429")
    status, body = await _post(fake, "openai", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "a"})
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    assert [r.endpoint for r in fake.requests_for("openai")] == ["chat", "embeddings", "embeddings"]


# -- the openai SDK -----------------------------------------------------------------------------------


async def test_openai_sdk_default_base64_and_float(fake: FakeServer) -> None:
    """embeddings.create asks for base64 by default and decodes it; with encoding_format="float" the same
    float32 vector arrives as JSON numbers."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("openai"), api_key=fake.api_key, max_retries=0) as sdk:
        default = await sdk.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
        assert fake.requests[-1].json()["encoding_format"] == "base64"
        floats = await sdk.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"],
                                             encoding_format="float")
        short = await sdk.embeddings.create(model="text-embedding-3-small", input="alpha", dimensions=64)
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk.embeddings.create(model="text-embedding-ada-002", input="alpha", dimensions=64)
    assert [len(d.embedding) for d in default.data] == [1536, 1536]
    assert [_f32(d.embedding) for d in default.data] == [_f32(d.embedding) for d in floats.data]
    assert default.data[0].embedding != default.data[1].embedding
    assert default.usage.prompt_tokens == count_tokens("alpha") + count_tokens("beta") == default.usage.total_tokens
    assert len(short.data[0].embedding) == 64 and abs(_norm(short.data[0].embedding) - 1) < 1e-5
    assert bad.value.status_code == 400 and "does not support specifying dimensions" in bad.value.message


# -- Azure --------------------------------------------------------------------------------------------


async def test_azure_sdk_embeddings_on_the_deployment_path(fake: FakeServer) -> None:
    """AsyncAzureOpenAI embeds on /openai/deployments/{deployment}/embeddings with the OpenAI fake's vectors."""
    async with openai.AsyncAzureOpenAI(azure_endpoint=fake.url_for("azure"), api_key=fake.api_key,
                                       api_version="2024-10-21", max_retries=0) as az:
        got = await az.embeddings.create(model="text-embedding-3-large", input=["one", "two"])
        seen = fake.requests[-1]
        with pytest.raises(openai.BadRequestError) as chat_model:
            await az.embeddings.create(model="gpt-4o-mini", input="one")
        with pytest.raises(openai.BadRequestError) as embedding_model:
            await az.chat.completions.create(model="text-embedding-3-large",
                                             messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.NotFoundError) as missing:
            await az.embeddings.create(model="no-such-deployment", input="one")
    assert seen.path == "/openai/deployments/text-embedding-3-large/embeddings"
    assert seen.query["api-version"] == "2024-10-21"
    _, direct = await _post(fake, "openai", "/v1/embeddings",
                            {"model": "text-embedding-3-large", "input": ["one", "two"], "encoding_format": "float"})
    assert [_f32(d.embedding) for d in got.data] == [_f32(d["embedding"]) for d in direct["data"]]
    assert chat_model.value.body == {
        "code": "OperationNotSupported",
        "message": "The embeddings operation does not work with the specified model, gpt-4o-mini. Please choose "
                   "different model and try again. You can learn more about which models can be used with each "
                   "operation here: https://go.microsoft.com/fwlink/?linkid=2197993."}
    assert isinstance(embedding_model.value.body, dict)
    assert embedding_model.value.body["code"] == "OperationNotSupported"
    assert embedding_model.value.body["message"].startswith(
        "The chatCompletion operation does not work with the specified model, text-embedding-3-large.")
    assert isinstance(missing.value.body, dict) and missing.value.body["code"] == "DeploymentNotFound"


async def test_azure_v1_path_version_and_auth(fake: FakeServer) -> None:
    """/openai/v1/embeddings takes the body's model; the deployment path needs a known api-version and a key."""
    body = {"model": "text-embedding-3-small", "input": "hi", "encoding_format": "float"}
    status, v1 = await _post(fake, "azure", "/openai/v1/embeddings", body)
    assert status == 200 and len(v1["data"][0]["embedding"]) == 1536 and v1["model"] == "text-embedding-3-small"
    status, got = await _post(fake, "azure", "/openai/v1/embeddings", {**body, "model": "gpt-4o"})
    assert status == 400 and got["error"]["code"] == "OperationNotSupported"
    path = "/openai/deployments/text-embedding-3-small/embeddings"
    assert await _post(fake, "azure", path, body) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    assert await _post(fake, "azure", path + "?api-version=1999-01-01", body) == (
        400, {"error": {"code": "BadRequest", "message": "API version not supported"}})
    status, got = await _post(fake, "azure", path + "?api-version=2024-10-21", body, {"api-key": "wrong"})
    assert status == 401 and got["error"]["code"] == "401"
    status, got = await _post(fake, "azure", path + "?api-version=2024-10-21", {"input": ""})
    assert status == 400 and got == _openai_error(INPUT_INVALID)
    fake.fail_next("azure", "503", endpoint="embeddings")
    status, got = await _post(fake, "azure", path + "?api-version=2024-10-21", body)
    assert status == 503 and got["error"]["code"] == "InternalServerError"


# -- Docker Model Runner ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/engines/v1", "/engines/llama.cpp/v1"])
async def test_docker_embeddings(fake: FakeServer, prefix: str) -> None:
    """llama.cpp's /v1/embeddings under both engine prefixes: the model's size, unit length, base64 too,
    no auth; its 400s in llama.cpp's shape and the runner's plain-text 404 (GetLocal's message)."""
    body = {"model": "ai/mxbai-embed-large", "input": ["x", "y"]}
    status, got = await _post(fake, "docker", prefix + "/embeddings", body)
    assert status == 200 and got["object"] == "list" and got["model"] == "ai/mxbai-embed-large"
    assert got["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    x = got["data"][0]["embedding"]
    assert len(x) == 1024 and abs(_norm(x) - 1) < 1e-5 and x != got["data"][1]["embedding"]
    status, b64 = await _post(fake, "docker", prefix + "/embeddings", {**body, "encoding_format": "base64"})
    assert status == 200 and base64.b64decode(b64["data"][0]["embedding"]) == _f32(x)
    assert await _post(fake, "docker", prefix + "/embeddings", {"model": "ai/all-minilm", "input": ""}) == (
        400, {"error": {"code": 400, "message": "Input content cannot be empty", "type": "invalid_request_error"}})
    assert await _post(fake, "docker", prefix + "/embeddings", {"model": "ai/all-minilm"}) == (
        400, {"error": {"code": 400, "message": '"input" or "content" must be provided',
                        "type": "invalid_request_error"}})
    async with aiohttp.ClientSession() as http, \
            http.post(fake.origin("docker") + prefix + "/embeddings", json={"model": "nope/x", "input": "a"}) as r:
        # the scheduler's GetLocal refusal (handleOpenAIInference), before llama.cpp sees the body
        assert r.status == 404 and await r.text() == "error while getting model: get model '\"nope/x\"': model not found\n"


async def test_docker_openai_sdk(fake: FakeServer) -> None:
    """The openai SDK's default (base64) request against the runner decodes to the float vector."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("docker"), api_key="unused", max_retries=0) as sdk:
        got = await sdk.embeddings.create(model="ai/all-minilm", input="hello")
        floats = await sdk.embeddings.create(model="ai/all-minilm", input="hello", encoding_format="float")
    assert len(got.data[0].embedding) == 384 and _f32(got.data[0].embedding) == _f32(floats.data[0].embedding)


# -- Gemini -------------------------------------------------------------------------------------------


def _gemini_error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


async def test_gemini_embed_content_and_batch(fake: FakeServer) -> None:
    """embedContent → {"embedding": {"values"}}; batchEmbedContents → {"embeddings": [...]} in order, each
    equal to the single answer; 3072 values for gemini-embedding-001, unit length; both API versions."""
    one = {"content": {"parts": [{"text": "hello"}]}, "taskType": "RETRIEVAL_QUERY"}
    status, single = await _post(fake, "gemini", "/v1beta/models/gemini-embedding-001:embedContent", one)
    assert status == 200 and list(single) == ["embedding"] and list(single["embedding"]) == ["values"]
    values = single["embedding"]["values"]
    assert len(values) == 3072 and abs(_norm(values) - 1) < 1e-5
    batch = {"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}}
                          for t in ("other", "hello")]}
    status, many = await _post(fake, "gemini", "/v1/models/gemini-embedding-001:batchEmbedContents", batch)
    assert status == 200 and list(many) == ["embeddings"]
    assert many["embeddings"][1]["values"] == values != many["embeddings"][0]["values"]
    # text-embedding-004 was shut down on 2026-01-14: Google answers it as any unknown model
    status, old = await _post(fake, "gemini", "/v1beta/models/text-embedding-004:embedContent", one)
    assert status == 404 and old["error"]["status"] == "NOT_FOUND"


async def test_gemini_output_dimensionality_is_a_prefix_not_renormalised(fake: FakeServer) -> None:
    """outputDimensionality keeps the leading values as they are (only the full 3072 is normalised)."""
    body = {"content": {"parts": [{"text": "prefix"}]}}
    _, full = await _post(fake, "gemini", "/v1beta/models/gemini-embedding-001:embedContent", body)
    status, short = await _post(fake, "gemini", "/v1beta/models/gemini-embedding-001:embedContent",
                                {**body, "outputDimensionality": 768})
    assert status == 200
    assert short["embedding"]["values"] == full["embedding"]["values"][:768]
    assert _norm(short["embedding"]["values"]) < 0.9


async def test_gemini_refusals(fake: FakeServer) -> None:
    """A generateContent model asked to embed and an embedding model asked to generate get Google's 404;
    bad task types, empty parts, unknown fields and batches over 100 its 400s."""
    text = {"content": {"parts": [{"text": "x"}]}}
    base = "/v1beta/models/"
    assert await _post(fake, "gemini", base + "gemini-2.5-flash:embedContent", text) == (404, _gemini_error(
        404, "NOT_FOUND", "models/gemini-2.5-flash is not found for API version v1beta, or is not supported for "
        "embedContent. Call ListModels to see the list of available models and their supported methods."))
    assert await _post(fake, "gemini", base + "gemini-embedding-001:generateContent",
                       {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}) == (404, _gemini_error(
        404, "NOT_FOUND", "models/gemini-embedding-001 is not found for API version v1beta, or is not supported "
        "for generateContent. Call ListModels to see the list of available models and their supported methods."))
    status, got = await _post(fake, "gemini", base + "gemini-embedding-001:embedContent", {**text, "taskType": "NOPE"})
    assert status == 400 and got["error"]["message"] == (
        "Invalid value at 'task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), \"NOPE\"")
    assert await _post(fake, "gemini", base + "gemini-embedding-001:embedContent",
                       {"content": {"parts": [{"text": ""}]}}) == (
        400, _gemini_error(400, "INVALID_ARGUMENT", "EmbedContentRequest.content contains an empty Part."))
    status, got = await _post(fake, "gemini", base + "gemini-embedding-001:embedContent", {**text, "bogus": 1})
    assert status == 400 and got["error"]["message"] == ('Invalid JSON payload received. Unknown name "bogus": '
                                                         "Cannot find field.")
    batch = {"requests": [{"model": "models/gemini-embedding-001", **text}] * 101}
    assert await _post(fake, "gemini", base + "gemini-embedding-001:batchEmbedContents", batch) == (
        400, _gemini_error(400, "INVALID_ARGUMENT",
                           "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n"))
    status, got = await _post(fake, "gemini", base + "gemini-embedding-001:embedContent", text, {})
    assert status == 403 and got["error"]["status"] == "PERMISSION_DENIED"
    fake.fail_next("gemini", "429", endpoint="embeddings")
    status, got = await _post(fake, "gemini", base + "gemini-embedding-001:embedContent", text)
    assert status == 429 and got["error"]["status"] == "RESOURCE_EXHAUSTED"


async def test_gemini_models_list_and_get_embedding_models(fake: FakeServer) -> None:
    """ListModels and GetModel know the embedding models, with embedContent among their methods."""
    key = {"x-goog-api-key": fake.api_key}
    async with aiohttp.ClientSession(headers=key) as http:
        async with http.get(fake.origin("gemini") + "/v1beta/models/gemini-embedding-001") as r:
            assert r.status == 200
            info = await r.json()
        async with http.get(fake.origin("gemini") + "/v1beta/models/text-embedding-004") as r:
            assert r.status == 404  # shut down on 2026-01-14
        async with http.get(fake.origin("gemini") + "/v1beta/models") as r:
            listed = {m["name"]: m["supportedGenerationMethods"] for m in (await r.json())["models"]}
    assert info["name"] == "models/gemini-embedding-001" and "embedContent" in info["supportedGenerationMethods"]
    assert info["inputTokenLimit"] == 2048
    assert "embedContent" in listed["models/gemini-embedding-001"]
    assert "embedContent" not in listed["models/gemini-2.5-flash"]


async def test_google_genai_sdk_embed_content(fake: FakeServer) -> None:
    """client.models.embed_content (one text and several) goes to :batchEmbedContents and parses our answer."""
    client = genai.Client(api_key=fake.api_key, http_options=types.HttpOptions(base_url=fake.origin("gemini")))
    one = await client.aio.models.embed_content(model="gemini-embedding-001", contents="hello")
    assert fake.requests[-1].path.endswith("/models/gemini-embedding-001:batchEmbedContents")
    several = await client.aio.models.embed_content(
        model="gemini-embedding-001", contents=["other", "hello"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=128))
    sent = fake.requests[-1].json()["requests"]
    assert [r["outputDimensionality"] for r in sent] == [128, 128] and sent[0]["taskType"] == "RETRIEVAL_DOCUMENT"
    assert one.embeddings is not None and several.embeddings is not None
    full = one.embeddings[0].values
    assert full is not None and len(full) == 3072 and abs(_norm(full) - 1) < 1e-5
    assert [e.values for e in several.embeddings][1] == full[:128]
    with pytest.raises(genai.errors.ClientError) as missing:
        await client.aio.models.embed_content(model="gemini-2.5-flash", contents="hello")
    assert missing.value.code == 404
