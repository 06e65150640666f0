"""The Ollama fake's ``POST /v1/chat/completions``: Ollama's own translation layer over its chat handler
(openai/openai.go, middleware/openai.go, server/routes.go), not OpenAI's service under Ollama's names.
Raw HTTP against what Ollama's source writes, the same answer as ``/api/chat``, and the official
``openai`` SDK and LangChain's ``ChatOpenAI`` driving it unmodified."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from interlingua.fakes import FakeServer

HELLO = [{"role": "user", "content": "hello <there> & you"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK_WEATHER = [{"role": "user", "content": "what is the weather in Paris? use get_weather"}]


@pytest.fixture
async def http(fake: FakeServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.origin("ollama"), timeout=30) as c:
        yield c


def chunks_of(raw: str) -> list[Any]:
    """The ``data:`` payloads in order, ``[DONE]`` as the string."""
    assert raw.endswith("\n\n")
    out = []
    for block in raw[:-2].split("\n\n"):
        assert block.startswith("data: ") and "\n" not in block, block
        data = block[len("data: "):]
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


async def test_a_completion_is_what_ollama_writes_not_what_openai_does(http: httpx.AsyncClient) -> None:
    """ToChatCompletion's fields in its order, Go's encoding (HTML escaped, a newline), and none of
    OpenAI's service headers or fields: no quota headers, no request id, no refusal, no service tier."""
    r = await http.post("/v1/chat/completions", json={"model": "llama3.2", "messages": HELLO})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert not [h for h in r.headers if h.lower().startswith(("x-", "openai-"))]
    assert r.text.endswith("}\n") and "\\u003cthere\\u003e \\u0026 you" in r.text
    body = r.json()
    assert list(body) == ["id", "object", "created", "model", "system_fingerprint", "choices", "usage"]
    assert re.fullmatch(r"chatcmpl-\d{1,3}", body["id"]) and body["object"] == "chat.completion"
    assert body["model"] == "llama3.2" and body["system_fingerprint"] == "fp_ollama"
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Fake reply: hello <there> & you"},
                                "finish_reason": "stop"}]
    assert list(body["usage"]) == ["prompt_tokens", "completion_tokens", "total_tokens"]


async def test_the_answer_is_the_chat_handlers(http: httpx.AsyncClient) -> None:
    """The same conversation on /api/chat and /v1/chat/completions: the same text, thinking and counts
    (Ollama translates the one into the other); a thinking model thinks unless told effort none."""
    for model, effort in (("llama3.2", None), ("qwen3:8b", None), ("qwen3:8b", "none"), ("qwen3:8b", "minimal")):
        native = (await http.post("/api/chat", json={"model": model, "messages": HELLO, "stream": False,
                                                      **({"think": {"none": False, "minimal": "low"}[effort]} if effort else {})})).json()
        compat = (await http.post("/v1/chat/completions", json={"model": model, "messages": HELLO,
                                                                **({"reasoning_effort": effort} if effort else {})})).json()
        message = compat["choices"][0]["message"]
        assert message["content"] == native["message"]["content"]
        assert message.get("reasoning") == native["message"].get("thinking"), (model, effort)
        assert bool(message.get("reasoning")) == (model == "qwen3:8b" and effort != "none")
        assert compat["usage"] == {"prompt_tokens": native["prompt_eval_count"], "completion_tokens": native["eval_count"],
                                   "total_tokens": native["prompt_eval_count"] + native["eval_count"]}


async def test_reasoning_object_wins_over_reasoning_effort(http: httpx.AsyncClient) -> None:
    """``reasoning.effort`` is read when the object is there, ``reasoning_effort`` otherwise."""
    r = await http.post("/v1/chat/completions", json={"model": "qwen3:8b", "messages": HELLO,
                                                      "reasoning": {"effort": "none"}, "reasoning_effort": "high"})
    assert "reasoning" not in r.json()["choices"][0]["message"]
    r = await http.post("/v1/chat/completions", json={"model": "qwen3:8b", "messages": HELLO,
                                                      "reasoning": {"effort": "bogus"}, "reasoning_effort": "none"})
    assert r.status_code == 400


async def test_stream_frames_as_the_chat_writer_writes_them(http: httpx.AsyncClient) -> None:
    """Role on the first chunk only; thinking as {"content": "", "reasoning"} deltas, then the content;
    a finish chunk with an empty delta; the usage chunk (choices []) when asked; [DONE]. One id and one
    created throughout, and the pieces add up to the non-streamed answer."""
    body = {"model": "qwen3:8b", "messages": HELLO}
    whole = (await http.post("/v1/chat/completions", json=body)).json()
    r = await http.post("/v1/chat/completions", json={**body, "stream": True, "stream_options": {"include_usage": True}})
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    chunks = chunks_of(r.text)
    assert chunks[-1] == "[DONE]"
    *deltas, finish, usage, _ = chunks
    assert {(c["id"], c["created"], c["object"], c["system_fingerprint"]) for c in chunks[:-1]} == {
        (deltas[0]["id"], deltas[0]["created"], "chat.completion.chunk", "fp_ollama")}
    ds = [c["choices"][0]["delta"] for c in deltas]
    assert ds[0]["role"] == "assistant" and not any("role" in d for d in ds[1:])
    assert all(c["choices"][0]["finish_reason"] is None and list(c["choices"][0]) == ["index", "delta", "finish_reason"]
               for c in deltas)
    thinking = [d for d in ds if "reasoning" in d]
    assert thinking == ds[: len(thinking)] and all(d["content"] == "" for d in thinking)
    assert "".join(d["reasoning"] for d in thinking) == whole["choices"][0]["message"]["reasoning"]
    assert "".join(d["content"] for d in ds) == whole["choices"][0]["message"]["content"]
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}] and "usage" not in finish
    assert usage["choices"] == [] and usage["usage"] == whole["usage"]
    r = await http.post("/v1/chat/completions", json={**body, "stream": True})
    assert "usage" not in r.text and chunks_of(r.text)[-2]["choices"][0]["finish_reason"] == "stop"


async def test_a_tool_call_has_empty_content_and_finishes_tool_calls(http: httpx.AsyncClient) -> None:
    """ToToolCalls: id, index, type and the arguments as text; content "" (not null); finish tool_calls —
    also in a stream, where the call is one delta."""
    body = {"model": "llama3.2", "messages": ASK_WEATHER, "tools": [WEATHER]}
    choice = (await http.post("/v1/chat/completions", json=body)).json()["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert choice["message"]["content"] == "" and choice["finish_reason"] == "tool_calls"
    assert list(call) == ["id", "index", "type", "function"] and call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    chunks = chunks_of((await http.post("/v1/chat/completions", json={**body, "stream": True})).text)
    (delta,) = [c["choices"][0]["delta"] for c in chunks[:-1] if c["choices"][0]["delta"].get("tool_calls")]
    (streamed,) = delta.pop("tool_calls")
    assert delta in ({"content": ""}, {"role": "assistant", "content": ""})
    assert re.fullmatch(r"call_[0-9a-z]{8}", streamed.pop("id")) and call.pop("id") and streamed == call  # ids are random
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_tool_result_round_trip(http: httpx.AsyncClient) -> None:
    """A tool message answers its call (its name found from the call id), and the model answers with it."""
    first = (await http.post("/v1/chat/completions", json={"model": "llama3.2", "messages": ASK_WEATHER,
                                                             "tools": [WEATHER]})).json()["choices"][0]["message"]
    (call,) = first["tool_calls"]
    msgs = [*ASK_WEATHER, first, {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}]
    r = await http.post("/v1/chat/completions", json={"model": "llama3.2", "messages": msgs, "tools": [WEATHER]})
    assert r.status_code == 200 and "sunny, 21C" in r.json()["choices"][0]["message"]["content"]


async def test_fields_ollama_does_not_read_or_check(http: httpx.AsyncClient) -> None:
    """Go's decoder drops what the request type lacks and checks no ranges: tool_choice, n, user and an
    out-of-range temperature are taken without a word, and only one choice comes back."""
    r = await http.post("/v1/chat/completions", json={
        "model": "llama3.2", "messages": HELLO, "temperature": 7, "top_p": 3, "n": 3, "user": "u", "tool_choice": "required",
        "max_completion_tokens": 1, "parallel_tool_calls": False, "logit_bias": {"1": 5}})
    assert r.status_code == 200 and len(r.json()["choices"]) == 1
    assert r.json()["choices"][0]["message"]["content"] == "Fake reply: hello <there> & you"


async def test_max_tokens_cuts_the_answer(http: httpx.AsyncClient) -> None:
    r = await http.post("/v1/chat/completions", json={"model": "llama3.2", "messages": HELLO, "max_tokens": 2})
    assert r.json()["choices"][0]["finish_reason"] == "length" and r.json()["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize(("body", "status", "message", "middleware"), [
    (b"", 400, "EOF", True),
    (b'{"model": 5, "messages": []}', 400,
     "json: cannot unmarshal number into Go struct field ChatCompletionRequest.model of type string", True),
    (b'{"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1.5}', 400,
     "json: cannot unmarshal number 1.5 into Go struct field ChatCompletionRequest.max_tokens of type int", True),
    (b"[1]", 400, "json: cannot unmarshal array into Go value of type openai.ChatCompletionRequest", True),
    (b'{"model": "llama3.2", "messages": []}', 400, "[] is too short - 'messages'", True),
    (b'{"model": "llama3.2"}', 400, "[] is too short - 'messages'", True),
    (b'{"model": "llama3.2", "messages": [{"role": "user", "content": 5}]}', 400,
     "invalid message content type: float64", True),
    (b'{"model": "llama3.2", "messages": [{"role": "user"}]}', 400, "invalid message content type: <nil>", True),
    (b'{"model": "llama3.2", "messages": [{"role": "user", "content": [{"type": "video"}]}]}', 400,
     "invalid message format", True),
    (b'{"model": "llama3.2", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": '
     b'{"url": "https://example.com/a.png"}}]}]}', 400,
     "image URLs are not currently supported, please use base64 encoded data instead", True),
    (b'{"model": "llama3.2", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": '
     b'{"name": "f", "arguments": "not json"}}]}]}', 400, "invalid tool call arguments", True),
    (b'{"model": "qwen3:8b", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "extreme"}', 400,
     'invalid reasoning value: "extreme" (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")',
     True),
    (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "model is required", False),
    (b'{"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "top_logprobs": 21}', 400,
     "top_logprobs must be between 0 and 20", False),
    (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}', 404, "model 'gpt-4o' not found", False),
    (b'{"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}', 400,
     '"llama3.2" does not support thinking', False),
    (b'{"model": "nomic-embed-text", "messages": [{"role": "user", "content": "hi"}]}', 400,
     '"nomic-embed-text" does not support chat', False),
    (b'{"model": "llava:7b", "messages": [{"role": "user", "content": "hi"}], "tools": [' + json.dumps(WEATHER).encode()
     + b"]}", 400, "registry.ollama.ai/library/llava:7b does not support tools", False),
])
async def test_errors_in_the_layers_shape(http: httpx.AsyncClient, body: bytes, status: int, message: str,
                                          middleware: bool) -> None:
    """NewError's body; the middleware's own 400s through gin (charset), the chat handler's through the
    writer (plain application/json and a newline)."""
    r = await http.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    kind = {400: "invalid_request_error", 404: "not_found_error"}[status]
    assert (r.status_code, r.json()) == (status, {"error": {"message": message, "type": kind, "param": None, "code": None}})
    assert r.headers["content-type"] == ("application/json; charset=utf-8" if middleware else "application/json")
    assert r.text.endswith("\n") != middleware


async def test_faults_answer_in_the_layers_shape(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """A status fault is NewError-shaped (429 api_error, with its Retry-After); a mid-stream failure is one
    chunk with an empty delta and the stream ends, without [DONE] (the writer reads the chat's error line
    as an empty answer)."""
    fake.fail_next("ollama", "429;retry-after=7", endpoint="chat")
    r = await http.post("/v1/chat/completions", json={"model": "llama3.2", "messages": HELLO})
    assert r.status_code == 429 and r.json()["error"]["type"] == "api_error" and r.headers["retry-after"] == "7"
    fake.fail_next("ollama", "error-event", endpoint="chat")
    r = await http.post("/v1/chat/completions", json={"model": "llama3.2", "messages": HELLO, "stream": True})
    chunks = chunks_of(r.text)
    assert chunks[-1] != "[DONE]" and chunks[-1]["choices"] == [{"index": 0, "delta": {"content": ""}, "finish_reason": None}]


async def test_the_openai_sdk_reads_it_unmodified(fake: FakeServer) -> None:
    """openai's AsyncOpenAI: a thinking answer (``reasoning`` an extra field it keeps), a streamed tool
    call with usage, and its typed errors for a 404 and a 429."""
    async with openai.AsyncOpenAI(base_url=fake.origin("ollama") + "/v1", api_key="ollama", max_retries=0) as sdk:
        done = await sdk.chat.completions.create(model="qwen3:8b", messages=HELLO)  # type: ignore[arg-type]
        msg = done.choices[0].message
        assert msg.content == "Fake reply: hello <there> & you" and (msg.model_extra or {})["reasoning"]
        assert done.usage is not None and done.usage.completion_tokens > 0 and done.system_fingerprint == "fp_ollama"
        stream = await sdk.chat.completions.create(model="llama3.2", messages=ASK_WEATHER, tools=[WEATHER],  # type: ignore[arg-type,list-item]
                                                   stream=True, stream_options={"include_usage": True})
        calls, finish, usage = [], None, None
        async for chunk in stream:
            if chunk.choices:
                calls += chunk.choices[0].delta.tool_calls or []
                finish = chunk.choices[0].finish_reason or finish
            usage = chunk.usage or usage
        assert [c.function.name for c in calls if c.function] == ["get_weather"] and finish == "tool_calls"
        assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        with pytest.raises(openai.NotFoundError, match="model 'gpt-4o' not found"):
            await sdk.chat.completions.create(model="gpt-4o", messages=HELLO)  # type: ignore[arg-type]
        fake.fail_next("ollama", "429", endpoint="chat")
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model="llama3.2", messages=HELLO)  # type: ignore[arg-type]


async def test_langchain_chat_openai_reads_it_unmodified(fake: FakeServer) -> None:
    """LangChain's ChatOpenAI pointed at Ollama's /v1: invoke and stream agree, a tool call is read."""
    lc_openai = pytest.importorskip("langchain_openai")
    model = lc_openai.ChatOpenAI(model="llama3.2", base_url=fake.origin("ollama") + "/v1", api_key="ollama", max_retries=0)
    whole = await model.ainvoke("hello there")
    pieces = [c.content async for c in model.astream("hello there")]
    assert whole.content == "".join(str(p) for p in pieces) == "Fake reply: hello there"
    called = await model.bind_tools([WEATHER]).ainvoke("what is the weather in Paris? use get_weather")
    assert [c["name"] for c in called.tool_calls] == ["get_weather"] and called.tool_calls[0]["args"] == {"city": "Paris"}



# -- POST /v1/embeddings ---------------------------------------------------------------------------------


async def test_embeddings_are_the_native_vectors_as_floats_or_base64(http: httpx.AsyncClient, fake: FakeServer) -> None:
    """ToEmbeddingList over /api/embed's answer: the same vectors (``base64``: their float32 bytes,
    little-endian) and the native prompt count; Go's encoding and no OpenAI headers."""
    import base64
    import struct

    native = (await http.post("/api/embed", json={"model": "nomic-embed-text", "input": ["a", "bc"]})).json()
    r = await http.post("/v1/embeddings", json={"model": "nomic-embed-text", "input": ["a", "bc"]})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.text.endswith("}\n")
    body = r.json()
    assert [d["embedding"] for d in body["data"]] == native["embeddings"]
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1)]
    assert body["usage"] == {"prompt_tokens": native["prompt_eval_count"], "total_tokens": native["prompt_eval_count"]}
    packed = (await http.post("/v1/embeddings", json={"model": "nomic-embed-text", "input": "a",
                                                      "encoding_format": "BASE64"})).json()["data"][0]["embedding"]
    vector = native["embeddings"][0]
    assert base64.b64decode(packed) == struct.pack(f"<{len(vector)}f", *vector)
    async with openai.AsyncOpenAI(base_url=fake.origin("ollama") + "/v1", api_key="ollama", max_retries=0) as sdk:
        got = await sdk.embeddings.create(model="nomic-embed-text", input="a")  # the SDK asks for base64
    assert got.data[0].embedding == pytest.approx(native["embeddings"][0], rel=1e-6)


@pytest.mark.parametrize(("body", "status", "message", "middleware"), [
    ({"model": "nomic-embed-text"}, 400, "invalid input", True),
    ({"model": "nomic-embed-text", "input": []}, 400, "invalid input", True),
    ({"model": "nomic-embed-text", "input": "a", "encoding_format": "int8"}, 400,
     "Invalid value for 'encoding_format' = int8. Supported values: ['float', 'base64'].", True),
    ({"model": "nomic-embed-text", "input": "a", "dimensions": "8"}, 400,
     "json: cannot unmarshal string into Go struct field EmbedRequest.dimensions of type int", True),
    ({"model": "text-embedding-3-small", "input": "a"}, 404, "model 'text-embedding-3-small' not found", False),
    ({"model": "nomic-embed-text", "input": [1, 2]}, 400, "invalid input type", False),
    ({"model": "llama3.2", "input": "a"}, 400, "this model does not support embeddings", False),
])
async def test_embedding_errors_in_the_layers_shape(http: httpx.AsyncClient, body: dict[str, Any], status: int,
                                                    message: str, middleware: bool) -> None:
    r = await http.post("/v1/embeddings", json=body)
    kind = {400: "invalid_request_error", 404: "not_found_error"}[status]
    assert (r.status_code, r.json()) == (status, {"error": {"message": message, "type": kind, "param": None, "code": None}})
    assert r.headers["content-type"] == ("application/json; charset=utf-8" if middleware else "application/json")


async def test_the_older_routes_answer_faults_in_the_layers_shape(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """/v1/embeddings and /v1/completions answer a status fault as NewError, not /api's {"error": "..."}."""
    for path, endpoint, body in (("/v1/embeddings", "openai_embeddings", {"model": "nomic-embed-text", "input": "a"}),
                                 ("/v1/completions", "openai_completions", {"model": "llama3.2", "prompt": "hi"})):
        fake.fail_next("ollama", "503", endpoint=endpoint)
        r = await http.post(path, json=body)
        assert r.status_code == 503 and r.json()["error"]["type"] == "api_error", r.text
        assert (await http.post(path, json=body)).status_code == 200


# -- POST /v1/completions --------------------------------------------------------------------------------


async def test_a_text_completion_is_the_generate_answer(http: httpx.AsyncClient) -> None:
    """ToCompletion over /api/generate's answer: its text (a thinking model's thinking left out of the
    text but counted, as GenerateHandler thinks by default), its counts, Go's encoding, ``cmpl-<n>``."""
    for model in ("llama3.2", "qwen3:8b"):
        native = (await http.post("/api/generate", json={"model": model, "prompt": "hello there", "stream": False})).json()
        r = await http.post("/v1/completions", json={"model": model, "prompt": "hello there"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.text.endswith("}\n")
        body = r.json()
        assert list(body) == ["id", "object", "created", "model", "system_fingerprint", "choices", "usage"]
        assert re.fullmatch(r"cmpl-\d{1,3}", body["id"]) and body["object"] == "text_completion"
        assert body["choices"] == [{"text": native["response"], "index": 0, "finish_reason": "stop"}]
        assert body["usage"] == {"prompt_tokens": native["prompt_eval_count"], "completion_tokens": native["eval_count"],
                                 "total_tokens": native["prompt_eval_count"] + native["eval_count"]}
    empty = (await http.post("/v1/completions", json={"model": "llama3.2", "prompt": ""})).json()
    assert empty["choices"][0] == {"text": "", "index": 0, "finish_reason": "load"}  # only loads the model


async def test_a_text_completion_stream_is_one_chunk_per_generate_line(http: httpx.AsyncClient, fake: FakeServer) -> None:
    """CompleteWriter: a chunk per /api/generate line (the thinking lines with no text), the done line's
    chunk with its finish_reason; with include_usage every chunk carries a zero usage and a usage chunk
    follows; choices come before model (CompletionChunk's field order)."""
    native = (await http.post("/api/generate", json={"model": "qwen3:8b", "prompt": "hello there", "stream": False})).json()
    r = await http.post("/v1/completions", json={"model": "qwen3:8b", "prompt": "hello there", "stream": True,
                                                 "stream_options": {"include_usage": True}})
    chunks = chunks_of(r.text)
    *pieces, last, usage, done = chunks
    assert done == "[DONE]" and list(pieces[0]) == ["id", "object", "created", "choices", "model", "system_fingerprint", "usage"]
    texts = [c["choices"][0]["text"] for c in pieces]
    assert texts[0] == "" and "".join(texts) == native["response"]
    assert all(c["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0} for c in [*pieces, last])
    assert last["choices"] == [{"text": "", "index": 0, "finish_reason": "stop"}]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == native["eval_count"]
    async with openai.AsyncOpenAI(base_url=fake.origin("ollama") + "/v1", api_key="ollama", max_retries=0) as sdk:
        whole = await sdk.completions.create(model="llama3.2", prompt="hello there")
        streamed = [c.choices[0].text async for c in await sdk.completions.create(
            model="llama3.2", prompt="hello there", stream=True) if c.choices]
    assert whole.choices[0].text == "".join(streamed) == "Fake reply: hello there"


@pytest.mark.parametrize(("body", "status", "message", "middleware"), [
    ({"model": "llama3.2", "prompt": 5}, 400,
     "json: cannot unmarshal number into Go struct field CompletionRequest.prompt of type string", True),
    ({"model": "llama3.2", "prompt": "x", "stop": ["a", 1]}, 400, "invalid type for 'stop' field: float64", True),
    ({"model": "gpt-3.5-turbo-instruct", "prompt": "x"}, 404, "model 'gpt-3.5-turbo-instruct' not found", False),
    ({"model": "nomic-embed-text", "prompt": "x"}, 400, '"nomic-embed-text" does not support generate', False),
])
async def test_text_completion_errors_in_the_layers_shape(http: httpx.AsyncClient, body: dict[str, Any], status: int,
                                                          message: str, middleware: bool) -> None:
    r = await http.post("/v1/completions", json=body)
    kind = {400: "invalid_request_error", 404: "not_found_error"}[status]
    assert (r.status_code, r.json()) == (status, {"error": {"message": message, "type": kind, "param": None, "code": None}})
    assert r.headers["content-type"] == ("application/json; charset=utf-8" if middleware else "application/json")


@pytest.mark.parametrize(("path", "body", "ctype", "cache_control"), [
    # server/routes.go streamResponse: gin's c.Stream with only the content type set
    ("/api/chat", {"model": "llama3.2", "messages": HELLO}, "application/x-ndjson", None),
    ("/api/generate", {"model": "llama3.2", "prompt": "hello"}, "application/x-ndjson", None),
    # middleware/openai.go ChatWriter/CompleteWriter: the content type alone
    ("/v1/chat/completions", {"model": "llama3.2", "messages": HELLO, "stream": True}, "text/event-stream", None),
    ("/v1/completions", {"model": "llama3.2", "prompt": "hello", "stream": True}, "text/event-stream", None),
    # ResponsesMiddleware and the Anthropic middleware set Cache-Control and Connection themselves
    ("/v1/responses", {"model": "llama3.2", "input": "hello", "stream": True}, "text/event-stream", "no-cache"),
    ("/v1/messages", {"model": "llama3.2", "max_tokens": 64, "messages": HELLO, "stream": True}, "text/event-stream",
     "no-cache"),
])
async def test_stream_headers_are_the_handlers_own(http: httpx.AsyncClient, path: str, body: dict[str, Any], ctype: str,
                                                   cache_control: str | None) -> None:
    """Each Ollama stream sends the headers its Go handler sets, and no ``Cache-Control`` it does not."""
    r = await http.post(path, json=body)
    assert r.status_code == 200 and r.headers["content-type"] == ctype
    assert r.headers.get("cache-control") == cache_control
