"""Never a 500 from the fake itself: arbitrary JSON bodies to every fake endpoint get a documented status
and the provider's own error body (hypothesis property tests over real loopback sockets)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interlingua.fakes import FakeServer, serve_in_thread


@pytest.fixture(scope="module")
def running() -> Iterator[FakeServer]:
    """The fakes on a background thread for the module (hypothesis runs many examples per test)."""
    with serve_in_thread() as server:
        yield server


def _openai_shape(r: httpx.Response) -> bool:
    err = r.json().get("error")
    return isinstance(err, dict) and isinstance(err.get("message"), str) and {"type", "param", "code"} <= set(err)


def _azure_shape(r: httpx.Response) -> bool:
    err = r.json().get("error")
    return isinstance(err, dict) and isinstance(err.get("message"), str) and "code" in err


def _xai_shape(r: httpx.Response) -> bool:
    body = r.json()
    return set(body) == {"code", "error"} and all(isinstance(v, str) for v in body.values())


def _docker_shape(r: httpx.Response) -> bool:
    # llama.cpp server's {"error": {"code", "message", "type"}}; the runner's own Go http.Error text (its
    # 404s, and on the chat route its 400s: "invalid request", "model is required", "request too large")
    if r.headers["content-type"].startswith("text/plain"):
        return r.status_code in (400, 404) and r.text.endswith("\n")
    return _openai_shape(r) or (isinstance(r.json().get("error"), dict) and "message" in r.json()["error"])


def _llama_cpp_500(r: httpx.Response) -> bool:
    """llama.cpp answers 500 server_error for what it throws as other than invalid_argument (ex_wrapper):
    messages or tools it cannot parse (common_chat_msgs_parse_oaicompat, common_chat_tools_parse_oaicompat)."""
    return r.status_code == 500 and r.json()["error"]["type"] == "server_error"


def _dmr_ollama_500(r: httpx.Response) -> bool:
    """:func:`_llama_cpp_500` through DMR's Ollama layer, which passes the engine's message on as ``{"error": …}``."""
    return r.status_code == 500 and (r.content == b"" or isinstance(r.json().get("error"), str))


def _anthropic_shape(r: httpx.Response) -> bool:
    body = r.json()
    return body.get("type") == "error" and isinstance(body["error"].get("message"), str) and "type" in body["error"]


def _gemini_shape(r: httpx.Response) -> bool:
    err = r.json().get("error")
    return isinstance(err, dict) and err.get("code") == r.status_code and {"message", "status"} <= set(err)


def _ollama_shape(r: httpx.Response) -> bool:
    return isinstance(r.json().get("error"), str)


def _bedrock_shape(r: httpx.Response) -> bool:
    return isinstance(r.json().get("message"), str) and "x-amzn-ErrorType" in r.headers


@dataclass(frozen=True)
class Target:
    provider: str
    path: str
    base: dict[str, Any]
    headers: Callable[[FakeServer], dict[str, str]]
    error_shape: Callable[[httpx.Response], bool]
    documented_5xx: Callable[[httpx.Response], bool] = lambda r: False
    """A 5xx the real service answers for a body (Ollama: an option of the wrong type, from Options.FromMap)."""


def _ollama_option_500(r: httpx.Response) -> bool:
    return r.status_code == 500 and str(r.json().get("error", "")).startswith("option ")


def _bearer(f: FakeServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {f.api_key}"}


def _azure(f: FakeServer) -> dict[str, str]:
    return {"api-key": f.api_key}


def _anthropic(f: FakeServer) -> dict[str, str]:
    return {"x-api-key": f.api_key, "anthropic-version": "2023-06-01"}


def _gemini(f: FakeServer) -> dict[str, str]:
    return {"x-goog-api-key": f.api_key}


def _none(f: FakeServer) -> dict[str, str]:
    return {}


HI = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
CHAT = {"model": "gpt-4o-mini", "messages": HI, "tools": [TOOL], "temperature": 1, "max_tokens": 20,
        "stream": False, "n": 1, "stop": ["x"], "response_format": {"type": "text"}}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
          "generationConfig": {"maxOutputTokens": 20, "temperature": 1},
          "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}],
          "systemInstruction": {"parts": [{"text": "be brief"}]}}
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"

TARGETS = [
    Target("openai", "/v1/chat/completions", CHAT, _bearer, _openai_shape),
    Target("azure", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
           {k: v for k, v in CHAT.items() if k != "model"}, _azure, _azure_shape),
    Target("azure", "/openai/v1/chat/completions", CHAT, _azure, _azure_shape),
    Target("xai", "/v1/chat/completions", {**CHAT, "model": "grok-3"}, _bearer, _xai_shape),
    Target("docker", "/engines/v1/chat/completions", {**CHAT, "model": "ai/smollm2"}, _none, _docker_shape,
           _llama_cpp_500),
    Target("docker", "/v1/completions", {"model": "ai/smollm2", "prompt": "hi", "max_tokens": 20, "stop": ["x"],
                                         "stream": False, "n": 1}, _none, _docker_shape, _llama_cpp_500),
    # Anthropic Messages through the scheduler (/v1 alias): the runner's plain text, then llama.cpp's shape
    Target("docker", "/v1/messages", {"model": "ai/smollm2", "max_tokens": 20, "messages": HI,
                                      "tools": [{"name": "f", "input_schema": {"type": "object"}}]}, _none, _docker_shape),
    Target("docker", "/engines/llama.cpp/v1/messages/count_tokens", {"model": "ai/smollm2", "messages": HI}, _none,
           _docker_shape),
    # DMR's Anthropic layer answers in Anthropic's shape, what llama.cpp refuses after it in llama.cpp's
    Target("docker", "/anthropic/v1/messages", {"model": "ai/smollm2", "max_tokens": 20, "messages": HI,
                                                "tools": [{"name": "f", "input_schema": {"type": "object"}}]},
           _none, lambda r: _anthropic_shape(r) or _docker_shape(r)),
    Target("docker", "/anthropic/v1/messages/count_tokens", {"model": "ai/smollm2", "messages": HI}, _none,
           lambda r: _anthropic_shape(r) or _docker_shape(r)),
    # the runner's Ollama layer: net/http's plain-text 400s, the runner's plain-text 404, and the engine's
    # refusals passed on as {"error": …} (sniffed as text/plain too); streamed, a refusal is its status alone
    Target("docker", "/api/chat", {"model": "ai/smollm2", "messages": HI, "stream": False,
                                   "options": {"num_predict": 20}, "tools": [TOOL]}, _none,
           lambda r: (r.headers["content-type"].startswith("text/plain") or r.content == b"")
           and r.status_code in (400, 404, 500), _dmr_ollama_500),
    Target("ollama", "/api/chat", {"model": "llama3.2", "messages": HI, "stream": False,
                                   "options": {"num_predict": 20}, "tools": [TOOL]}, _none, _ollama_shape,
           _ollama_option_500),
    Target("ollama", "/api/show", {"model": "llama3.2"}, _none, _ollama_shape),
    # Ollama's OpenAI-compatible Chat Completions layer answers in the OpenAI error shape
    Target("ollama", "/v1/chat/completions", {
        "model": "qwen3:8b", "max_tokens": 20, "stop": ["x"], "reasoning_effort": "low", "top_logprobs": 2,
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
        "tools": [TOOL]}, _none, _openai_shape),
    # Ollama's OpenAI-compatible Responses endpoint answers in the OpenAI error shape
    Target("ollama", "/v1/responses", {"model": "llama3.2", "instructions": "be brief", "max_output_tokens": 20,
                                       "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                                                 {"type": "function_call", "call_id": "c1", "name": "f",
                                                  "arguments": "{}"},
                                                 {"type": "function_call_output", "call_id": "c1", "output": "ok"}],
                                       "tools": [{"type": "function", "name": "f", "parameters": TOOL["function"]["parameters"]}],
                                       "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
                                       "reasoning": {"effort": "none"}},
           _none, _openai_shape),
    # Ollama's Anthropic-compatible Messages endpoint answers in Anthropic's error shape
    Target("ollama", "/v1/messages", {"model": "llama3.2", "max_tokens": 20, "temperature": 0.5, "stop_sequences": ["x"],
                                      "system": [{"type": "text", "text": "be brief"}],
                                      "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                                                   {"role": "assistant", "content": [
                                                       {"type": "tool_use", "id": "c1", "name": "f", "input": {}}]},
                                                   {"role": "user", "content": [
                                                       {"type": "tool_result", "tool_use_id": "c1", "content": "ok"}]}],
                                      "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
                                      "thinking": {"type": "enabled", "budget_tokens": 1024}},
           _none, _anthropic_shape),
    Target("anthropic", "/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 20, "messages": HI,
                                         "system": "be brief", "temperature": 0.5,
                                         "tools": [{"name": "f", "input_schema": {"type": "object"}}]},
           _anthropic, _anthropic_shape),
    Target("anthropic", "/v1/messages/count_tokens", {"model": "claude-haiku-4-5", "messages": HI}, _anthropic,
           _anthropic_shape),
    Target("gemini", "/v1beta/models/gemini-2.5-flash:generateContent", GEMINI, _gemini, _gemini_shape),
    Target("gemini", "/v1beta/models/gemini-2.5-flash:countTokens", GEMINI, _gemini, _gemini_shape),
    Target("gemini", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI, _gemini,
           _gemini_shape),
    # embeddings (tests/test_fake_embeddings.py)
    Target("openai", "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["hi", "there"], "dimensions": 8,
                                        "encoding_format": "float", "user": "u"}, _bearer, _openai_shape),
    Target("azure", "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21",
           {"input": ["hi"], "dimensions": 8}, _azure, lambda r: _azure_shape(r) or _openai_shape(r)),
    Target("azure", "/openai/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, _azure,
           lambda r: _azure_shape(r) or _openai_shape(r)),
    Target("docker", "/engines/v1/embeddings", {"model": "ai/all-minilm", "input": ["hi"], "encoding_format": "float"},
           _none, _docker_shape),
    Target("gemini", "/v1beta/models/gemini-embedding-001:embedContent",
           {"content": {"parts": [{"text": "hi"}]}, "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8},
           _gemini, _gemini_shape),
    Target("gemini", "/v1/models/gemini-embedding-001:batchEmbedContents",
           {"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hi"}]},
                          "outputDimensionality": 8}]}, _gemini, _gemini_shape),
    Target("bedrock", f"/model/{BEDROCK_MODEL}/converse",
           {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 20},
            "system": [{"text": "be brief"}]}, _bearer, _bedrock_shape),
    # InvokeModel: Anthropic's Messages body for Claude (streamed and not), Titan's for its embeddings
    *(Target("bedrock", f"/model/{BEDROCK_MODEL}/{action}",
             {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "system": "be brief", "temperature": 0.5,
              "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
              "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "auto"}},
             _bearer, _bedrock_shape) for action in ("invoke", "invoke-with-response-stream")),
    Target("bedrock", "/model/amazon.titan-embed-text-v2:0/invoke",
           {"inputText": "hi", "dimensions": 256, "normalize": True, "embeddingTypes": ["float", "binary"]},
           _bearer, _bedrock_shape),
    # InvokeModel's native bodies of the other chat families (Llama, Mistral text and chat, Nova, Titan Text)
    *(Target("bedrock", f"/model/{model}/{action}", base, _bearer, _bedrock_shape)
      for model, base in (
          ("meta.llama3-1-8b-instruct-v1:0", {"prompt": "hi", "max_gen_len": 20, "temperature": 0.5, "top_p": 0.9}),
          ("mistral.mistral-7b-instruct-v0:2", {"prompt": "hi", "max_tokens": 20, "stop": ["x"], "top_k": 5}),
          ("mistral.mistral-large-2407-v1:0",
           {"messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": "", "tool_calls": [
                             {"id": "c1", "function": {"name": "f", "arguments": "{}"}}]},
                         {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
            "tools": [TOOL], "tool_choice": "auto", "max_tokens": 20}),
          ("us.amazon.nova-lite-v1:0",
           {"schemaVersion": "messages-v1", "system": [{"text": "be brief"}],
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"max_new_tokens": 20, "top_k": 5, "stopSequences": ["x"]},
            "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}}),
          ("amazon.titan-text-express-v1",
           {"inputText": "hi", "textGenerationConfig": {"maxTokenCount": 20, "stopSequences": ["x"]}}),
          # Cohere Command R, AI21 Jamba, DeepSeek-R1 (by its inference profile)
          ("cohere.command-r-v1:0",
           {"message": "", "preamble": "be brief", "max_tokens": 20, "stop_sequences": ["x"], "p": 0.5,
            "chat_history": [{"role": "USER", "message": "hi"}, {"role": "CHATBOT", "message": "hello"}],
            "tools": [{"name": "f", "parameter_definitions": {"a": {"type": "str", "required": True}}}],
            "tool_results": [{"call": {"name": "f", "parameters": {"a": "b"}}, "outputs": [{"x": 1}]}]}),
          ("ai21.jamba-1-5-mini-v1:0",
           {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            "tools": [TOOL], "max_tokens": 20, "n": 2, "stop": ["x"], "response_format": {"type": "text"}}),
          ("us.deepseek.r1-v1:0", {"prompt": "hi", "max_tokens": 20, "temperature": 0.5, "stop": ["x"]}),
      ) for action in ("invoke", "invoke-with-response-stream")),
    # OpenAI gpt-oss: the Chat Completions body, on InvokeModel only (it does not stream)
    Target("bedrock", "/model/openai.gpt-oss-20b-1:0/invoke",
           {"model": "openai.gpt-oss-20b-1:0", "messages": [{"role": "developer", "content": "be brief"},
                                                          {"role": "user", "content": "hi"}],
            "tools": [TOOL], "tool_choice": "auto", "max_completion_tokens": 20, "stream": False}, _bearer,
           _bedrock_shape),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def bodies(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """Arbitrary JSON, or the valid base body with fields replaced, removed or added (wrong types, missing
    fields, extra fields), at the top level or one level down."""
    kind = draw(st.sampled_from(["any", "mutate"]))
    if kind == "any":
        return draw(json_values)
    body = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        holder = body
        keys = list(holder)
        if keys and draw(st.booleans()):
            k = draw(st.sampled_from(keys))
            if isinstance(holder[k], dict) and holder[k]:
                holder = holder[k]
            elif isinstance(holder[k], list) and holder[k] and isinstance(holder[k][0], dict):
                holder = holder[k][0]
        keys = list(holder)
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "add" or not keys:
            holder[draw(st.text(max_size=6))] = draw(json_values)
        elif action == "remove":
            del holder[draw(st.sampled_from(keys))]
        else:
            holder[draw(st.sampled_from(keys))] = draw(json_values)
    return body


@pytest.mark.parametrize("target", TARGETS, ids=[f"{t.provider}:{t.path.split('?')[0]}" for t in TARGETS])
def test_arbitrary_bodies_never_crash_a_fake(running: FakeServer, target: Target) -> None:
    """Every answer to an arbitrary JSON body is a 2xx, a documented 4xx, or a 5xx the real service gives for
    that body, with the provider's own error body."""
    url = running.origin(target.provider) + target.path
    headers = {"content-type": "application/json", **target.headers(running)}

    with httpx.Client(timeout=30) as http:

        @settings(max_examples=int(os.environ.get("ROBUST_EXAMPLES", "60")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(body=bodies(target.base))
        def check(body: Any) -> None:
            r = http.post(url, content=json.dumps(body).encode(), headers=headers)
            assert r.status_code in (200, 400, 404, 413, 422) or target.documented_5xx(r), (r.status_code, r.text[:300], body)
            if r.status_code >= 400:
                assert target.error_shape(r), (r.status_code, r.text[:300], body)

        check()


def test_known_crashes_are_documented_400s(running: FakeServer) -> None:
    """A function tool without `function` is OpenAI's 400 missing_required_parameter naming tools[0].function;
    a non-integer maxOutputTokens is Google's 400 INVALID_ARGUMENT."""
    with httpx.Client(timeout=30) as http:
        r = http.post(running.url_for("openai") + "/chat/completions", headers=_bearer(running),
                      json={"model": "gpt-4o-mini", "messages": HI, "tools": [{"type": "function"}]})
        assert r.status_code == 400
        assert r.json()["error"] == {"message": "Missing required parameter: 'tools[0].function'.",
                                     "type": "invalid_request_error", "param": "tools[0].function",
                                     "code": "missing_required_parameter"}
        g = http.post(running.origin("gemini") + "/v1beta/models/gemini-2.5-flash:generateContent",
                      headers=_gemini(running),
                      json={"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": "x"}})
        assert g.status_code == 400 and g.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert 'generation_config.max_output_tokens' in g.json()["error"]["message"]


DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000]


@pytest.mark.parametrize("target", TARGETS, ids=[f"{t.provider}:{t.path.split('?')[0]}" for t in TARGETS])
def test_deeply_nested_bodies_are_refused_not_crashed(running: FakeServer, target: Target) -> None:
    """A body nested 100,000 deep (past Python's recursion limit in every JSON parser here) is the service's
    answer to a body it cannot read, never a crash of the fake."""
    url = running.origin(target.provider) + target.path
    headers = {"content-type": "application/json", **target.headers(running)}
    with httpx.Client(timeout=30) as http:
        for body in DEEP:
            r = http.post(url, content=body, headers=headers)
            assert r.status_code in (400, 404, 413, 422) or target.documented_5xx(r), (r.status_code, r.text[:300])
            assert target.error_shape(r), (r.status_code, r.text[:300])


def test_an_integral_float_is_an_int32_on_gemini(running: FakeServer) -> None:
    """proto3 JSON reads 2.0 as the int32 2 (the shape check refuses 2.5): maxOutputTokens and
    outputDimensionality written as floats are used as the integers they are (found by a 10x hypothesis run)."""
    with httpx.Client(timeout=30, headers=_gemini(running)) as http:
        base = running.origin("gemini") + "/v1beta/models/"
        r = http.post(base + "gemini-2.5-flash:generateContent",
                      json={"contents": [{"parts": [{"text": "hello there friend"}]}], "generationConfig": {"maxOutputTokens": 2.0}})
        assert r.status_code == 200 and r.json()["candidates"][0]["finishReason"] == "MAX_TOKENS"
        e = http.post(base + "gemini-embedding-001:embedContent",
                      json={"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 2.0})
        assert e.status_code == 200 and len(e.json()["embedding"]["values"]) == 2
        assert http.post(base + "gemini-embedding-001:embedContent", json={
            "content": {"parts": [{"text": "hi"}]}, "outputDimensionality": -2.0}).status_code == 400


@pytest.mark.parametrize("written", ["2", "2.0", "0.2e1", 2, 2.0])
def test_an_int32_written_as_a_string_or_a_float_is_read_on_gemini(running: FakeServer, written: object) -> None:
    """proto3 JSON: "Either numbers or strings are accepted" for an int32, exponents included, so
    ``"maxOutputTokens": "2"`` is the integer 2 (an official client in a language without int32 may send it)."""
    with httpx.Client(timeout=30, headers=_gemini(running)) as http:
        base = running.origin("gemini") + "/v1beta/models/"
        r = http.post(base + "gemini-2.5-flash:generateContent",
                      json={"contents": [{"parts": [{"text": "hello there friend"}]}], "generationConfig": {"maxOutputTokens": written}})
        assert r.status_code == 200 and r.json()["candidates"][0]["finishReason"] == "MAX_TOKENS"
        assert r.json()["usageMetadata"]["candidatesTokenCount"] == 2
        e = http.post(base + "gemini-embedding-001:embedContent",
                      json={"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": written})
        assert e.status_code == 200 and len(e.json()["embedding"]["values"]) == 2


@pytest.mark.parametrize("written", ["2.5", "", " 2", "0x10", "1e", 2.5, 2**31, "2147483648", True, "NaN"])
def test_a_value_no_int32_reads_as_is_googles_400_on_gemini(running: FakeServer, written: object) -> None:
    """Not an integer, past int32, not a number, or a bool: Google's "Invalid value at … (TYPE_INT32)" with the
    field violation, never a crash or a silent truncation."""
    with httpx.Client(timeout=30, headers=_gemini(running)) as http:
        r = http.post(running.origin("gemini") + "/v1beta/models/gemini-2.5-flash:generateContent",
                      json={"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": written}})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["status"] == "INVALID_ARGUMENT"
        assert err["message"] == f"Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), {json.dumps(written)}"
        assert err["details"][0]["fieldViolations"][0]["field"] == "generation_config.max_output_tokens"


@pytest.mark.parametrize("written", ["0.5", "NaN", "Infinity", "-Infinity", "5e-1", 1])
def test_a_float_written_as_a_string_is_read_on_gemini(running: FakeServer, written: object) -> None:
    """proto3 JSON's float: a number, a numeric string, or "NaN"/"Infinity"/"-Infinity"."""
    with httpx.Client(timeout=30, headers=_gemini(running)) as http:
        r = http.post(running.origin("gemini") + "/v1beta/models/gemini-2.5-flash:generateContent",
                      json={"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": written}})
        assert r.status_code == 200, r.text
