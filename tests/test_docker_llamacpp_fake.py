"""The Docker Model Runner fake's chat completions: DMR's router and scheduler (docker/model-runner) in
front of llama.cpp's server, not OpenAI's service under DMR's name. Raw HTTP against what the sources
write, and the official ``openai`` SDK driving it unmodified."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from interlingua.fakes import FakeServer

from .test_ollama_openai_fake import chunks_of

HELLO = [{"role": "user", "content": "hello <there> & you é"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK_WEATHER = [{"role": "user", "content": "what is the weather in Paris? use get_weather"}]
CHAT = "/engines/v1/chat/completions"
OPENAI_HEADERS = ("x-ratelimit-", "x-request-id", "openai-")


@pytest.fixture
async def http(fake: FakeServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.origin("docker"), timeout=30) as c:
        yield c


async def test_a_completion_is_what_llama_cpp_writes_not_what_openai_does(http: httpx.AsyncClient) -> None:
    """to_json_oaicompat_chat's fields in its (ordered_json) order, nlohmann's compact UTF-8, llama.cpp's
    headers through DMR's proxy; none of OpenAI's headers or fields."""
    r = await http.post(CHAT, json={"model": "ai/smollm2", "messages": HELLO})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["server"] == "llama.cpp" and "access-control-allow-origin" not in r.headers
    assert not [h for h in r.headers if h.lower().startswith(OPENAI_HEADERS)]
    assert '"hello <there> & you é"' not in r.text and "Fake reply: hello <there> & you é" in r.text  # UTF-8 as is
    assert not r.text.endswith("\n")
    body = r.json()
    assert list(body) == ["choices", "created", "model", "system_fingerprint", "object", "usage", "id", "timings"]
    assert re.fullmatch(r"chatcmpl-[0-9A-Za-z]{32}", body["id"]) and body["object"] == "chat.completion"
    assert body["model"] == "model.gguf" and re.fullmatch(r"b\d+-\w+", body["system_fingerprint"])
    assert body["choices"] == [{"finish_reason": "stop", "index": 0, "message": {
        "role": "assistant", "content": "Fake reply: hello <there> & you é"}}]
    usage = body["usage"]
    assert list(usage) == ["completion_tokens", "prompt_tokens", "total_tokens", "prompt_tokens_details"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    t = body["timings"]
    assert list(t) == ["cache_n", "prompt_n", "prompt_ms", "prompt_per_token_ms", "prompt_per_second", "predicted_n",
                       "predicted_ms", "predicted_per_token_ms", "predicted_per_second"]
    assert (t["prompt_n"], t["predicted_n"]) == (usage["prompt_tokens"], usage["completion_tokens"])


async def test_stream_frames_as_llama_cpp_writes_them(http: httpx.AsyncClient) -> None:
    """Role chunk (content null) first, one chunk per piece, the finish chunk with an empty delta, the usage
    chunk (choices []) with the timings, [DONE]; the text and usage equal the non-streamed answer's."""
    body = {"model": "ai/smollm2", "messages": HELLO}
    whole = (await http.post(CHAT, json=body)).json()
    r = await http.post(CHAT, json={**body, "stream": True, "stream_options": {"include_usage": True}})
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-accel-buffering"] == "no" and "cache-control" not in r.headers and r.headers["server"] == "llama.cpp"
    chunks = chunks_of(r.text)
    *deltas, finish, usage, done = chunks
    assert done == "[DONE]"
    assert {(c["id"], c["created"], c["object"], c["model"]) for c in chunks[:-1]} == {
        (deltas[0]["id"], deltas[0]["created"], "chat.completion.chunk", "model.gguf")}
    assert all(list(c) == ["choices", "created", "id", "model", "system_fingerprint", "object"] for c in deltas)
    assert deltas[0]["choices"] == [{"finish_reason": None, "index": 0, "delta": {"role": "assistant", "content": None}}]
    text = "".join(c["choices"][0]["delta"]["content"] for c in deltas[1:])
    assert text == whole["choices"][0]["message"]["content"]
    assert finish["choices"] == [{"finish_reason": "stop", "index": 0, "delta": {}}] and "timings" not in finish
    assert usage["choices"] == [] and usage["usage"] == whole["usage"] and list(usage)[-2:] == ["usage", "timings"]
    plain = chunks_of((await http.post(CHAT, json={**body, "stream": True})).text)
    assert "usage" not in plain[-2] and plain[-2]["choices"][0]["finish_reason"] == "stop" and "timings" in plain[-2]


async def test_a_tool_call(http: httpx.AsyncClient) -> None:
    """to_json_oaicompat: content "" beside the call, type/function/id in that order, a 32-character id,
    finish tool_calls; streamed as a header (index, id, type, name) then argument pieces."""
    body = {"model": "ai/smollm2", "messages": ASK_WEATHER, "tools": [WEATHER]}
    choice = (await http.post(CHAT, json=body)).json()["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == ""
    assert list(call) == ["type", "function", "id"] and re.fullmatch(r"[0-9A-Za-z]{32}", call["id"])
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    chunks = chunks_of((await http.post(CHAT, json={**body, "stream": True})).text)
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[:-1] if c["choices"][0]["delta"].get("tool_calls")]
    head = calls[0]
    assert re.fullmatch(r"[0-9A-Za-z]{32}", head.pop("id"))  # random per request, as random_string() is
    assert head == {"index": 0, "type": "function", "function": {"name": "get_weather"}}
    assert "".join(c["function"]["arguments"] for c in calls[1:]) == call["function"]["arguments"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_named_tool_choice_is_auto_and_required_forces(http: httpx.AsyncClient) -> None:
    """llama.cpp reads tool_choice as a string only: OpenAI's named-function object fails json_value's type
    and counts as auto (the prompt names no tool: no call); "required" forces one."""
    body = {"model": "ai/smollm2", "messages": HELLO, "tools": [WEATHER]}
    named = (await http.post(CHAT, json={**body, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})).json()
    assert "tool_calls" not in named["choices"][0]["message"]
    required = (await http.post(CHAT, json={**body, "tool_choice": "required"})).json()
    assert required["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


async def test_a_thinking_model_sends_reasoning_content(http: httpx.AsyncClient) -> None:
    """ai/qwen3's template thinks: reasoning_content before content (streamed first), counted in the
    completion; chat_template_kwargs.enable_thinking false turns it off."""
    r = (await http.post(CHAT, json={"model": "ai/qwen3", "messages": HELLO})).json()
    msg = r["choices"][0]["message"]
    assert list(msg) == ["role", "content", "reasoning_content"] and msg["reasoning_content"].startswith("Thinking about:")
    off = (await http.post(CHAT, json={"model": "ai/qwen3", "messages": HELLO,
                                       "chat_template_kwargs": {"enable_thinking": False}})).json()
    assert "reasoning_content" not in off["choices"][0]["message"]
    assert off["usage"]["completion_tokens"] < r["usage"]["completion_tokens"]
    chunks = chunks_of((await http.post(CHAT, json={"model": "ai/qwen3", "messages": HELLO, "stream": True})).text)
    ds = [c["choices"][0]["delta"] for c in chunks[1:-2]]
    thinking = [d for d in ds if "reasoning_content" in d]
    assert thinking == ds[: len(thinking)] and "".join(d["reasoning_content"] for d in thinking) == msg["reasoning_content"]


@pytest.mark.parametrize("path", ["/engines/v1/chat/completions", "/engines/llama.cpp/v1/chat/completions",
                                  "/v1/chat/completions", "/v1/llama.cpp/v1/chat/completions"])
async def test_the_routes_and_the_v1_alias(http: httpx.AsyncClient, path: str) -> None:
    r = await http.post(path, json={"model": "ai/smollm2", "messages": HELLO})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"].startswith("Fake reply:")


@pytest.mark.parametrize(("method", "path", "status", "text"), [
    ("POST", "/engines/vllm/v1/chat/completions", 404, "backend not found\n"),
    ("POST", "/engines/v1/nothing", 404, "not found\n"),
    ("POST", "/v1/nothing", 404, "not found\n"),
    ("GET", "/engines/v1/chat/completions", 404, "not found\n"),
    ("PUT", "/v1/chat/completions", 404, "not found\n"),
    ("POST", "/nothing", 404, "404 page not found\n"),
])
async def test_what_the_router_answers_itself(http: httpx.AsyncClient, method: str, path: str, status: int, text: str) -> None:
    """Go's http.Error text (plain, nosniff, no Server): the scheduler's catch-all also takes a route's
    other methods, so there is no 405; outside its prefixes, ServeMux's own 404."""
    r = await http.request(method, path, json={"model": "ai/smollm2", "messages": HELLO})
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == "text/plain; charset=utf-8" and r.headers["x-content-type-options"] == "nosniff"
    assert "server" not in r.headers


@pytest.mark.parametrize(("body", "status", "text"), [
    (b"not json", 400, "invalid request\n"),
    (b"[1]", 400, "invalid request\n"),
    (b'{"model": 5, "messages": []}', 400, "invalid request\n"),
    (b"{}", 400, "model is required\n"),
    (b"null", 400, "model is required\n"),
    (b'{"model": ""}', 400, "model is required\n"),
])
async def test_dmr_checks_before_proxying(http: httpx.AsyncClient, body: bytes, status: int, text: str) -> None:
    r = await http.post(CHAT, content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.text) == (status, text) and r.headers["content-type"] == "text/plain; charset=utf-8"


async def test_a_model_not_pulled(http: httpx.AsyncClient, fake: FakeServer) -> None:
    fake.models("docker", unknown=["ai/nope"])
    r = await http.post(CHAT, json={"model": "ai/nope", "messages": HELLO})
    assert (r.status_code, r.text) == (404, "error while getting model: get model '\"ai/nope\"': model not found\n")


async def test_what_llama_cpp_takes_that_openai_refuses(http: httpx.AsyncClient) -> None:
    """No range or type checks: out-of-range and wrongly typed sampling values, extra fields, a stop string,
    more than four stops and n_predict are all taken."""
    r = await http.post(CHAT, json={
        "model": "ai/smollm2", "messages": HELLO, "temperature": 7, "top_p": 3, "presence_penalty": -9,
        "frequency_penalty": "x", "seed": "abc", "user": 5, "logit_bias": [], "stop": ["#1", "#2", "#3", "#4", "#5"],
        "top_k": 40, "mirostat": 2, "stream_options": {"include_usage": True}})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Fake reply: hello <there> & you é"
    cut = (await http.post(CHAT, json={"model": "ai/smollm2", "messages": HELLO, "n_predict": 2, "max_tokens": 50})).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 2


def _body(**more: Any) -> dict[str, Any]:
    return {"model": "ai/smollm2", "messages": HELLO, **more}


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"model": "ai/smollm2"}, 400, "'messages' is required"),
    (_body(messages={"role": "user"}), 400, "Expected 'messages' to be an array"),
    (_body(messages=[{"role": "user"}]), 400, "All non-assistant messages must contain 'content'"),
    (_body(messages=[{"role": "assistant"}]), 400, "Assistant message must contain either 'content' or 'tool_calls'!"),
    (_body(messages=[{"role": "user", "content": 5}]), 400, "Expected 'content' to be a string or an array"),
    (_body(messages=[{"role": "user", "content": [{"type": "video"}]}]), 400, "unsupported content[].type"),
    (_body(response_format={"type": "xml"}), 400, 'response_format type must be one of "text" or "json_object", but got: xml'),
    (_body(tool_choice="any"), 400, "Invalid tool_choice: any"),
    (_body(top_logprobs=3), 400, "top_logprobs requires logprobs to be set to true"),
    (_body(n=5), 400, "n_cmpl cannot be greater than the number of slots, please increase -np"),
    (_body(messages=[{"content": "hi"}]), 500, 'Failed to parse messages: Missing \'role\' in message: {"content":"hi"}'),
    (_body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]),
     500, "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"),
    (_body(tools=[{"type": "web_search"}]), 500,
     'Failed to parse tools: Unsupported tool type: {"type":"web_search"}; tools = [\n  {\n    "type": "web_search"\n  }\n]'),
])
async def test_llama_cpp_refusals(http: httpx.AsyncClient, body: dict[str, Any], status: int, message: str) -> None:
    """format_error_response under "error": invalid_argument → 400 invalid_request_error, any other
    exception → 500 server_error (ex_wrapper)."""
    r = await http.post(CHAT, json=body)
    kind = {400: "invalid_request_error", 500: "server_error"}[status]
    assert (r.status_code, r.json()) == (status, {"error": {"code": status, "message": message, "type": kind}})
    assert r.headers["content-type"] == "application/json; charset=utf-8" and r.headers["server"] == "llama.cpp"


async def test_faults_answer_in_llama_cpps_shape(fake: FakeServer, http: httpx.AsyncClient) -> None:
    """A status fault is llama.cpp's error body (with Retry-After on a 429); a mid-stream failure is
    ``data: {"error": …}`` and the stream ends without [DONE]."""
    fake.fail_next("docker", "429;retry-after=7", endpoint="chat")
    r = await http.post(CHAT, json=_body())
    assert r.status_code == 429 and r.headers["retry-after"] == "7" and set(r.json()["error"]) == {"code", "message", "type"}
    fake.fail_next("docker", "503", endpoint="chat")
    r = await http.post("/v1/chat/completions", json=_body())
    assert (r.status_code, r.json()["error"]) == (503, {"code": 503, "message": "Loading model", "type": "unavailable_error"})
    fake.fail_next("docker", "error-event", endpoint="chat")
    chunks = chunks_of((await http.post(CHAT, json=_body(stream=True))).text)
    assert chunks[-1] == {"error": {"code": 500, "message": "Internal server error", "type": "server_error"}}


async def test_the_openai_sdk_reads_it_unmodified(fake: FakeServer) -> None:
    """openai's AsyncOpenAI: a chat, a streamed tool call with usage, and its typed errors for a 404 (DMR's
    plain text) and a 429."""
    async with openai.AsyncOpenAI(base_url=fake.url_for("docker"), api_key="unused", max_retries=0) as sdk:
        done = await sdk.chat.completions.create(model="ai/smollm2", messages=HELLO)  # type: ignore[arg-type]
        assert done.choices[0].message.content == "Fake reply: hello <there> & you é" and done.model == "model.gguf"
        assert done.usage is not None and done.usage.prompt_tokens_details is not None
        assert done.usage.prompt_tokens_details.cached_tokens == 0
        stream = await sdk.chat.completions.create(model="ai/smollm2", messages=ASK_WEATHER, tools=[WEATHER],  # type: ignore[arg-type,list-item]
                                                   stream=True, stream_options={"include_usage": True})
        calls, finish, usage, text = [], None, None, ""
        async for chunk in stream:
            if chunk.choices:
                calls += chunk.choices[0].delta.tool_calls or []
                finish = chunk.choices[0].finish_reason or finish
                text += chunk.choices[0].delta.content or ""
            usage = chunk.usage or usage
        assert [c.function.name for c in calls if c.function and c.function.name] == ["get_weather"]
        assert finish == "tool_calls" and text == ""
        assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        fake.models("docker", unknown=["ai/gone"])
        with pytest.raises(openai.NotFoundError) as info:
            await sdk.chat.completions.create(model="ai/gone", messages=HELLO)  # type: ignore[arg-type]
        assert info.value.response.text.endswith("model not found\n")
        fake.fail_next("docker", "429", endpoint="chat")
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model="ai/smollm2", messages=HELLO)  # type: ignore[arg-type]


async def test_an_empty_conversation_is_answered(http: httpx.AsyncClient) -> None:
    """llama.cpp parses ``messages: []`` (``oaicompat_chat_params_parse`` checks only that it is an array) and
    renders the template's bare generation prompt, so it answers; the fake did crash on it (found by a
    1,500-example robustness run)."""
    for stream in (False, True):
        r = await http.post("/engines/v1/chat/completions", json={"model": "ai/smollm2", "messages": [], "stream": stream})
        assert r.status_code == 200
        assert ('"finish_reason":"stop"' in r.text) and ("data: [DONE]" in r.text) == stream
