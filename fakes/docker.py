"""A fake of Docker Model Runner (DMR): the runner's Go router and scheduler (docker/model-runner) in front of
llama.cpp's ``llama-server``, which answers the inference routes. The runner listens on
``http://localhost:12434`` from the host; no auth (any or no ``Authorization`` header is accepted).

Routes, what each answers, and from which source:

* ``POST /engines/v1/chat/completions``, ``POST /engines/{backend}/v1/chat/completions`` and the ``/v1/…``
  alias (``pkg/routing/router.go`` ``NewRouter``, ``pkg/middleware/alias.go``,
  ``pkg/inference/scheduling/http_handler.go`` ``routeHandlers``): :mod:`.docker_llamacpp` — DMR's own
  checks in Go's plain text (``backend not found``, ``invalid request``, ``model is required``, ``error while
  getting model: get model '"<ref>"': model not found``), then llama.cpp's chat completion and stream
  (``tools/server/server-task.cpp``, ``server-common.cpp``, ``common/chat.cpp``): ``Server: llama.cpp``,
  ``chatcmpl-`` + 32 alphanumerics, ``model`` ``model.gguf``, ``system_fingerprint`` ``b9879-…``, usage with
  ``prompt_tokens_details``, ``timings``, ``reasoning_content``, llama.cpp's error bodies; no OpenAI
  headers or fields, no OpenAI range checks.
* ``GET /engines/v1/models``, ``GET /engines/{backend}/v1/models`` and ``GET /v1/models``: every known
  model, as the runner's model handler lists it (``handleModels``; any backend name: the route does not
  check it).
* ``POST /engines/v1/embeddings``, ``POST /engines/llama.cpp/v1/embeddings`` and ``POST /v1/embeddings``
  (another backend: 404 ``backend not found``): llama.cpp's ``/v1/embeddings`` (the runner loads the model
  in embedding mode for them, so any pulled model embeds): ``input`` a string or an array of strings (or
  token arrays), one unit-length vector per input (llama.cpp normalises by default) of the model's
  embedding size, ``encoding_format`` ``float`` or ``base64``, ``usage`` with ``prompt_tokens`` and
  ``total_tokens``; no ``input`` → 400 ``"input" or "content" must be provided``, an empty input → 400
  ``Input content cannot be empty``, any other format → 400, in llama.cpp's error shape.
* Any other path under ``/engines/`` or ``/v1/`` — or a route with another method — is the scheduler's
  404 ``not found``; any other path elsewhere ServeMux's ``404 page not found`` (Go's ``http.Error`` text).

Models are namespaced Docker Hub ids (``ai/smollm2``), optionally tagged (``ai/smollm2:360M-Q4_K_M``).

Anthropic-compatible API (docs "Anthropic-compatible API"; the Anthropic SDK's base URL is the bare
origin): ``POST /anthropic/v1/messages`` (stream or not) and ``POST /anthropic/v1/messages/count_tokens``.
DMR's own layer (docker/model-runner ``pkg/anthropic/handler.go``) answers bad JSON and a missing
``model`` with 400 and an unpulled model with 404 ``Model not found: <id>``, all in Anthropic's error
shape, then hands the body to llama.cpp's ``/v1/messages``, whose message carries ``usage``
``{cache_read_input_tokens, input_tokens, output_tokens}``, ``stop_reason`` ``end_turn`` (also for a stop
word, named in ``stop_sequence``) / ``max_tokens`` / ``tool_use``, thinking blocks with an empty
``signature``, and streams with no ``ping`` whose ``message_delta.usage`` has ``output_tokens`` only
(llama.cpp ``to_json_anthropic_final``/``_stream``). No ``x-api-key`` or ``anthropic-version`` is needed.

Ollama-compatible API (``/api/version``, ``/api/tags``, ``/api/chat``): see :mod:`._docker_ollama`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from . import _docker_ollama, anthropic, docker_llamacpp
from ._content import count_tokens, split_for_stream, stable_id
from ._embeddings import as_base64, vector, wire_floats
from ._faults import Fault
from ._jsonenc import compact
from ._prompt_cache import install
from ._server import NOT_JSON, Call, FakeSpec, endpoint, send_json, send_stream, state_of
from .openai import Flavour, answer_models

__all__ = ["FLAVOUR", "MODELS", "SPEC"]

NAME = "docker"
# model -> context window
MODELS: dict[str, int] = {"ai/smollm2": 8_192, "ai/llama3.2": 131_072, "ai/qwen3": 40_960, "ai/gemma3": 131_072,
                          "ai/mistral": 32_768}


# llama.cpp server's format_error_response: error type per status.
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          501: "not_supported_error", 503: "unavailable_error"}


def _llama_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The body llama.cpp's server (DMR's engine) sends: ``{"error": {"code", "message", "type"}}``."""
    type_ = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return web.json_response({"error": {"code": status, "message": message, "type": type_}}, status=status,
                             headers=headers)


def error_response(status: int, message: str, fault: Fault | None = None) -> web.Response:
    headers = {"Retry-After": fault.retry_after or "1"} if status == 429 and fault else None
    text = {429: "Too many requests", 503: "Loading model", 500: "Internal server error"}.get(status, message)
    return _llama_error(status, text, headers)


def stream_error_frame() -> bytes:
    return b'error: {"code":500,"message":"Internal server error","type":"server_error"}\n\n'


def _invalid(message: str, param: str | None, code: str | None) -> web.Response:
    return _llama_error(400, message)


def _no_auth(request: web.Request) -> web.Response | None:
    return None


def _model_missing(model: str) -> web.Response:
    return web.Response(status=404, text="model not found\n", content_type="text/plain")


def _usage(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion}


class _DockerFlavour(Flavour):
    def knows(self, model: str) -> bool:
        # a tag picks a quantisation of the same model
        return model.partition(":")[0] in self.models or re.fullmatch(self.family, model) is not None


FLAVOUR = _DockerFlavour(
    NAME, MODELS, check_auth=_no_auth, model_missing=_model_missing, owned_by="docker", usage=_usage,
    family=r"ai/[a-z0-9._-]+(:[A-Za-z0-9._-]+)?", reasoning_family="", reasoning_rejects_max_tokens=False,
    invalid=_invalid,
)


@endpoint("models", content=False)
async def models(call: Call) -> web.StreamResponse:
    return await answer_models(call, FLAVOUR)


# -- embeddings (llama.cpp's /v1/embeddings) -----------------------------------------------------

# model -> embedding size (the GGUF's ``embedding_length``; Docker Hub's ai/ model cards)
EMBEDDING_SIZES: dict[str, int] = {"ai/mxbai-embed-large": 1024, "ai/nomic-embed-text-v1.5": 768,
                                   "ai/all-minilm": 384, "ai/embeddinggemma": 768, "ai/smollm2": 960,
                                   "ai/llama3.2": 3072, "ai/qwen3": 4096, "ai/gemma3": 2560, "ai/mistral": 4096}


def _embedding_inputs(value: Any) -> list[str | list[int]] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) or (isinstance(v, list) and all(
            isinstance(t, int) and not isinstance(t, bool) for t in v)) for v in value):
        return list(value)
    return None


@endpoint("embeddings")
async def embeddings(call: Call) -> web.StreamResponse:
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return _llama_error(400, "Invalid JSON in request body")
    model = body.get("model")
    if not isinstance(model, str):  # the runner routes by the body's model: as its chat path answers
        return _llama_error(400, "Missing required parameter: 'model'.")
    if not FLAVOUR.knows(model) or model in state_of(call.request).unknown_models.get(NAME, ()):
        return _model_missing(model)
    if "input" not in body and "content" not in body:
        return _llama_error(400, '"input" or "content" must be provided')
    inputs = _embedding_inputs(body.get("input", body.get("content")))
    if inputs is None:
        return _llama_error(400, '"prompt" must be a string, a list of tokens, a list of mixed strings & tokens, '
                            'or a list of prompts')
    if not inputs or any(len(x) == 0 for x in inputs):
        return _llama_error(400, "Input content cannot be empty")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        return _llama_error(400, "The format to return the embeddings in. Can be either float or base64")
    name = model.partition(":")[0]  # a tag picks a quantisation of the same model
    size = EMBEDDING_SIZES.get(name, 768)
    data, tokens = [], 0
    for i, x in enumerate(inputs):
        tokens += count_tokens(x) if isinstance(x, str) else len(x)
        v = vector(name, x if isinstance(x, str) else "\0tokens:" + ",".join(map(str, x)), size)
        data.append({"embedding": as_base64(v) if fmt == "base64" else wire_floats(v), "index": i,
                     "object": "embedding"})
    return await send_json(call.request, {"model": model, "object": "list",
                                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}, "data": data},
                           call.fault)


# -- the Anthropic-compatible API ---------------------------------------------------------------


def _anthropic_error(status: int, type_: str, message: str) -> web.Response:
    # pkg/anthropic/handler.go writeAnthropicError: {"type": "error", "error": {"type", "message"}}
    return web.json_response({"type": "error", "error": {"type": type_, "message": message}}, status=status)


def _anthropic_problem(call: Call) -> web.Response | None:
    body = call.body
    if body is NOT_JSON or not isinstance(body, dict):
        return _anthropic_error(400, "invalid_request_error", "Invalid JSON in request body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _anthropic_error(400, "invalid_request_error", "Missing required field: model")
    if not FLAVOUR.knows(model) or model in state_of(call.request).unknown_models.get(NAME, ()):
        return _anthropic_error(404, "not_found_error", "Model not found: " + model)
    # what llama.cpp then refuses, DMR relays in llama.cpp's own error shape
    invalid = anthropic.validate_messages_body({"max_tokens": 4096, **body})
    return None if invalid is None else _llama_error(invalid[0], invalid[2])


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + compact(data) + b"\n\n"


def _anthropic_stream(mid: str, model: str, blocks: list[dict[str, Any]], reason: str, stop: str | None,
                      usage: dict[str, Any]) -> list[bytes]:
    """llama.cpp's to_json_anthropic_partial/_stream events for the same message."""
    out = [_sse("message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "content": [], "model": model, "stop_reason": None,
        "stop_sequence": None, "usage": {**usage, "output_tokens": 0}}})]
    for i, b in enumerate(blocks):
        delta: list[dict[str, Any]]
        if b["type"] == "thinking":
            start: dict[str, Any] = {"type": "thinking", "thinking": ""}
            delta = [{"type": "thinking_delta", "thinking": p} for p in split_for_stream(b["thinking"])]
            delta.append({"type": "signature_delta", "signature": ""})
        elif b["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = [{"type": "text_delta", "text": p} for p in split_for_stream(b["text"])]
        else:
            start = {"type": "tool_use", "id": b["id"], "name": b["name"]}
            delta = [{"type": "input_json_delta", "partial_json": json.dumps(b["input"])}]
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": start}))
        out.extend(_sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})
                   for d in delta)
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": stop},
                                      "usage": {"output_tokens": usage["output_tokens"]}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


@endpoint("chat", auth=False)
async def anthropic_messages(call: Call) -> web.StreamResponse:
    problem = _anthropic_problem(call)
    if problem is not None:
        return problem
    body = {"max_tokens": 4096, **call.body}  # llama.cpp's default max_tokens
    seed = stable_id({k: v for k, v in body.items() if k != "stream"})
    blocks, reason, stop, output = anthropic.answer(body, seed)
    blocks = [{**b, "signature": ""} if b["type"] == "thinking" else b for b in blocks]
    reason = "end_turn" if reason == "stop_sequence" else reason  # llama.cpp: a stop word ends the turn
    usage = {"cache_read_input_tokens": 0, "input_tokens": anthropic.input_tokens(body), "output_tokens": output}
    mid = "chatcmpl-" + seed[:32]
    if not body.get("stream"):
        return await send_json(call.request, {"id": mid, "type": "message", "role": "assistant", "content": blocks,
                                              "model": body["model"], "stop_reason": reason, "stop_sequence": stop,
                                              "usage": usage}, call.fault)
    return await send_stream(call.request, _anthropic_stream(mid, body["model"], blocks, reason, stop, usage),
                             content_type="text/event-stream", fault=call.fault, error_frame=stream_error_frame)


@endpoint("count_tokens", auth=False)
async def anthropic_count_tokens(call: Call) -> web.StreamResponse:
    problem = _anthropic_problem(call)
    if problem is not None:
        return problem
    return await send_json(call.request, {"input_tokens": anthropic.input_tokens(call.body)}, call.fault)


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory (cache: marked edit)
    docker_llamacpp.add_routes(app)  # chat completions: DMR's scheduler, then llama.cpp
    for prefix in ("/engines/v1", "/engines/{backend}/v1", "/v1"):  # routeHandlers, and AliasHandler's /v1
        app.router.add_get(prefix + "/models", models)
    for prefix in ("/engines/v1", "/v1"):
        app.router.add_post(prefix + "/embeddings", embeddings)
    for prefix in ("/engines/{backend}/v1", "/v1/{backend}/v1"):
        app.router.add_post(prefix + "/embeddings", _embeddings_on_backend)
    _docker_ollama.add_routes(app, FLAVOUR.knows)  # /api/version, /api/tags, /api/chat
    app.router.add_post("/anthropic/v1/messages", anthropic_messages)
    app.router.add_post("/anthropic/v1/messages/count_tokens", anthropic_count_tokens)


async def _embeddings_on_backend(request: web.Request) -> web.StreamResponse:
    """``/engines/{backend}/v1/embeddings``: a backend the runner does not have is its 404 first."""
    if request.match_info["backend"] not in docker_llamacpp.BACKENDS:
        return docker_llamacpp.go_error(404, "backend not found")
    return await embeddings(request)


SPEC = FakeSpec(NAME, "/engines/v1", add_routes, error_response, stream_error_frame,
                not_found=docker_llamacpp.not_found)
