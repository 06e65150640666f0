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
  engine's ``id``, ``function.index`` and the arguments as an object (convertToolCallsToOllamaFormat).
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

from ._content import decide, split_for_stream, stable_id
from ._gojson import ANY, MAP, GoError, GoList, GoStruct, S, read_request
from ._jsonenc import dumps
from ._server import Call, endpoint, send_json, send_stream
from .docker_llamacpp import not_pulled

__all__ = ["add_routes"]

# model -> (architecture, parameters, quantization) as the runner's model config reports them
DETAILS: dict[str, tuple[str, str, str]] = {
    "ai/smollm2": ("llama", "361.82 M", "IQ2_XXS/Q4_K_M"), "ai/llama3.2": ("llama", "3.21 B", "IQ2_XXS/Q4_K_M"),
    "ai/qwen3": ("qwen3", "8.19 B", "IQ2_XXS/Q4_K_M"), "ai/gemma3": ("gemma3", "3.88 B", "MOSTLY_Q4_K_M"),
    "ai/mistral": ("llama", "7.25 B", "IQ2_XXS/Q4_K_M"),
}
CREATED = 1_742_816_981  # the models' creation time (Unix seconds), fixed so answers are deterministic


def _now() -> str:
    # Go's time.Time marshals as RFC 3339 with nanoseconds
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _go_error(status: int, text: str) -> web.Response:
    # net/http's http.Error: text/plain, the message and a newline
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


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
        for name, (arch, params, quant) in DETAILS.items():
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
        return _go_error(400, f"Invalid request: {e}")
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


def _tool_call(seed: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": stable_id(seed, name, n=32), "function": {"index": 0, "name": name, "arguments": args}}


def make_chat(pulled: Any) -> Any:
    """The ``POST /api/chat`` handler, given the Docker fake's store lookup (``pulled(request, model)``)."""

    @endpoint("chat", auth=False)
    async def chat(call: Call) -> web.StreamResponse:
        read = _problem(call.request, call.raw, pulled)
        if isinstance(read, web.StreamResponse):
            return read
        body, model, stream = read
        msgs = body.get("messages") or []
        prompt = next((m.get("content") or "" for m in reversed(msgs) if m.get("role") == "user"), "")  # Go: a string
        tools = [(t["function"]["name"], t["function"].get("parameters") or {})
                 for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)
                 and isinstance(t["function"].get("name"), str)]
        options = body.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        d = decide(prompt=prompt, tools=tools, max_tokens=limit if isinstance(limit, int) and limit > 0 else None)
        seed = stable_id({k: v for k, v in body.items() if k != "stream"})
        calls = [_tool_call(seed, d.tool_name, d.tool_args or {})] if d.tool_name else []
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": d.text}
            if calls:
                message["tool_calls"] = calls
            return await send_json(call.request, {"model": model, "created_at": _now(), "message": message,
                                                  "done": True}, call.fault)
        lines: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]  # the role-only first chunk
        lines += [{"role": "assistant", "content": p} for p in split_for_stream(d.text)]
        if calls:
            lines.append({"role": "assistant", "content": "", "tool_calls": calls})
        lines.append({"role": "assistant", "content": ""})  # the finish-only chunk
        frames = [dumps({"model": model, "created_at": _now(), "message": m, "done": False}).encode() + b"\n"
                  for m in lines]
        frames.append(dumps({"model": model, "created_at": _now(), "message": {"role": "", "content": ""},
                                  "done": True}).encode() + b"\n")
        return await send_stream(call.request, frames, content_type="application/json", fault=call.fault,
                                 error_frame=lambda: b'{"error":"Internal server error"}\n')

    return chat


def add_routes(app: web.Application, pulled: Any) -> None:
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/tags", make_tags(pulled))
    app.router.add_post("/api/chat", make_chat(pulled))
