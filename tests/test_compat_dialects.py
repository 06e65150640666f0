"""The OpenAI-compatible configurations (azure, xai, docker, openai_compatible): golden encode and
decode tables, error mapping, and the reasoning_content shape under any stream split."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from interlingua.core import (
    DIALECTS,
    ChatRequest,
    ErrorKind,
    FinishReason,
    Headers,
    HttpResponse,
    Message,
    ProviderConfig,
    ReasoningPart,
    Secret,
    TextPart,
    ToolSpec,
    Usage,
    decode_stream,
    parse_model,
)
from interlingua.core.compat import AZURE, DOCKER, OPENAI_COMPATIBLE, XAI
from interlingua.core.openai import OPENAI
from interlingua.effects.config import LlmConfig

from .helpers import split_at

HI = (Message.user("hi"),)
KEY = Secret("k-123")


def _req(model: str, **kw: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=HI, **kw)


# -- encode ------------------------------------------------------------------------------------

# (dialect, model, config, url, auth header (name, value) or None, max-tokens field)
ENCODE_CASES = [
    (AZURE, "azure:prod-4o", ProviderConfig(base_url="https://r.openai.azure.com", api_key=KEY,
                                            api_version="2024-10-21"),
     "https://r.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21",
     ("api-key", "k-123"), "max_completion_tokens"),
    (AZURE, "prod-4o", ProviderConfig(base_url="https://r.openai.azure.com/", api_key=KEY),
     "https://r.openai.azure.com/openai/v1/chat/completions", ("api-key", "k-123"), "max_completion_tokens"),
    (AZURE, "prod-4o", ProviderConfig(base_url="https://r.openai.azure.com/openai/v1/", api_key=KEY, api_version="v1"),
     "https://r.openai.azure.com/openai/v1/chat/completions", ("api-key", "k-123"), "max_completion_tokens"),
    (AZURE, "prod-4o", ProviderConfig(base_url="https://r.openai.azure.com/openai", bearer_token=Secret("entra"),
                                      api_version="preview"),
     "https://r.openai.azure.com/openai/v1/chat/completions?api-version=preview",
     ("Authorization", "Bearer entra"), "max_completion_tokens"),
    (AZURE, "my deployment", ProviderConfig(base_url="https://r.openai.azure.com", api_key=KEY,
                                            bearer_token=Secret("entra"), api_version="2025-04-01-preview"),
     "https://r.openai.azure.com/openai/deployments/my%20deployment/chat/completions?api-version=2025-04-01-preview",
     ("Authorization", "Bearer entra"), "max_completion_tokens"),
    (XAI, "xai:grok-4", ProviderConfig(api_key=KEY), "https://api.x.ai/v1/chat/completions",
     ("Authorization", "Bearer k-123"), "max_completion_tokens"),
    (XAI, "grok-3-mini", ProviderConfig(api_key=KEY, base_url="https://eu.api.x.ai/v1"),
     "https://eu.api.x.ai/v1/chat/completions", ("Authorization", "Bearer k-123"), "max_completion_tokens"),
    (DOCKER, "docker:ai/smollm2", ProviderConfig(), "http://localhost:12434/engines/v1/chat/completions",
     None, "max_tokens"),
    (DOCKER, "ai/smollm2:360M-Q4_K_M", ProviderConfig(base_url="http://localhost:12434/engines/llama.cpp/v1"),
     "http://localhost:12434/engines/llama.cpp/v1/chat/completions", None, "max_tokens"),
    (OPENAI_COMPATIBLE, "meta-llama/Llama-3.1-8B-Instruct", ProviderConfig(base_url="http://127.0.0.1:8000/v1"),
     "http://127.0.0.1:8000/v1/chat/completions", None, "max_tokens"),
    (OPENAI_COMPATIBLE, "openai_compatible:qwen", ProviderConfig(base_url="https://openrouter.ai/api/v1", api_key=KEY),
     "https://openrouter.ai/api/v1/chat/completions", ("Authorization", "Bearer k-123"), "max_tokens"),
]


@pytest.mark.parametrize(("dialect", "model", "cfg", "url", "auth", "max_field"), ENCODE_CASES)
def test_encode_golden(dialect: Any, model: str, cfg: ProviderConfig, url: str, auth: tuple[str, str] | None,
                       max_field: str) -> None:
    """Each configuration addresses its server, authenticates its way and names max tokens its way."""
    r = dialect.encode_request(_req(model, max_tokens=50), cfg).unwrap()
    assert r.method == "POST"
    assert r.url == url
    present = {k.lower() for k in r.headers} & {"authorization", "api-key"}
    assert present == ({auth[0].lower()} if auth else set())
    if auth:
        assert r.headers[auth[0]] == auth[1]
    body = json.loads(r.body)
    prefix, _, rest = model.partition(":")
    expected_model = rest if prefix == dialect.name else model
    assert body == {"model": expected_model, "messages": [{"role": "user", "content": "hi"}], max_field: 50}


def test_entra_token_wins_over_key() -> None:
    """With both an Entra token and a key, Azure gets only the bearer token (never two credentials)."""
    cfg = ProviderConfig(base_url="https://r.openai.azure.com", api_key=KEY, bearer_token=Secret("entra"))
    r = AZURE.encode_request(_req("d"), cfg).unwrap()
    assert r.headers["Authorization"] == "Bearer entra"
    assert "api-key" not in r.headers
    assert "entra" not in repr(cfg) and Secret("entra") in cfg.secrets()


def test_docker_model_keeps_its_namespace() -> None:
    """`docker:ai/smollm2` and bare `ai/smollm2` both reach the runner as `ai/smollm2`."""
    for s in ("docker:ai/smollm2", "ai/smollm2", "dmr:ai/smollm2", "docker/ai/smollm2"):
        ref = parse_model(s).unwrap()
        assert (ref.provider, ref.model) == ("docker", "ai/smollm2")
        body = json.loads(DOCKER.encode_request(_req(ref.model), ProviderConfig()).unwrap().body)
        assert body["model"] == "ai/smollm2"


@pytest.mark.parametrize(
    ("dialect", "cfg", "kind", "needle"),
    [
        (AZURE, ProviderConfig(api_key=KEY), ErrorKind.INVALID_REQUEST, "base URL"),
        (OPENAI_COMPATIBLE, ProviderConfig(), ErrorKind.INVALID_REQUEST, "base URL"),
        (AZURE, ProviderConfig(base_url="https://r.openai.azure.com"), ErrorKind.AUTHENTICATION, "API key"),
        (XAI, ProviderConfig(), ErrorKind.AUTHENTICATION, "API key"),
        (DOCKER, ProviderConfig(base_url="http://10.0.0.5:12434/engines/v1"), ErrorKind.INVALID_REQUEST, "plain http"),
    ],
)
def test_encode_refusals(dialect: Any, cfg: ProviderConfig, kind: ErrorKind, needle: str) -> None:
    """A missing endpoint, key or a plain-http remote is a clear Failure before anything is sent."""
    r = dialect.encode_request(_req("m"), cfg)
    assert isinstance(r, Failure)
    assert r.failure().kind is kind and needle in r.failure().message


def test_registry_rows() -> None:
    """Every configuration is a registered row, and each is the one OpenAI dialect class."""
    for name, d in (("azure", AZURE), ("xai", XAI), ("docker", DOCKER), ("openai_compatible", OPENAI_COMPATIBLE)):
        assert DIALECTS[name] is d and type(d) is type(OPENAI) and d.name == name


def test_env_rows() -> None:
    """The documented variables configure each provider; MODEL_RUNNER_HOST gets the engine path."""
    env = {"AZURE_OPENAI_API_KEY": "az", "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
           "OPENAI_API_VERSION": "2024-10-21", "XAI_API_KEY": "xk", "MODEL_RUNNER_HOST": "http://localhost:12434",
           "OPENAI_COMPATIBLE_BASE_URL": "http://127.0.0.1:8000/v1", "OPENAI_COMPATIBLE_API_KEY": "ck"}
    p = LlmConfig.from_env(env).providers
    assert (p["azure"].base_url, p["azure"].api_version, p["azure"].api_key) == (
        "https://r.openai.azure.com", "2024-10-21", Secret("az"))
    assert p["xai"].api_key == Secret("xk") and p["xai"].base_url is None
    assert p["docker"].base_url == "http://localhost:12434/engines/v1"
    assert (p["openai_compatible"].base_url, p["openai_compatible"].api_key) == ("http://127.0.0.1:8000/v1", Secret("ck"))
    assert LlmConfig.from_env({"DMR_BASE_URL": "http://h:1/engines/llama.cpp/v1"}).providers["docker"].base_url == (
        "http://h:1/engines/llama.cpp/v1")


# -- decode ------------------------------------------------------------------------------------

_SAFE = {"filtered": False, "severity": "safe"}
AZURE_BODY = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 7, "model": "gpt-4o-2024-08-06",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": _SAFE, "violence": _SAFE}}],
    "choices": [{"index": 0, "finish_reason": "content_filter", "message": {"role": "assistant", "content": None},
                 "content_filter_results": {"hate": _SAFE, "violence": {"filtered": True, "severity": "high"}}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9},
}
XAI_BODY = {
    "id": "x1", "object": "chat.completion", "created": 8, "model": "grok-3-mini",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "4", "reasoning_content": "2+2 is 4"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 105,
              "completion_tokens_details": {"reasoning_tokens": 94}, "num_sources_used": 0},
}


def test_decode_azure_content_filter_finish() -> None:
    """finish_reason content_filter keeps both filter annotations, categories included."""
    r = AZURE.decode_response(HttpResponse(200, Headers(), json.dumps(AZURE_BODY).encode())).unwrap()
    assert r.finish_reason is FinishReason.CONTENT_FILTER and r.raw_finish_reason == "content_filter"
    assert r.provider_metadata["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    assert r.provider_metadata["prompt_filter_results"] == AZURE_BODY["prompt_filter_results"]
    assert r.text == "" and r.provider == "azure"


def test_decode_xai_reasoning_and_usage() -> None:
    """Grok's reasoning_content is a ReasoningPart and its separate reasoning tokens join completion."""
    r = XAI.decode_response(HttpResponse(200, Headers(), json.dumps(XAI_BODY).encode())).unwrap()
    assert r.message.content == (ReasoningPart(text="2+2 is 4"), TextPart("4"))
    assert r.text == "4" and r.reasoning == "2+2 is 4"
    assert r.usage == Usage(prompt_tokens=10, completion_tokens=95, total_tokens=105, reasoning_tokens=94)
    # OpenAI's own accounting already includes them
    o = OPENAI.decode_response(HttpResponse(200, Headers(), json.dumps(XAI_BODY).encode())).unwrap()
    assert o.usage.completion_tokens == 1


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("dialect", [AZURE, XAI, DOCKER, OPENAI_COMPATIBLE])
def test_reasoning_fields_for_every_config(dialect: Any, field: str) -> None:
    """Both reasoning spellings surface as ReasoningPart, streamed or not, for every configuration."""
    body = {"id": "r", "created": 1, "model": "m", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "A", field: "R"}}]}
    whole = dialect.decode_response(HttpResponse(200, Headers(), json.dumps(body).encode())).unwrap()
    assert whole.reasoning == "R" and whole.text == "A"
    frames = [{"id": "r", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {field: "R"}}]},
              {"id": "r", "choices": [{"index": 0, "delta": {"content": "A"}, "finish_reason": "stop"}]}]
    raw = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames) + b"data: [DONE]\n\n"
    assert decode_stream(dialect.name, [raw]).unwrap().message == whole.message


# (dialect, status, headers, body) -> (kind, code, substring of message)
ERROR_CASES = [
    (AZURE, 401, {}, {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong "
                                                        "API endpoint."}},
     ErrorKind.AUTHENTICATION, "401", "Access denied"),
    (AZURE, 404, {}, {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does "
                                                                       "not exist."}},
     ErrorKind.NOT_FOUND, "DeploymentNotFound", "deployment"),
    (AZURE, 404, {}, {"error": {"code": "404", "message": "Resource not found"}}, ErrorKind.NOT_FOUND, "404",
     "Resource not found"),
    (AZURE, 400, {}, {"error": {"code": "BadRequest", "message": "API version not supported"}},
     ErrorKind.INVALID_REQUEST, "BadRequest", "API version"),
    (AZURE, 429, {"retry-after": "6"}, {"error": {"code": "429", "message": "Requests ... exceeded token rate limit"}},
     ErrorKind.RATE_LIMIT, "429", "rate limit"),
    (AZURE, 400, {}, {"error": {"message": "The response was filtered", "type": None, "param": "prompt",
                                "code": "content_filter", "status": 400,
                                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                                    "hate": _SAFE, "jailbreak": {"filtered": False, "detected": False},
                                    "violence": {"filtered": True, "severity": "medium"},
                                    "sexual": {"filtered": True, "severity": "low"}}}}},
     ErrorKind.CONTENT_FILTER, "content_filter", "(filtered: sexual, violence)"),
    (AZURE, 400, {}, {"error": {"message": "blocked", "code": "SomethingNew",
                                "innererror": {"code": "ResponsibleAIPolicyViolation"}}},
     ErrorKind.CONTENT_FILTER, "SomethingNew", "blocked"),
    (XAI, 400, {}, {"code": "Client specified an invalid argument",
                    "error": "Incorrect API key provided: xa***yz. You can obtain an API key from https://console.x.ai."},
     ErrorKind.AUTHENTICATION, None, "Incorrect API key"),
    (XAI, 404, {}, {"code": "Some requested entity was not found", "error": "The model grok-9 does not exist"},
     ErrorKind.NOT_FOUND, None, "grok-9"),
    (XAI, 429, {"retry-after": "1"}, {"code": "Some resource has been exhausted", "error": "Too many requests"},
     ErrorKind.RATE_LIMIT, None, "Too many"),
    (DOCKER, 404, {"content-type": "text/plain"}, "model not found\n", ErrorKind.NOT_FOUND, None, "model not found"),
    (DOCKER, 500, {}, {"error": {"code": 500, "message": "failed to load model", "type": "server_error"}},
     ErrorKind.PROVIDER, "500", "failed to load"),
    (OPENAI_COMPATIBLE, 502, {"content-type": "text/html"}, "<html><body>Bad Gateway</body></html>",
     ErrorKind.PROVIDER, None, "HTML"),
    (OPENAI_COMPATIBLE, 400, {}, {"object": "error", "message": "max_tokens is too large", "type": "BadRequestError",
                                  "code": 400}, ErrorKind.INVALID_REQUEST, None, "max_tokens"),
]


@pytest.mark.parametrize(("dialect", "status", "headers", "body", "kind", "code", "needle"), ERROR_CASES)
def test_error_mapping(dialect: Any, status: int, headers: dict[str, str], body: Any, kind: ErrorKind,
                       code: str | None, needle: str) -> None:
    """Each server's error bodies map to the right kind, code and a message that says why."""
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    err = dialect.decode_response(HttpResponse(status, Headers(headers), raw)).failure()
    assert err.kind is kind, err
    assert err.status == status and err.provider == dialect.name
    if code is not None:
        assert err.code == code
    assert needle in err.message
    if status == 429:
        assert err.retry_after is not None and err.is_retryable()


def test_prompt_filtered_without_choices() -> None:
    """A 200 whose prompt was filtered (no choices) is a content_filter error naming the categories."""
    body = {"id": "", "choices": [], "prompt_filter_results": [
        {"prompt_index": 0, "content_filter_results": {"self_harm": {"filtered": True, "severity": "high"}}}]}
    err = AZURE.decode_response(HttpResponse(200, Headers(), json.dumps(body).encode())).failure()
    assert err.kind is ErrorKind.CONTENT_FILTER and "self_harm" in err.message and "self_harm" in (err.raw or "")


# -- properties --------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def _grok_frames(reasoning: list[str], answer: list[str], usage: dict[str, Any]) -> bytes:
    head = {"id": "g1", "object": "chat.completion.chunk", "created": 5, "model": "grok-3-mini"}
    out = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": r}}]}
           for r in reasoning]
    out += [{**head, "choices": [{"index": 0, "delta": {"content": a}}]} for a in answer]
    out.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append({**head, "choices": [], "usage": usage})
    return b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in out) + b"data: [DONE]\n\n"


@settings(max_examples=100, deadline=None)
@given(reasoning=st.lists(_text, max_size=4), answer=st.lists(_text, max_size=4),
       rt=st.integers(0, 500), ct=st.integers(0, 500), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_grok_stream_folds_to_the_response(reasoning: list[str], answer: list[str], rt: int, ct: int,
                                            cuts: list[int]) -> None:
    """Any split of a reasoning_content stream folds to the non-streamed decode of the same content."""
    usage = {"prompt_tokens": 3, "completion_tokens": ct, "total_tokens": 3 + ct + rt,
             "completion_tokens_details": {"reasoning_tokens": rt}}
    raw = _grok_frames(reasoning, answer, usage)
    streamed = decode_stream("xai", split_at(raw, cuts)).unwrap()
    message: dict[str, Any] = {"role": "assistant", "content": "".join(answer)}
    if "".join(reasoning):
        message["reasoning_content"] = "".join(reasoning)
    body = {"id": "g1", "object": "chat.completion", "created": 5, "model": "grok-3-mini", "usage": usage,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    whole = XAI.decode_response(HttpResponse(200, Headers(), json.dumps(body).encode())).unwrap()
    assert streamed == whole
    assert streamed.usage.completion_tokens == ct + rt and streamed.usage.reasoning_tokens == rt


@settings(max_examples=100, deadline=None)
@given(reasoning=_text, answer=_text)
def test_reasoning_round_trip(reasoning: str, answer: str) -> None:
    """decode(encode-on-the-wire(x)) == x for reasoning and answer text, in every configuration."""
    body = {"id": "r", "created": 1, "model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": answer, "reasoning_content": reasoning}}]}
    for d in (AZURE, XAI, DOCKER, OPENAI_COMPATIBLE):
        r = d.decode_response(HttpResponse(200, Headers(), json.dumps(body).encode())).unwrap()
        assert (r.reasoning, r.text) == (reasoning, answer)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), status=st.sampled_from([200, 400, 401, 404, 429, 500]))
def test_decoders_total(data: bytes, status: int) -> None:
    """Arbitrary bytes are a Result (never an exception) for every configuration, streamed or not."""
    for d in (AZURE, XAI, DOCKER, OPENAI_COMPATIBLE):
        assert isinstance(d.decode_response(HttpResponse(status, Headers(), data)), Success | Failure)
        st_ = d.stream_start()
        st_, _ = d.stream_feed(st_, data)
        assert isinstance(d.stream_finish(st_), Success | Failure)


def test_tools_encode_the_same_everywhere() -> None:
    """Tool definitions are the OpenAI shape for every configuration (one encoder, not copies)."""
    req = _req("m", tools=(ToolSpec(name="get_weather", parameters={"type": "object", "properties": {}}),),
               tool_choice="required")
    bodies = [json.loads(d.encode_request(req, ProviderConfig(base_url="https://h.example/v1", api_key=KEY))
                         .unwrap().body) for d in (OPENAI, AZURE, XAI, DOCKER, OPENAI_COMPATIBLE)]
    assert all(b["tools"] == bodies[0]["tools"] and b["tool_choice"] == "required" for b in bodies)
