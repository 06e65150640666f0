"""The Docker Model Runner fake's other scheduler routes: Anthropic Messages through the scheduler
(``/v1/messages``, ``/engines[/{backend}]/v1/messages`` and ``count_tokens``), llama.cpp's text completions
(``/v1/completions``), the scheduler's own checks on every inference route (embeddings too), and the runner's
model reference normalisation (pkg/distribution). Raw HTTP against what the sources write, and the official
``anthropic`` and ``openai`` SDKs driving it unmodified."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from interlingua.fakes import FakeServer

from .test_docker_llamacpp_fake import chunks_of

HELLO = [{"role": "user", "content": "hello <there> & you é"}]
WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                                    "required": ["city"]}}
CHATCMPL = re.compile(r"chatcmpl-[0-9A-Za-z]{32}")
NOT_PULLED = "error while getting model: get model '\"{}\"': model not found\n"
MESSAGES_PATHS = ["/v1/messages", "/engines/v1/messages", "/engines/llama.cpp/v1/messages",
                  "/v1/llama.cpp/v1/messages"]
COMPLETIONS_PATHS = ["/v1/completions", "/engines/v1/completions", "/engines/llama.cpp/v1/completions",
                     "/v1/llama.cpp/v1/completions"]


@pytest.fixture
async def http(fake: FakeServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.origin("docker"), timeout=30) as c:
        yield c


def events_of(raw: str) -> list[tuple[str, Any]]:
    """``format_anthropic_sse``'s frames: ``event: <name>`` then ``data: <json>``, a blank line after each."""
    assert raw.endswith("\n\n")
    out = []
    for block in raw[:-2].split("\n\n"):
        event, data = block.split("\n")
        assert event.startswith("event: ") and data.startswith("data: "), block
        out.append((event[len("event: "):], json.loads(data[len("data: "):])))
    return out


def _llama_headers(r: httpx.Response) -> None:
    assert r.headers["content-type"] == "application/json; charset=utf-8" and r.headers["server"] == "llama.cpp"
    assert not r.text.endswith("\n")


# -- Anthropic Messages through the scheduler ----------------------------------------------------------


@pytest.mark.parametrize("path", MESSAGES_PATHS)
async def test_messages_on_the_scheduler_paths_are_llama_cpps(http: httpx.AsyncClient, path: str) -> None:
    """to_json_anthropic's fields in order, llama.cpp's headers through DMR's proxy, UTF-8 as is, the
    chatcmpl- id every completion route gets, the server's own model name."""
    r = await http.post(path, json={"model": "ai/smollm2", "max_tokens": 50, "messages": HELLO})
    assert r.status_code == 200
    _llama_headers(r)
    assert "Fake reply: hello <there> & you é" in r.text
    body = r.json()
    assert list(body) == ["id", "type", "role", "content", "model", "stop_reason", "stop_sequence", "usage"]
    assert CHATCMPL.fullmatch(body["id"]) and body["model"] == "model.gguf"
    assert body["content"] == [{"type": "text", "text": "Fake reply: hello <there> & you é"}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    assert list(body["usage"]) == ["cache_read_input_tokens", "input_tokens", "output_tokens"]


@pytest.mark.parametrize("path", [p + "/count_tokens" for p in MESSAGES_PATHS] + ["/anthropic/v1/messages/count_tokens"])
async def test_count_tokens_on_every_path(http: httpx.AsyncClient, path: str) -> None:
    r = await http.post(path, json={"model": "ai/smollm2", "messages": HELLO})
    assert r.status_code == 200 and list(r.json()) == ["input_tokens"] and r.json()["input_tokens"] > 0
    _llama_headers(r)


async def test_the_anthropic_layer_and_the_scheduler_give_the_same_message(http: httpx.AsyncClient) -> None:
    """/anthropic/v1/messages is DMR's layer handing the body to the scheduler's /engines/v1/messages."""
    body = {"model": "ai/smollm2", "max_tokens": 50, "messages": HELLO}
    a, b = (await http.post("/anthropic/v1/messages", json=body)), (await http.post("/v1/messages", json=body))
    assert a.headers["server"] == b.headers["server"] == "llama.cpp"
    assert a.json() == b.json()


@pytest.mark.parametrize(("path", "body", "status", "text"), [
    ("/v1/messages", b"not json", 400, "invalid request\n"),
    ("/v1/messages", b'{"model": 5}', 400, "invalid request\n"),
    ("/v1/messages", b"{}", 400, "model is required\n"),
    ("/v1/messages/count_tokens", b'{"model": ""}', 400, "model is required\n"),
    ("/engines/vllm/v1/messages", b'{"model": "ai/smollm2"}', 404, "backend not found\n"),
    ("/engines/v1/messages", b'{"model": "library/smollm2"}', 404, NOT_PULLED.format("library/smollm2")),
])
async def test_the_scheduler_refuses_messages_in_go_text(http: httpx.AsyncClient, path: str, body: bytes, status: int,
                                                         text: str) -> None:
    """handleOpenAIInference's checks come before llama.cpp: plain text, not Anthropic's error shape (which is
    DMR's /anthropic layer's own)."""
    r = await http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == "text/plain; charset=utf-8" and "server" not in r.headers
    layer = await http.post("/anthropic/v1/messages", content=body, headers={"Content-Type": "application/json"})
    if status == 400:
        assert layer.status_code == 400 and layer.json()["type"] == "error"


async def test_what_llama_cpp_refuses_on_messages(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/messages", json={"model": "ai/smollm2", "max_tokens": 5, "messages": "hi"})
    assert r.status_code == 400 and set(r.json()["error"]) == {"code", "message", "type"}
    _llama_headers(r)


async def test_a_messages_stream_is_llama_cpps(http: httpx.AsyncClient) -> None:
    """message_start, each block's start and deltas, then every close in order (the thinking block's empty
    signature_delta first), message_delta with output_tokens only, message_stop; no ping, no [DONE];
    llama.cpp's stream headers."""
    body = {"model": "ai/qwen3", "max_tokens": 2000, "messages": HELLO, "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    whole = (await http.post("/v1/messages", json={**body, "stream": False})).json()
    r = await http.post("/v1/messages", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-accel-buffering"] == "no" and r.headers["server"] == "llama.cpp" and "é" in r.text
    events = events_of(r.text)
    names = [e for e, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"] and "ping" not in names
    assert all(e == d["type"] for e, d in events)
    start = events[0][1]["message"]
    assert CHATCMPL.fullmatch(start["id"]) and start["model"] == "model.gguf" and start["content"] == []
    assert start["usage"]["output_tokens"] == 0
    assert [b["type"] for b in whole["content"]] == ["thinking", "text"]
    assert names[-5:] == ["content_block_delta", "content_block_stop", "content_block_stop", "message_delta",
                          "message_stop"]
    assert events[-5][1] == {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta",
                                                                                   "signature": ""}}
    assert [d["index"] for _, d in events[-4:-2]] == [0, 1]
    starts = [i for i, (e, _) in enumerate(events) if e == "content_block_start"]
    stops = [i for i, (e, _) in enumerate(events) if e == "content_block_stop"]
    assert max(starts) < min(stops)  # llama.cpp closes blocks only in the final result
    text = "".join(d["delta"]["text"] for e, d in events if e == "content_block_delta" and d["index"] == 1)
    assert text == whole["content"][1]["text"]
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": whole["usage"]["output_tokens"]}}


async def test_a_streamed_tool_call(http: httpx.AsyncClient) -> None:
    """The tool_use block: a 32-alphanumeric id (random_string), its input as input_json_delta pieces."""
    body = {"model": "ai/smollm2", "max_tokens": 200, "tools": [WEATHER], "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    whole = (await http.post("/v1/messages", json=body)).json()
    (use,) = [b for b in whole["content"] if b["type"] == "tool_use"]
    assert re.fullmatch(r"[0-9A-Za-z]{32}", use["id"]) and whole["stop_reason"] == "tool_use"
    events = events_of((await http.post("/v1/messages", json={**body, "stream": True})).text)
    (head,) = [d["content_block"] for e, d in events if e == "content_block_start" and d["content_block"]["type"] == "tool_use"]
    assert head == {"type": "tool_use", "id": use["id"], "name": "get_weather"}
    args = "".join(d["delta"]["partial_json"] for e, d in events
                   if e == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert json.loads(args) == use["input"]


async def test_a_mid_stream_failure_is_an_error_event(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """format_anthropic_sse({"event": "error", "data": format_error_response(…)}): the bare error object."""
    fake.fail_next("docker", "error-event", endpoint="chat")
    r = await http.post("/v1/messages", json={"model": "ai/smollm2", "max_tokens": 50, "messages": HELLO, "stream": True})
    assert events_of(r.text)[-1] == ("error", {"code": 500, "message": "Internal server error", "type": "server_error"})


def _anthropic_sdk(fake: FakeServer) -> anthropic.AsyncAnthropic:
    # the docs' base URL: the bare origin (the SDK then posts /v1/messages, which the /v1 alias routes)
    return anthropic.AsyncAnthropic(base_url=fake.origin("docker"), api_key="unused", max_retries=0)


async def test_the_anthropic_sdk_on_the_bare_origin(fake: FakeServer) -> None:
    async with _anthropic_sdk(fake) as client:
        msg = await client.messages.create(model="ai/smollm2", max_tokens=100, messages=HELLO)  # type: ignore[arg-type]
        assert msg.content[0].type == "text" and msg.content[0].text == "Fake reply: hello <there> & you é"
        assert msg.model == "model.gguf" and msg.usage.cache_read_input_tokens == 0
        async with client.messages.stream(model="smollm2", max_tokens=100, messages=HELLO) as stream:  # type: ignore[arg-type]
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert text == msg.content[0].text and final.stop_reason == "end_turn"
        assert final.usage.output_tokens == msg.usage.output_tokens
        count = await client.messages.count_tokens(model="ai/smollm2", messages=HELLO)  # type: ignore[arg-type]
        assert count.input_tokens == msg.usage.input_tokens
        fake.models("docker", unknown=["ai/gone"])
        with pytest.raises(anthropic.NotFoundError) as info:
            await client.messages.create(model="gone", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
        assert info.value.response.text == NOT_PULLED.format("gone")


# -- text completions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMPLETIONS_PATHS)
async def test_a_text_completion_is_llama_cpps(http: httpx.AsyncClient, path: str) -> None:
    """to_json_oaicompat: choices (text, index, logprobs null, finish_reason), created, model, system_fingerprint,
    object text_completion, usage (usage_json_oaicompat), id (gen_chatcmplid), timings."""
    r = await http.post(path, json={"model": "ai/smollm2", "prompt": "hello <there> & you é"})
    assert r.status_code == 200
    _llama_headers(r)
    body = r.json()
    assert list(body) == ["choices", "created", "model", "system_fingerprint", "object", "usage", "id", "timings"]
    assert body["choices"] == [{"text": "Fake reply: hello <there> & you é", "index": 0, "logprobs": None,
                                "finish_reason": "stop"}]
    assert body["object"] == "text_completion" and body["model"] == "model.gguf" and CHATCMPL.fullmatch(body["id"])
    assert re.fullmatch(r"b\d+-\w+", body["system_fingerprint"])
    assert list(body["usage"]) == ["completion_tokens", "prompt_tokens", "total_tokens", "prompt_tokens_details"]
    assert (body["timings"]["prompt_n"], body["timings"]["predicted_n"]) == (
        body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"])


async def test_a_text_completion_gives_the_chat_routes_answer(http: httpx.AsyncClient) -> None:
    """The prompt as one user message: the same text the chat route answers; max_tokens cuts it (length)."""
    chat = (await http.post("/v1/chat/completions", json={"model": "ai/smollm2", "messages": HELLO})).json()
    text = (await http.post("/v1/completions", json={"model": "ai/smollm2", "prompt": HELLO[0]["content"]})).json()
    assert text["choices"][0]["text"] == chat["choices"][0]["message"]["content"]
    cut = (await http.post("/v1/completions", json={"model": "ai/smollm2", "prompt": "hi", "max_tokens": 2})).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 2
    tokens = (await http.post("/v1/completions", json={"model": "ai/smollm2", "prompt": [1, 2, 3]})).json()
    assert tokens["usage"]["prompt_tokens"] == 3
    several = (await http.post("/v1/completions", json={"model": "ai/smollm2", "prompt": ["a", "b"]})).json()
    assert [c["choices"][0]["index"] for c in several] == [0, 1]  # one task per prompt, arr.size() > 1: an array


async def test_a_text_completion_stream(http: httpx.AsyncClient) -> None:
    """Partial results (text pieces, finish_reason null, no usage), the final result (text "", finish_reason,
    usage, timings), [DONE]."""
    body = {"model": "ai/smollm2", "prompt": "hello <there> & you é"}
    whole = (await http.post("/v1/completions", json=body)).json()
    r = await http.post("/v1/completions", json={**body, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-accel-buffering"] == "no" and r.headers["server"] == "llama.cpp"
    *pieces, final, done = chunks_of(r.text)
    assert done == "[DONE]"
    assert all(list(c) == ["choices", "created", "model", "system_fingerprint", "object", "id"] for c in pieces)
    assert all(c["choices"][0]["finish_reason"] is None and c["choices"][0]["logprobs"] is None for c in pieces)
    assert "".join(c["choices"][0]["text"] for c in pieces) == whole["choices"][0]["text"]
    assert list(final) == list(whole) and final["choices"] == [{"text": "", "index": 0, "logprobs": None,
                                                               "finish_reason": "stop"}]
    assert final["usage"] == whole["usage"] and {c["id"] for c in pieces} == {final["id"]}


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"model": "ai/smollm2"}, 500, '"prompt" is required'),
    ({"model": "ai/smollm2", "prompt": "x", "echo": True}, 500, "Only no echo is supported"),
    ({"model": "ai/smollm2", "prompt": "x", "best_of": 2}, 500, "Unsupported param: best_of"),
    ({"model": "ai/smollm2", "prompt": "x", "suffix": "y"}, 500, "Unsupported param: suffix"),
    ({"model": "ai/smollm2", "prompt": []}, 500, '"prompt" must not be empty'),
    ({"model": "ai/smollm2", "prompt": [{"a": 1}]}, 500,
     '"prompt" elements must be a string, a list of tokens, a JSON object containing a prompt string, or a list of '
     'mixed strings & tokens.'),
    ({"model": "ai/smollm2", "prompt": "x", "n": 5}, 400,
     "n_cmpl cannot be greater than the number of slots, please increase -np"),
])
async def test_llama_cpp_refuses_text_completions(http: httpx.AsyncClient, body: dict[str, Any], status: int,
                                                  message: str) -> None:
    """oaicompat_completion_params_parse and tokenize_input_prompts throw runtime errors (500 server_error);
    params_from_json_cmpl's are invalid requests (400)."""
    r = await http.post("/v1/completions", json=body)
    kind = {400: "invalid_request_error", 500: "server_error"}[status]
    assert (r.status_code, r.json()) == (status, {"error": {"code": status, "message": message, "type": kind}})


@pytest.mark.parametrize(("path", "body", "status", "text"), [
    ("/engines/v1/completions", b"[]", 400, "invalid request\n"),
    ("/engines/v1/completions", b'{"prompt": "x"}', 400, "model is required\n"),
    ("/engines/sglang/v1/completions", b'{"model": "ai/smollm2"}', 404, "backend not found\n"),
    ("/v1/completions", b'{"model": "huggingface.co/org/model", "prompt": "x"}', 404,
     NOT_PULLED.format("huggingface.co/org/model")),
    # embeddings: the same checks, before llama.cpp (its JSON shape is for what it refuses itself)
    ("/engines/v1/embeddings", b"not json", 400, "invalid request\n"),
    ("/v1/embeddings", b'{"input": "x"}', 400, "model is required\n"),
    ("/v1/embeddings", b'{"model": null, "input": "x"}', 400, "model is required\n"),
    ("/engines/llama.cpp/v1/embeddings", b'{"model": "nope/x", "input": "x"}', 404, NOT_PULLED.format("nope/x")),
    ("/engines/vllm/v1/embeddings", b'{"model": "ai/all-minilm", "input": "x"}', 404, "backend not found\n"),
])
async def test_the_scheduler_checks_every_inference_route(http: httpx.AsyncClient, path: str, body: bytes, status: int,
                                                          text: str) -> None:
    r = await http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == "text/plain; charset=utf-8" and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("base", ["/engines/v1", "/v1"])
async def test_the_openai_sdk_completions(fake: FakeServer, base: str) -> None:
    async with openai.AsyncOpenAI(base_url=fake.origin("docker") + base, api_key="unused", max_retries=0) as sdk:
        done = await sdk.completions.create(model="ai/smollm2", prompt="hello there")
        assert done.choices[0].text == "Fake reply: hello there" and done.object == "text_completion"
        assert done.usage is not None and done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
        stream = await sdk.completions.create(model="smollm2", prompt="hello there", stream=True)
        text, finish, usage = "", None, None
        async for chunk in stream:
            text += chunk.choices[0].text
            finish = chunk.choices[0].finish_reason or finish
            usage = chunk.usage or usage
        assert text == done.choices[0].text and finish == "stop" and usage == done.usage
        with pytest.raises(openai.NotFoundError):
            await sdk.completions.create(model="library/smollm2", prompt="x")


# -- model references ------------------------------------------------------------------------------------


ACCEPTED = ["ai/smollm2", "smollm2", "SmolLM2", "ai/smollm2:latest", "ai/smollm2:", "ai/smollm2:360M-Q4_K_M",
            "docker.io/ai/smollm2", "index.docker.io/ai/smollm2", "docker.io/smollm2", " ai/smollm2 "]
REFUSED = ["library/smollm2", "docker.io/library/smollm2", "huggingface.co/org/model", "hf.co/org/model",
           "registry-1.docker.io/ai/smollm2", "ai/smollm2:bad tag", "ai/Smol lm", "ai//smollm2",
           "ai/smollm2@sha256:" + "a" * 64, "a" * 64, "localhost:5000/ai/smollm2"]


@pytest.mark.parametrize("model", ACCEPTED)
async def test_the_store_finds_a_short_or_qualified_name(http: httpx.AsyncClient, model: str) -> None:
    """normalizeModelName (default org ai/, default tag latest, the name lowered, hf.co) and the store's
    ParseReference (docker.io and index.docker.io are Docker Hub, library/ is the default org): every route."""
    for path, body in (("/v1/chat/completions", {"messages": HELLO}), ("/v1/completions", {"prompt": "hi"}),
                       ("/v1/embeddings", {"input": "hi"}), ("/v1/messages", {"max_tokens": 9, "messages": HELLO}),
                       ("/anthropic/v1/messages", {"max_tokens": 9, "messages": HELLO}),
                       ("/api/chat", {"messages": HELLO, "stream": False})):
        r = await http.post(path, json={"model": model, **body})
        assert r.status_code == 200, (path, r.text)


@pytest.mark.parametrize("model", REFUSED)
async def test_the_store_refuses_other_names(http: httpx.AsyncClient, model: str) -> None:
    """Another namespace or registry, a reference that does not parse, an ID or digest the store has not:
    GetLocal's 404, naming the reference as sent."""
    for path, body in (("/v1/chat/completions", {"messages": HELLO}), ("/v1/completions", {"prompt": "hi"}),
                       ("/v1/embeddings", {"input": "hi"}), ("/v1/messages", {"max_tokens": 9, "messages": HELLO})):
        r = await http.post(path, json={"model": model, **body})
        assert (r.status_code, r.text) == (404, NOT_PULLED.format(model)), path
    layer = await http.post("/anthropic/v1/messages", json={"model": model, "max_tokens": 9, "messages": HELLO})
    assert (layer.status_code, layer.json()["error"]) == (404, {"type": "not_found_error",
                                                                "message": "Model not found: " + model})
    assert (await http.post("/api/chat", json={"model": model, "messages": HELLO})).status_code == 404


async def test_an_unpulled_model_is_unpulled_under_every_name(fake: FakeServer, http: httpx.AsyncClient) -> None:
    fake.models("docker", unknown=["ai/nope"])
    for model in ("nope", "ai/nope:latest", "docker.io/ai/nope", "NOPE"):
        r = await http.post("/v1/completions", json={"model": model, "prompt": "x"})
        assert (r.status_code, r.text) == (404, NOT_PULLED.format(model))
    assert (await http.post("/v1/completions", json={"model": "ai/nope:other-tag", "prompt": "x"})).status_code == 200


async def test_the_models_routes_answer_from_the_store(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """handleOpenAIGetModels/handleOpenAIGetModel: the store's models under their normalised tags with DMR's
    ``dmr`` metadata (json.NewEncoder's bytes: a trailing newline), one looked up by the rest of the path on every
    prefix, and GetLocal's plain-text 404 for one the store has not; a model a test removed leaves the list."""
    fake.models("docker", unknown=["ai/gemma3"])
    r = await http.get("/engines/v1/models")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.content.endswith(b"}\n")
    ids = [m["id"] for m in r.json()["data"]]
    assert "ai/smollm2:latest" in ids and "ai/gemma3:latest" not in ids
    first = r.json()["data"][0]
    assert first == {"id": "ai/smollm2:latest", "object": "model", "created": 1742816981, "owned_by": "docker",
                     "dmr": {"architecture": "llama", "parameters": "361.82 M", "quantization": "IQ2_XXS/Q4_K_M",
                             "size": "256.35 MiB"}}
    for path in ("/engines/v1/models/ai/smollm2", "/engines/llama.cpp/v1/models/smollm2:latest",
                 "/v1/models/docker.io/ai/smollm2", "/engines/v1/models/ai/smollm2:latest"):
        one = await http.get(path)
        assert (one.status_code, one.json()) == (200, first), path
    tagged = await http.get("/engines/v1/models/ai/qwen3:8B-Q4_K_M")
    assert tagged.json()["id"] == "ai/qwen3:8B-Q4_K_M"
    for model in ("ai/gemma3", "someone/else"):
        gone = await http.get("/engines/v1/models/" + model)
        assert (gone.status_code, gone.headers["content-type"], gone.text) == (
            404, "text/plain; charset=utf-8", NOT_PULLED.format(model))
