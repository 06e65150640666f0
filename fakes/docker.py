"""A fake of Docker Model Runner (DMR): the runner's Go router and scheduler (docker/model-runner) in front of
llama.cpp's ``llama-server``, which answers the inference routes. The runner listens on
``http://localhost:12434`` from the host; no auth (any or no ``Authorization`` header is accepted).

Routes, what each answers, and from which source. ``{prefix}`` is each of ``/engines/v1``,
``/engines/{backend}/v1`` (``routeHandlers`` in ``pkg/inference/scheduling/http_handler.go``) and the ``/v1``
alias (``pkg/routing/router.go`` ``NewRouter``, ``pkg/middleware/alias.go``: ``/engines`` + the path, so
``/v1/{backend}/v1`` too):

* **The scheduler's checks** (``handleOpenAIInference``, :func:`.docker_llamacpp.dmr_problem`, one function
  for every inference route below), in Go's ``http.Error`` plain text: a backend other than ``llama.cpp`` →
  404 ``backend not found``; a body over 10 MiB → 400 ``request too large``; a body Go cannot read into
  ``{"model": string}`` → 400 ``invalid request``; no model → 400 ``model is required``; a model the store
  has not → 404 ``error while getting model: get model '"<ref>"': model not found`` (``GetLocal``).
* **Model references** (``pkg/distribution/distribution/client.go`` ``normalizeModelName``, the store's
  ``reference.ParseReference`` with the default org; :func:`.docker_llamacpp.normalize_ref`): a bare name
  gets ``ai/``, a missing tag ``latest``, the name is lowered, ``docker.io/`` and ``index.docker.io/`` are
  Docker Hub and a namespace-less Hub name is ``ai/``; ``smollm2``, ``SmolLM2``, ``ai/smollm2:latest`` and
  ``docker.io/ai/smollm2`` are all ``ai/smollm2``. The fake's store holds every ``ai/<name>`` with any tag
  (but those a test marks unknown, matched after normalisation); another namespace or registry, a
  reference that does not parse, a 64-hex ID or a digest is not pulled. Every route takes them.
* ``POST {prefix}/chat/completions``: :mod:`.docker_llamacpp` — llama.cpp's chat completion and stream.
* ``POST {prefix}/completions``: llama.cpp's ``/v1/completions`` (``oaicompat_completion_params_parse``,
  ``tokenize_input_prompts``, ``server_task_result_cmpl_final``/``_partial::to_json_oaicompat``): ``choices``
  (``text``, ``index``, ``logprobs`` null, ``finish_reason``), ``created``, ``model`` ``model.gguf``,
  ``system_fingerprint``, ``object`` ``text_completion``, ``usage``, ``id`` (``chatcmpl-``: llama.cpp's
  ``gen_chatcmplid`` names every completion), ``timings``; streamed as partial chunks, a final chunk with
  ``text`` ``""``, the usage and timings, then ``[DONE]``. The text is the chat route's answer to the prompt
  as one user message. A missing ``prompt``, ``echo``, ``best_of``, ``suffix`` or a bad prompt → 500
  ``server_error``; ``n`` over the slots → 400.
* ``POST {prefix}/embeddings``: llama.cpp's ``/v1/embeddings`` (the runner loads the model in embedding mode
  for them, so any pulled model embeds): ``input`` a string or an array of strings (or token arrays), one
  unit-length vector per input of the model's embedding size, ``encoding_format`` ``float`` or ``base64``,
  ``usage``; no ``input`` → 400 ``"input" or "content" must be provided``, an empty input → 400 ``Input
  content cannot be empty``, any other format → 400, in llama.cpp's error shape.
* ``POST {prefix}/messages`` and ``POST {prefix}/messages/count_tokens`` (the Anthropic SDK with the bare
  origin as its base URL posts ``/v1/messages``): llama.cpp's Anthropic Messages (``to_json_anthropic``,
  ``to_json_anthropic_stream``, the partial results' ``to_json_anthropic``): ``id`` ``chatcmpl-…``,
  ``model`` ``model.gguf``, ``usage`` ``{cache_read_input_tokens, input_tokens, output_tokens}``,
  ``stop_reason`` ``end_turn`` (also for a stop word, named in ``stop_sequence``) / ``max_tokens`` /
  ``tool_use``, tool ids of 32 alphanumerics, thinking blocks with an empty ``signature``; the stream (no
  ``ping``, no ``[DONE]``) sends each block's start and deltas, then all the closes (the thinking block's
  empty ``signature_delta`` first) and a ``message_delta`` whose usage is ``output_tokens`` alone; a failure
  mid-stream is ``event: error`` with llama.cpp's bare error object; ``count_tokens`` →
  ``{"input_tokens": n}``. What llama.cpp refuses is in its ``{"error": {"code", "message", "type"}}``.
* ``POST /anthropic/v1/messages`` and ``/anthropic/v1/messages/count_tokens``: DMR's own Anthropic layer
  (``pkg/anthropic/handler.go`` ``proxyToBackend``) answers bad JSON and a missing ``model`` with 400 and an
  unpulled model with 404 ``Model not found: <id>``, in Anthropic's error shape, then hands the body to the
  scheduler's ``/engines/v1/messages``: the same llama.cpp answer as above.
* ``GET {prefix}/models``: the store's models as the runner's model handler lists them (``handleModels``,
  ``ToOpenAI``: each model's first tag as its id, ``ai/smollm2:latest``, ``owned_by`` ``docker`` and its config
  as ``dmr`` metadata; any backend name: the route does not check it); ``GET {prefix}/models/{name...}``: one
  of them, the name normalised as the store does, or ``GetLocal``'s plain-text 404.
* Any other path under ``/engines/`` or ``/v1/`` — or a route with another method — is the scheduler's 404
  ``not found``; any other path elsewhere ServeMux's ``404 page not found`` (Go's ``http.Error`` text).
* Ollama-compatible API (``/api/version``, ``/api/tags``, ``/api/chat``): see :mod:`._docker_ollama`.

llama.cpp's answers carry ``Server: llama.cpp`` and nlohmann's compact UTF-8 JSON (``application/json;
charset=utf-8``); its streams ``X-Accel-Buffering: no``. Status faults answer in llama.cpp's error shape.

Not served: the scheduler's rerank and score routes (``/rerank``, ``/score``), image generation
(``/v1/images/generations``), the Responses API and the runner's ``/models`` management API.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import _docker_ollama, anthropic, docker_llamacpp
from ._content import count_tokens, split_for_stream, stable_id
from ._embeddings import as_base64, vector, wire_floats
from ._faults import Fault
from ._gojson import go_json_line
from ._jsonenc import compact_utf8
from ._prompt_cache import install
from ._server import Call, FakeSpec, endpoint, open_request, send_json
from .docker_llamacpp import (
    MODEL_FILE,
    PREFIXES,
    completion_id,
    dmr_problem,
    fault_response,
    llama_error,
    model_name,
    normalize_ref,
    not_pulled,
    pulled,
    scheduler_route,
    send_llama_json,
    send_llama_stream,
)
from .openai import Flavour

__all__ = ["FLAVOUR", "MODELS", "SPEC"]

NAME = "docker"
# model -> context window
MODELS: dict[str, int] = {"ai/smollm2": 8_192, "ai/llama3.2": 131_072, "ai/qwen3": 40_960, "ai/gemma3": 131_072,
                          "ai/mistral": 32_768}


def stream_error_frame() -> bytes:
    """A failure in an Anthropic stream: llama.cpp's ``format_anthropic_sse({"event": "error", "data":
    format_error_response(…)})`` — ``event: error`` and the bare error object —, and the stream ends."""
    return b'event: error\ndata: {"code":500,"message":"Internal server error","type":"server_error"}\n\n'


def _invalid(message: str, param: str | None, code: str | None) -> web.Response:
    return llama_error(400, message)


def _no_auth(request: web.Request) -> web.Response | None:
    return None


def _model_missing(model: str) -> web.Response:
    return docker_llamacpp.go_error(404, not_pulled(model))


def _usage(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion}


class _DockerFlavour(Flavour):
    def knows(self, model: str) -> bool:
        # the store's lookup: short names, tags, docker.io/ prefixes (docker_llamacpp.normalize_ref)
        ref = normalize_ref(model)
        return ref is not None and ref.startswith("ai/")


FLAVOUR = _DockerFlavour(
    NAME, MODELS, check_auth=_no_auth, model_missing=_model_missing, owned_by="docker", usage=_usage,
    family=r"ai/[a-z0-9._-]+(:[A-Za-z0-9._-]+)?", reasoning_family="", reasoning_rejects_max_tokens=False,
    invalid=_invalid,
)


def _openai_model(ref: str) -> dict[str, Any]:
    """``ToOpenAI`` of the stored model ``ref`` (normalised, ``ai/smollm2:latest``): its tag as the id, its creation
    time, and its config as ``dmr`` metadata (no ``context_window``: these configs set none; a model outside the
    fake's table of configs has none to show)."""
    out: dict[str, Any] = {"id": ref, "object": "model", "created": _docker_ollama.CREATED, "owned_by": "docker"}
    repo = ref.rpartition(":")[0]
    if repo in _docker_ollama.DETAILS:
        arch, params, quant, size = _docker_ollama.DETAILS[repo]
        out["dmr"] = {"architecture": arch, "parameters": params, "quantization": quant, "size": size}
    return out


@endpoint("models", content=False)
async def models(call: Call) -> web.StreamResponse:
    """``handleOpenAIGetModels``: the store's models (``RawList``), each as :func:`_openai_model`."""
    data = [_openai_model(repo + ":latest") for repo in MODELS if pulled(call.request, repo)]
    return await send_json(call.request, {"object": "list", "data": data}, call.fault, encode=go_json_line)


@endpoint("models", content=False)
async def model(call: Call) -> web.StreamResponse:
    """``handleOpenAIGetModel``: ``GetLocal`` of the rest of the path (normalised as the store does), or its 404."""
    name = call.request.match_info["name"]
    ref = normalize_ref(name)
    if ref is None or not pulled(call.request, name):
        return docker_llamacpp.go_error(404, not_pulled(name))
    return await send_json(call.request, _openai_model(ref), call.fault, encode=go_json_line)


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


async def _embeddings(request: web.Request, raw: bytes, body: dict[str, Any], model: str,
                      fault: Fault | None) -> web.StreamResponse:
    """llama.cpp's ``/v1/embeddings``, after DMR's checks."""
    if "input" not in body and "content" not in body:
        return llama_error(400, '"input" or "content" must be provided')
    inputs = _embedding_inputs(body.get("input", body.get("content")))
    if inputs is None:
        return llama_error(400, '"prompt" must be a string, a list of tokens, a list of mixed strings & tokens, '
                           'or a list of prompts')
    if not inputs or any(len(x) == 0 for x in inputs):
        return llama_error(400, "Input content cannot be empty")
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        return llama_error(400, "The format to return the embeddings in. Can be either float or base64")
    name = model_name(model)  # a tag picks a quantisation of the same model
    size = EMBEDDING_SIZES.get(name, 768)
    data, tokens = [], 0
    for i, x in enumerate(inputs):
        tokens += count_tokens(x) if isinstance(x, str) else len(x)
        v = vector(name, x if isinstance(x, str) else "\0tokens:" + ",".join(map(str, x)), size)
        data.append({"embedding": as_base64(v) if fmt == "base64" else wire_floats(v), "index": i,
                     "object": "embedding"})
    return await send_llama_json(request, {"model": model, "object": "list", "usage": {
        "prompt_tokens": tokens, "total_tokens": tokens}, "data": data}, fault)


embeddings = scheduler_route("embeddings", _embeddings)


# -- the Anthropic-compatible API ---------------------------------------------------------------


def _anthropic_error(status: int, type_: str, message: str) -> web.Response:
    # pkg/anthropic/handler.go writeAnthropicError: {"type": "error", "error": {"type", "message"}}
    return web.json_response({"type": "error", "error": {"type": type_, "message": message}}, status=status)


def _anthropic_layer_problem(request: web.Request, raw: bytes) -> web.Response | None:
    """DMR's own Anthropic layer (``/anthropic/…``, ``proxyToBackend``) before it hands the body to the
    scheduler: Go's ``json.Unmarshal`` into ``{"model": string}``, the model, ``GetLocal``."""
    model = docker_llamacpp.model_of(raw)
    if model is None:
        return _anthropic_error(400, "invalid_request_error", "Invalid JSON in request body")
    if not model:
        return _anthropic_error(400, "invalid_request_error", "Missing required field: model")
    if not pulled(request, model):
        return _anthropic_error(404, "not_found_error", "Model not found: " + model)
    return None


def _llama_refusal(body: dict[str, Any]) -> web.Response | None:
    """What llama.cpp's ``/v1/messages`` refuses, in its own error shape."""
    invalid = anthropic.validate_messages_body({"max_tokens": 4096, **body})
    return None if invalid is None else llama_error(invalid[0], invalid[2])


def _sse(event: str, data: dict[str, Any]) -> bytes:
    """``format_anthropic_sse``: ``event:`` and ``data:`` (nlohmann's compact UTF-8)."""
    return b"event: " + event.encode() + b"\ndata: " + compact_utf8(data) + b"\n\n"


def _anthropic_stream(mid: str, model: str, blocks: list[dict[str, Any]], reason: str, stop: str | None,
                      usage: dict[str, Any]) -> list[bytes]:
    """llama.cpp's events for the message: ``message_start`` with the first partial result, each block's
    ``content_block_start`` and deltas as its pieces come (``to_json_anthropic`` partial), then the final
    result's closes — the thinking block's empty ``signature_delta``, every ``content_block_stop`` in
    order — ``message_delta`` and ``message_stop`` (``to_json_anthropic_stream``); no ``ping``."""
    out = [_sse("message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "content": [], "model": model, "stop_reason": None,
        "stop_sequence": None, "usage": {**usage, "output_tokens": 0}}})]
    for i, b in enumerate(blocks):
        delta: list[dict[str, Any]]
        if b["type"] == "thinking":
            start: dict[str, Any] = {"type": "thinking", "thinking": ""}
            delta = [{"type": "thinking_delta", "thinking": p} for p in split_for_stream(b["thinking"])]
        elif b["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = [{"type": "text_delta", "text": p} for p in split_for_stream(b["text"])]
        else:
            start = {"type": "tool_use", "id": b["id"], "name": b["name"]}
            args = compact_utf8(b["input"]).decode()
            delta = [{"type": "input_json_delta", "partial_json": args[k:k + 8]} for k in range(0, len(args), 8)]
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": start}))
        out.extend(_sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d})
                   for d in delta)
    for i, b in enumerate(blocks):
        if b["type"] == "thinking":
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                "type": "signature_delta", "signature": ""}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": stop},
                                      "usage": {"output_tokens": usage["output_tokens"]}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


async def _llama_messages(request: web.Request, raw: bytes, body: dict[str, Any], model: str,
                          fault: Fault | None) -> web.StreamResponse:
    """llama.cpp's ``/v1/messages`` (``to_json_anthropic``, ``to_json_anthropic_stream``)."""
    refused = _llama_refusal(body)
    if refused is not None:
        return refused
    body = {"max_tokens": 4096, **body}  # llama.cpp's default max_tokens
    seed = stable_id({k: v for k, v in body.items() if k != "stream"})
    blocks, reason, stop, output = anthropic.answer(body, seed)
    blocks = [{**b, "signature": ""} if b["type"] == "thinking"
              else {**b, "id": docker_llamacpp.random_string(seed, "tool:" + b["name"])} if b["type"] == "tool_use"
              else b for b in blocks]
    reason = "end_turn" if reason == "stop_sequence" else reason  # llama.cpp: a stop word ends the turn
    usage = {"cache_read_input_tokens": 0, "input_tokens": anthropic.input_tokens(body), "output_tokens": output}
    mid = completion_id(seed)
    if not body.get("stream"):
        return await send_llama_json(request, {"id": mid, "type": "message", "role": "assistant", "content": blocks,
                                               "model": MODEL_FILE, "stop_reason": reason, "stop_sequence": stop,
                                               "usage": usage}, fault)
    return await send_llama_stream(request, _anthropic_stream(mid, MODEL_FILE, blocks, reason, stop, usage), fault,
                                   error_frame=stream_error_frame)


async def _llama_count_tokens(request: web.Request, raw: bytes, body: dict[str, Any], model: str,
                              fault: Fault | None) -> web.StreamResponse:
    """llama.cpp's ``/v1/messages/count_tokens``: ``{"input_tokens": n}``."""
    refused = _llama_refusal(body)
    if refused is not None:
        return refused
    return await send_llama_json(request, {"input_tokens": anthropic.input_tokens(body)}, fault)


def _anthropic_layer(endpoint_name: str, answer: docker_llamacpp.Answer) -> Any:
    """``/anthropic/v1/messages[/count_tokens]``: DMR's Anthropic layer's checks, then the scheduler's
    (:func:`.docker_llamacpp.dmr_problem`, which then pass) and llama.cpp's answer."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raw, fault, early = await open_request(request, endpoint_name, None, error_response=fault_response)
        if early is not None:
            return early
        refused = _anthropic_layer_problem(request, raw)
        if refused is None:
            refused, model = dmr_problem(request, raw)
        if refused is not None:
            return refused
        return await answer(request, raw, json.loads(raw), model, fault)

    return handler


def add_routes(app: web.Application) -> None:
    install(app)  # prompt-cache memory (cache: marked edit)
    docker_llamacpp.add_routes(app)  # chat and text completions: DMR's scheduler, then llama.cpp
    messages = scheduler_route("chat", _llama_messages)
    count = scheduler_route("count_tokens", _llama_count_tokens)
    for prefix in PREFIXES:  # routeHandlers, and AliasHandler's /v1
        app.router.add_get(prefix + "/models", models)
        app.router.add_get(prefix + "/models/{name:.+}", model)
        app.router.add_post(prefix + "/embeddings", embeddings)
        app.router.add_post(prefix + "/messages", messages)
        app.router.add_post(prefix + "/messages/count_tokens", count)
    _docker_ollama.add_routes(app, pulled)  # /api/version, /api/tags, /api/chat
    app.router.add_post("/anthropic/v1/messages", _anthropic_layer("chat", _llama_messages))
    app.router.add_post("/anthropic/v1/messages/count_tokens", _anthropic_layer("count_tokens", _llama_count_tokens))


SPEC = FakeSpec(NAME, "/engines/v1", add_routes, fault_response, stream_error_frame,
                not_found=docker_llamacpp.not_found)
