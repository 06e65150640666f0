"""Docker Model Runner's Ollama-compatible API (docs.docker.com "DMR REST API", "Ollama-compatible API";
Ollama clients use the runner's bare origin), written from the runner's own translation layer,
docker/model-runner ``pkg/ollama/http_handler.go`` and ``api.go``.

The runner is not Ollama: it translates ``/api/chat`` into an OpenAI chat completion on its own engine
and translates the answer back, so what it sends is narrower than Ollama's:

* ``GET /api/version`` → ``{"version": "0.1.0"}``; ``GET /api/tags`` → the pulled models, each tag with
  ``size`` 0 and ``details`` ``{format: "gguf", family, families, parameter_size, quantization_level}``.
* ``POST /api/chat`` → one ``{"model", "created_at", "message": {role, content[, tool_calls][, thinking]},
  "done": true}`` with **no** ``done_reason``, counts or durations (convertChatResponse); streamed (the
  default) as ``application/json`` lines, one per OpenAI chunk (its first, role-only chunk and its last,
  finish-only chunk give lines with empty content), then ``{"model", "created_at", "message":
  {"role": "", "content": ""}, "done": true}`` (Go marshals the zero ``Message``). Tool calls carry the
  engine's ``id``, ``function.index`` and the arguments as an object (convertToolCallsToOllamaFormat); the
  engine's ``reasoning_content`` is ``thinking``. Both are json.NewEncoder's bytes (HTML-escaped, a newline).
* The answer is the engine's: the request is translated as ``handleChat`` does (convertMessages: images as
  ``image_url`` parts, a tool call's object arguments as JSON text; the tools; the options that have an
  OpenAI name, ``num_predict`` as ``max_tokens``) and answered by the Docker fake's llama-server layer (its
  reading of the request and its answer), so a conversation reads the same here as on
  ``/engines/v1/chat/completions``. A refusal of the engine's comes back as ``{"error": message}`` (sniffed
  as text/plain: the converter sets its type after the status), or, streaming, as the status alone.
* The body is read by Go's ``encoding/json`` into the runner's ``ChatRequest`` (``name`` wins over ``model``):
  a syntax error, an empty body (``EOF``), a non-object or a field of the wrong JSON type is 400, Go's
  ``http.Error`` text ``Invalid request: `` and Go's own words; ``keep_alive`` that is neither a string nor a
  number stops the decoding with its type's ``keep_alive must be a string or number, got …``.
* The translated request meets the scheduler's checks: no model → 400 ``model is required``, a model not
  pulled → 404 ``error while getting model: …``. Not streaming, the converter passes that plain text through;
  streaming (the default), its writer keeps only ``data:`` lines, so the client gets the status and
  ``http.Error``'s headers with an empty body.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from aiohttp import web

from ._content import stable_id
from ._gojson import ANY, MAP, GoError, GoList, GoStruct, S, go_json, go_json_line, read_request
from ._server import Call, endpoint, send_json, send_stream
from .docker_llamacpp import (
    CONTEXT_EXCEEDED,
    JSON_TYPE,
    LLAMA_HEADERS,
    answer,
    chat_params,
    completion,
    completion_id,
    context_window,
    go_error,
    model_name,
    not_pulled,
    stream_frames,
)
from .docker_llamacpp import _Refusal as LlamaRefusal

__all__ = ["add_routes"]

# model -> (architecture, parameters, quantization, size) as the runner's model config reports them
DETAILS: dict[str, tuple[str, str, str, str]] = {
    "ai/smollm2": ("llama", "361.82 M", "IQ2_XXS/Q4_K_M", "256.35 MiB"),
    "ai/llama3.2": ("llama", "3.21 B", "IQ2_XXS/Q4_K_M", "1.87 GiB"),
    "ai/qwen3": ("qwen3", "8.19 B", "IQ2_XXS/Q4_K_M", "4.68 GiB"),
    "ai/gemma3": ("gemma3", "3.88 B", "MOSTLY_Q4_K_M", "2.31 GiB"),
    "ai/mistral": ("llama", "7.25 B", "IQ2_XXS/Q4_K_M", "4.07 GiB"),
}
CREATED = 1_742_816_981  # the models' creation time (Unix seconds), fixed so answers are deterministic


def _now() -> str:
    # Go's time.Time marshals as RFC 3339 with nanoseconds
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


@endpoint("models", auth=False, content=False)
async def version(call: Call) -> web.StreamResponse:
    return await send_json(call.request, {"version": "0.1.0"}, call.fault)


def make_tags(pulled: Any) -> Any:
    """``GET /api/tags`` (``handleListModels``): the store's models, one entry per tag, given the Docker fake's
    store lookup (``pulled(request, model)``: a model a test removed is not listed)."""

    @endpoint("models", auth=False, content=False)
    async def tags(call: Call) -> web.StreamResponse:
        created = datetime.datetime.fromtimestamp(CREATED, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        models = []
        for name, (arch, params, quant, _) in DETAILS.items():
            if not pulled(call.request, name):
                continue
            tag = name + ":latest"
            models.append({"name": tag, "model": tag, "modified_at": created, "size": 0,
                           "digest": "sha256:" + stable_id(name, n=64),
                           "details": {"format": "gguf", "family": arch, "families": [arch], "parameter_size": params,
                                       "quantization_level": quant}})
        return await send_json(call.request, {"models": models}, call.fault)

    return tags


# The runner's own request types (pkg/ollama/api.go), as ``json.NewDecoder(r.Body).Decode(&req)`` reads them
_TOOL_CALL = GoStruct("ToolCall", "ollama.ToolCall", {"id": S, "type": S, "function": GoStruct(
    "FunctionCall", "ollama.FunctionCall", {"index": "int", "name": S, "arguments": ANY})})
_MESSAGE = GoStruct("Message", "ollama.Message", {
    "role": S, "content": S, "images": GoList(S, "[]string"), "tool_calls": GoList(_TOOL_CALL, "[]ollama.ToolCall"),
    "tool_call_id": S, "thinking": S})
_TOOL = GoStruct("Tool", "ollama.Tool", {"type": S, "function": GoStruct(
    "ToolFunction", "ollama.ToolFunction", {"name": S, "description": S, "parameters": MAP})})
CHAT_REQUEST = GoStruct("ChatRequest", "ollama.ChatRequest", {
    "name": S, "model": S, "messages": GoList(_MESSAGE, "[]ollama.Message"), "tools": GoList(_TOOL, "[]ollama.Tool"),
    "stream": "bool", "think": ANY, "keep_alive": ANY, "options": MAP})


def _keep_alive_problem(body: dict[str, Any]) -> str | None:
    """``OllamaKeepAlive.UnmarshalJSON``: a string or a number, else its error (which stops the decoding)."""
    keep = body.get("keep_alive")
    if keep is None or isinstance(keep, str) or (isinstance(keep, int | float) and not isinstance(keep, bool)):
        return None
    return f"keep_alive must be a string or number, got {json.dumps(keep, separators=(',', ':'))}"


def _problem(request: web.Request, raw: bytes, pulled: Any) -> tuple[dict[str, Any], str, bool] | web.Response:
    """``handleChat`` up to the scheduler's answer: the request, its model and whether it streams, or what the
    client receives instead — the decoder's ``Invalid request: …`` (400), or the scheduler's refusal of the
    translated request (``handleOpenAIInference``: ``model is required``, a model not pulled). That refusal
    comes back through the runner's response converters: the non-stream one passes a body that is not an
    OpenAI error through as it is (Go sniffs it as text/plain); the streaming writer keeps only ``data:``
    lines, so a streamed refusal is its status and ``http.Error``'s headers with an empty body."""
    try:
        body = read_request(raw, CHAT_REQUEST, _keep_alive_problem)
    except GoError as e:
        return go_error(400, f"Invalid request: {e}")
    model = body.get("name") or body.get("model") or ""
    stream = body.get("stream") is not False
    refusal = (400, "model is required") if model == "" else None if pulled(request, model) else (404, not_pulled(model))
    if refusal is None:
        return body, model, stream
    status, text = refusal
    if stream:
        return web.Response(status=status, headers={"Content-Type": "text/plain; charset=utf-8",
                                                    "X-Content-Type-Options": "nosniff"})
    return web.Response(status=status, body=text.encode() + b"\n", content_type="text/plain", charset="utf-8")


_OPTIONS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "num_predict": "max_tokens",
            "stop": "stop", "seed": "seed", "presence_penalty": "presence_penalty",
            "frequency_penalty": "frequency_penalty"}
"""``mapOllamaOptionsToOpenAI``: the options that have an OpenAI name, passed as they are."""


def _to_openai(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """``handleChat``'s translation: ``convertMessages`` (images as ``image_url`` parts after the text, a tool call's
    object arguments as JSON text, its ``type`` "function"), the tools as sent, the mapped options."""
    messages = []
    for m in body.get("messages") or ():
        out: dict[str, Any] = {"role": m.get("role", "")}
        images = m.get("images") or []
        if images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": m["content"]}] if m.get("content") else []
            parts += [{"type": "image_url", "image_url": {"url": _data_uri(i)}} for i in images]
            out["content"] = parts
        else:
            out["content"] = m.get("content", "")
        if m.get("tool_calls"):
            out["tool_calls"] = [_go_tool_call(tc) for tc in m["tool_calls"]]
        if m.get("tool_call_id"):
            out["tool_call_id"] = m["tool_call_id"]
        messages.append(out)
    req: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if body.get("tools"):  # []Tool marshalled again: every field, a missing one as Go's zero value
        req["tools"] = [{"type": t.get("type", ""), "function": {
            "name": fn.get("name", ""), "description": fn.get("description", ""), "parameters": fn.get("parameters")}}
            for t in body["tools"] for fn in (t.get("function") or {},)]
    for name, openai_name in _OPTIONS.items():
        if name in (body.get("options") or {}):
            req[openai_name] = body["options"][name]
    return req


def _go_tool_call(tc: dict[str, Any]) -> dict[str, Any]:
    """A ``ToolCall`` as convertMessages passes it on: ``type`` "function" when empty, object arguments as JSON
    text (json.Marshal's, keys sorted), every field marshalled (``index`` only when sent)."""
    fn = tc.get("function") or {}
    args = fn.get("arguments")
    if isinstance(args, dict):
        args = go_json(args).decode()
    function: dict[str, Any] = {"index": fn["index"]} if "index" in fn else {}
    function.update(name=fn.get("name", ""), arguments=args)
    return {"id": tc.get("id", ""), "type": tc.get("type") or "function", "function": function}


def _data_uri(image: str) -> str:
    """``ensureDataURIPrefix``: a bare base64 image gets a data URI (PNG, JPEG, GIF or WebP by its first bytes)."""
    image = image.strip()
    if image.startswith(("data:", "http://", "https://")):
        return image
    kind = next((t for prefix, t in (("iVBOR", "png"), ("/9j/", "jpeg"), ("R0lGOD", "gif"), ("UklGR", "webp"))
                 if image.startswith(prefix)), "jpeg")
    return f"data:image/{kind};base64,{image}"


def _ollama_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``convertToolCallsToOllamaFormat``: no ``type``, JSON-object arguments parsed, each call's index."""
    out = []
    for i, tc in enumerate(calls):
        fn = dict(tc.get("function") or {})
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            try:
                parsed = json.loads(args)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                fn["arguments"] = parsed
        out.append({**{k: v for k, v in tc.items() if k not in ("type", "index", "function")},
                    "function": {"index": i, **{k: v for k, v in fn.items() if k != "index"}}})
    return out


def _ollama_message(m: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI message or delta as the runner's ``Message``: role, content, tool calls, thinking."""
    out: dict[str, Any] = {"role": "assistant", "content": m.get("content") or ""}
    if m.get("tool_calls"):
        out["tool_calls"] = _ollama_calls(m["tool_calls"])
    if m.get("reasoning_content"):
        out["thinking"] = m["reasoning_content"]
    return out


def _engine_refusal(status: int, message: str, stream: bool) -> web.Response:
    """llama.cpp's refusal as the runner's converters pass it: without streaming ``{"error": message}`` (written
    after the status, so Go sniffs it as text/plain); streaming, the status and llama.cpp's headers alone."""
    if stream:
        return web.Response(status=status, headers={"Content-Type": JSON_TYPE, **LLAMA_HEADERS})
    return web.Response(status=status, body=go_json_line({"error": message}), content_type="text/plain", charset="utf-8")


def make_chat(pulled: Any) -> Any:
    """The ``POST /api/chat`` handler, given the Docker fake's store lookup (``pulled(request, model)``): the body
    read as the runner reads it, translated to a chat completion, answered by llama.cpp (the Docker fake's own
    llama-server layer: its checks and its answer) and translated back."""

    @endpoint("chat", auth=False)
    async def chat(call: Call) -> web.StreamResponse:
        read = _problem(call.request, call.raw, pulled)
        if isinstance(read, web.StreamResponse):
            return read
        body, model, stream = read
        req = _to_openai(body, model, stream)
        try:
            params = chat_params(req, vision=model_name(model) == "ai/gemma3")
        except LlamaRefusal as r:
            return _engine_refusal(r.status, r.message, stream)
        seed = stable_id(go_json(req).decode())
        a = answer(params, model, seed)
        if a["prompt_tokens"] > context_window(model):
            return _engine_refusal(400, CONTEXT_EXCEEDED, stream)
        if not stream:
            done = completion(completion_id(seed), 0, a, 1)
            return await send_json(call.request, {"model": model, "created_at": _now(),
                                                  "message": _ollama_message(done["choices"][0]["message"]),
                                                  "done": True}, call.fault, encode=go_json_line)
        lines = []
        for frame in stream_frames(completion_id(seed), 0, a, include_usage=False):
            data = frame.removeprefix(b"data: ").strip()
            if data == b"[DONE]":  # the zero Message, done
                lines.append(go_json_line({"model": model, "created_at": _now(), "message": {"role": "", "content": ""},
                                           "done": True}))
                continue
            choices = json.loads(data)["choices"]
            message = _ollama_message(choices[0]["delta"]) if choices else {"role": "assistant", "content": ""}
            lines.append(go_json_line({"model": model, "created_at": _now(), "message": message, "done": False}))
        return await send_stream(call.request, lines, content_type="application/json", fault=call.fault,
                                 error_frame=lambda: b'{"error":"Internal server error"}\n')

    return chat


def add_routes(app: web.Application, pulled: Any) -> None:
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/tags", make_tags(pulled))
    app.router.add_post("/api/chat", make_chat(pulled))
